//! The lines of a session as the server numbered them, put back in order: each is
//! shown once, in its place; a gap is asked for again at once, and again every
//! [`ASK_AGAIN_AFTER`]; the lines after a gap wait for it, at most [`GIVE_UP_AFTER`],
//! then go on, and what never came is counted as lost. A loss at the tail shows when
//! the server's answer to a heartbeat names a number not seen yet. No I/O, no clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a gap waits before it is asked for again.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_millis(300);
/// How long the lines after a gap wait for it before it is given up on.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(1);
/// The most lines held while a gap is waited for; past it, later lines are dropped
/// (they can be asked for again once the gap is settled).
pub const HELD_MAX: usize = 512;

/// A line now in order: its bytes, and whether it was said before we joined.
pub type InOrder = (Vec<u8>, bool);

/// Numbered lines in, lines in order out.
#[derive(Debug)]
pub struct Inbound {
    /// The number of the next line to show.
    next: u64,
    /// Lines that came after a gap, by number.
    held: BTreeMap<u64, InOrder>,
    /// The highest number known to exist: seen, or named by the server.
    known: u64,
    /// Since when the first gap has been waited for, and when it was last asked for.
    gap_since: Option<Instant>,
    /// The number the gap waited for starts at: a new gap gets its own second.
    gap_at: u64,
    asked_at: Option<Instant>,
    /// Lines given up on, not yet told.
    lost_untold: u64,
}

/// What is due: a range of numbers to ask for again, and lines now in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    pub ask: Option<(u64, u64)>,
    pub lines: Vec<InOrder>,
}

impl Default for Inbound {
    fn default() -> Inbound {
        Inbound::new()
    }
}

impl Inbound {
    /// Nothing received; the first line is numbered 1.
    pub fn new() -> Inbound {
        Inbound::starting_at(1)
    }

    /// Nothing received, and nothing wanted before the line numbered `next`: for a
    /// reader that joins a stream already running (the bench).
    pub fn starting_at(next: u64) -> Inbound {
        Inbound {
            next,
            held: BTreeMap::new(),
            known: 0,
            gap_since: None,
            gap_at: 0,
            asked_at: None,
            lost_untold: 0,
        }
    }

    /// A line numbered `seq` came; returns the lines now in order (none if it is a
    /// duplicate, or waits for a gap).
    pub fn line(&mut self, seq: u64, line: &[u8], earlier: bool, now: Instant) -> Vec<InOrder> {
        if seq < self.next || self.held.contains_key(&seq) {
            return Vec::new();
        }
        self.known = self.known.max(seq);
        let mut lines = Vec::new();
        if seq == self.next {
            lines.push((line.to_vec(), earlier));
            self.next = self.next.saturating_add(1);
            self.release(&mut lines);
        } else if self.held.len() < HELD_MAX {
            self.held.insert(seq, (line.to_vec(), earlier));
        }
        self.watch_gap(now);
        lines
    }

    /// The server says the latest number it sent: a line lost at the tail shows here.
    pub fn latest(&mut self, latest: u64, now: Instant) {
        self.known = self.known.max(latest);
        self.watch_gap(now);
    }

    /// The server no longer holds the lines numbered up to `upto`: those missing are
    /// lost. Returns the lines now in order.
    pub fn lost(&mut self, upto: u64, now: Instant) -> Vec<InOrder> {
        let mut lines = Vec::new();
        self.skip_to(upto.saturating_add(1), &mut lines);
        self.watch_gap(now);
        lines
    }

    /// What is due at `now`: the first gap asked for (at once, then again every
    /// [`ASK_AGAIN_AFTER`]), or given up on after [`GIVE_UP_AFTER`].
    pub fn due(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        let Some(since) = self.gap_since else {
            return due;
        };
        if now >= since + GIVE_UP_AFTER {
            let resume = self
                .held
                .keys()
                .next()
                .copied()
                .unwrap_or(self.known.saturating_add(1));
            self.skip_to(resume, &mut due.lines);
            self.gap_since = None;
            self.asked_at = None;
            self.watch_gap(now);
            return due;
        }
        if self
            .asked_at
            .is_none_or(|asked| now >= asked + ASK_AGAIN_AFTER)
        {
            self.asked_at = Some(now);
            let last = self
                .held
                .keys()
                .next()
                .map_or(self.known, |&first| first - 1);
            due.ask = Some((self.next, last));
        }
        due
    }

