//! The session's own timers: a small table keyed by what is due, so the next deadline
//! is the earliest entry, and each timer is set and cleared by name.

use std::time::Instant;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// The next heartbeat (a hello, until we have a session).
    Heartbeat,
    /// A heartbeat sent again while our session goes unanswered.
    Probe,
    /// The notice that the server has not answered at all yet.
    NoAnswer,
    /// The next line telling of received lines dropped here.
    TellDrops,
    /// The next line telling of datagrams ignored as forged.
    TellForged,
    /// Until when an ICMP error draws no new probe (a pause, not a wake-up).
    RefusedQuiet,
    /// Until when piped input waits for the answer to a command it sent (`/who`)
    /// before it leaves: the room answers every command with a notice.
    Answer,
}

/// How many kinds of [`Due`] there are: the table's size.
const KINDS: usize = Due::Answer as usize + 1;

/// When each [`Due`] is next due, if ever.
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    at: [Option<Instant>; KINDS],
}

impl Timers {
    /// Sets (or with `None`, clears) the timer for `due`.
    pub fn set(&mut self, due: Due, at: Option<Instant>) {
        self.at[due as usize] = at;
    }

    /// When `due` is due, if it is set.
    pub fn at(&self, due: Due) -> Option<Instant> {
        self.at[due as usize]
    }

    /// Whether `due` is set and due at `now`.
    pub fn is_due(&self, due: Due, now: Instant) -> bool {
        self.at(due).is_some_and(|at| now >= at)
    }

    /// The earliest of the timers `dues` that is set.
    pub fn next_of(&self, dues: &[Due]) -> Option<Instant> {
        dues.iter().filter_map(|&due| self.at(due)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_next_deadline_is_the_earliest_timer_set() {
        let t = Instant::now();
        let mut timers = Timers::default();
        let all = [
            Due::Heartbeat,
            Due::Probe,
            Due::NoAnswer,
            Due::TellDrops,
            Due::TellForged,
        ];
        assert_eq!(timers.next_of(&all), None);
        timers.set(Due::Heartbeat, Some(t + Duration::from_secs(5)));
        timers.set(Due::Probe, Some(t + Duration::from_secs(1)));
        timers.set(Due::TellForged, Some(t + Duration::from_secs(3)));
        assert_eq!(timers.next_of(&all), Some(t + Duration::from_secs(1)));
        assert_eq!(
            timers.next_of(&[Due::Heartbeat, Due::TellForged]),
            Some(t + Duration::from_secs(3)),
            "only the timers asked for"
        );
        assert!(timers.is_due(Due::Probe, t + Duration::from_secs(1)));
        assert!(!timers.is_due(Due::Heartbeat, t + Duration::from_secs(1)));
        timers.set(Due::Probe, None);
        assert_eq!(timers.next_of(&all), Some(t + Duration::from_secs(3)));
        assert_eq!(timers.at(Due::NoAnswer), None);
    }
}