    /// When [`Inbound::due`] next has something to do, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let since = self.gap_since?;
        let ask = self.asked_at.map_or(since, |asked| asked + ASK_AGAIN_AFTER);
        Some(ask.min(since + GIVE_UP_AFTER))
    }

    /// Lines given up on since last asked, and forgets them.
    pub fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost_untold)
    }

    /// Moves past every number below `resume`, counting those never received as lost,
    /// and releases the held lines that are then in order.
    fn skip_to(&mut self, resume: u64, lines: &mut Vec<InOrder>) {
        if resume <= self.next {
            return self.release(lines);
        }
        // Counted, not walked: a number from the server may be far ahead.
        let after = self.held.split_off(&resume);
        let skipped = std::mem::replace(&mut self.held, after);
        let present = skipped.len() as u64;
        lines.extend(skipped.into_values());
        self.lost_untold = self
            .lost_untold
            .saturating_add((resume - self.next).saturating_sub(present));
        self.next = resume;
        self.release(lines);
    }

    /// Releases the held lines that follow on from `next`.
    fn release(&mut self, lines: &mut Vec<InOrder>) {
        while let Some(line) = self.held.remove(&self.next) {
            lines.push(line);
            match self.next.checked_add(1) {
                Some(next) => self.next = next,
                None => break,
            }
        }
    }

    /// Starts waiting for a gap if one opened, stops if none is left.
    fn watch_gap(&mut self, now: Instant) {
        if self.known >= self.next {
            if self.gap_since.is_none() || self.gap_at != self.next {
                self.gap_since = Some(now);
                self.gap_at = self.next;
                self.asked_at = None;
            }
        } else {
            self.gap_since = None;
            self.asked_at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[InOrder]) -> Vec<String> {
        lines
            .iter()
            .map(|(l, _)| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn lines_in_order_pass_once() {
        let t = Instant::now();
        let mut inbound = Inbound::new();
        assert_eq!(texts(&inbound.line(1, b"a", false, t)), ["a"]);
        assert_eq!(texts(&inbound.line(2, b"b", false, t)), ["b"]);
        assert!(inbound.line(2, b"b", false, t).is_empty(), "a duplicate");
        assert!(inbound.line(1, b"a", false, t).is_empty());
        assert_eq!(inbound.due(t), Due::default());
        assert_eq!(inbound.next_deadline(), None);
    }

    #[test]
    fn a_gap_is_asked_for_at_once_and_again_then_filled_in_order() {
        let t = Instant::now();
        let mut inbound = Inbound::new();
        inbound.line(1, b"a", false, t);
        assert!(
            inbound.line(4, b"d", false, t).is_empty(),
            "waits for 2 and 3"
        );
        assert!(inbound.line(4, b"d", false, t).is_empty(), "held once");
        assert_eq!(inbound.due(t).ask, Some((2, 3)));
        assert_eq!(inbound.due(t).ask, None, "not twice at once");
        assert_eq!(inbound.next_deadline(), Some(t + ASK_AGAIN_AFTER));
        assert_eq!(inbound.due(t + ASK_AGAIN_AFTER).ask, Some((2, 3)));
        assert!(inbound.line(3, b"c", false, t).is_empty());
        assert_eq!(texts(&inbound.line(2, b"b", false, t)), ["b", "c", "d"]);
        assert_eq!(inbound.next_deadline(), None);
        assert_eq!(inbound.take_lost(), 0);
    }

    #[test]
    fn a_gap_not_filled_within_a_second_is_lost_and_the_rest_goes_on() {
        let t = Instant::now();
        let mut inbound = Inbound::new();
        inbound.line(1, b"a", false, t);
        inbound.line(3, b"c", true, t);
        inbound.line(6, b"f", false, t);
        inbound.due(t);
        let due = inbound.due(t + GIVE_UP_AFTER);
        assert_eq!(due.lines, [(b"c".to_vec(), true)], "up to the next gap");
        assert_eq!(inbound.take_lost(), 1);
        // The second gap (4, 5) is now waited for, from now.
        assert_eq!(inbound.due(t + GIVE_UP_AFTER).ask, Some((4, 5)));
        let due = inbound.due(t + GIVE_UP_AFTER * 2);
        assert_eq!(texts(&due.lines), ["f"]);
        assert_eq!(inbound.take_lost(), 2);
    }

    #[test]
    fn each_gap_gets_its_own_second() {
        let t = Instant::now();
        let mut inbound = Inbound::new();
        inbound.line(2, b"b", false, t);
        inbound.line(4, b"d", false, t);
        inbound.due(t);
        let later = t + GIVE_UP_AFTER / 2;
        assert_eq!(texts(&inbound.line(1, b"a", false, later)), ["a", "b"]);
        assert_eq!(inbound.due(later).ask, Some((3, 3)), "asked at once");
        assert!(
            inbound.due(t + GIVE_UP_AFTER).lines.is_empty(),
            "not given up yet"
        );
        assert_eq!(texts(&inbound.due(later + GIVE_UP_AFTER).lines), ["d"]);
        assert_eq!(inbound.take_lost(), 1);
    }

    #[test]
    fn a_lost_tail_shows_in_the_latest_number_and_the_server_can_say_it_is_gone() {
        let t = Instant::now();
        let mut inbound = Inbound::new();
        inbound.line(1, b"a", false, t);
        inbound.latest(1, t);
        assert_eq!(inbound.next_deadline(), None, "nothing missing");
        inbound.latest(3, t);
        assert_eq!(inbound.due(t).ask, Some((2, 3)));
        assert_eq!(texts(&inbound.line(2, b"b", false, t)), ["b"]);
        assert!(inbound.lost(3, t).is_empty());
        assert_eq!(inbound.take_lost(), 1);
        assert_eq!(inbound.next_deadline(), None);
        assert_eq!(texts(&inbound.line(4, b"d", false, t)), ["d"]);
    }

    #[test]
    fn a_number_far_ahead_is_counted_not_walked() {
        let t = Instant::now();
        let mut inbound = Inbound::new();
        inbound.line(1, b"a", false, t);
        inbound.latest(u64::MAX, t);
        inbound.due(t);
        let due = inbound.due(t + GIVE_UP_AFTER);
        assert!(due.lines.is_empty());
        assert!(inbound.take_lost() > 1 << 60, "counted, at once");
        assert!(inbound.lost(1 << 62, t).is_empty());
    }
}
