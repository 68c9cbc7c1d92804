//! What a member asked of the room about itself: whether it is away, whom it ignores,
//! and whom `/reply` answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::proto::name::skeleton;

/// The most labels one member ignores; past it, `/ignore` is refused and says so.
pub const MAX_IGNORED: usize = 32;
/// The least time between two notices telling a member what was hidden from it.
pub const HIDDEN_NOTICE_INTERVAL: Duration = Duration::from_secs(60);

/// A member's manners: away or here, whom it ignores, whom it replies to.
#[derive(Debug, Default, Clone)]
pub struct Manners {
    /// Here, or away since when and why.
    pub presence: Presence,
    /// The member who sent it a private message last: `/reply` answers that member,
    /// and no one who has since taken its name or its address.
    pub reply_to: Option<ReplyTo>,
    /// Whom it ignores, oldest first.
    ignored: Vec<Ignored>,
    /// What was hidden from it and not yet told.
    hidden: Hidden,
}

/// Whether a member is at its keyboard, as it says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Presence {
    #[default]
    Here,
    /// `/away MESSAGE` (the message may be empty).
    Away { since: Instant, message: String },
}

/// Whom `/reply` answers: a member, as it was when it whispered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub addr: SocketAddr,
    /// Its place in the join order: the same address joining again is someone else.
    pub joined: u64,
    /// How it was shown, to say it is gone.
    pub label: String,
}

/// A member ignored: matched by the skeleton of the label it had (names are unique
/// under it), and by its address, so a new name does not shake the ignore off.
#[derive(Debug, Clone)]
struct Ignored {
    skeleton: String,
    label: String,
    addr: Option<SocketAddr>,
}

/// Deliveries held back from a member because it ignores their sender.
#[derive(Debug, Default, Clone)]
struct Hidden {
    untold: u64,
    last_told: Option<Instant>,
}

impl Manners {
    /// Whether it ignores the member at `addr` shown as the label whose skeleton is
    /// `sender`.
    pub fn ignores(&self, sender: &str, addr: SocketAddr) -> bool {
        self.ignored
            .iter()
            .any(|i| i.skeleton == sender || i.addr == Some(addr))
    }

    /// Whether it ignores anyone.
    pub fn ignores_anyone(&self) -> bool {
        !self.ignored.is_empty()
    }

    /// Ignores `label`, and the member at `addr` if it is here; false if it did
    /// already, or ignores [`MAX_IGNORED`] already (see [`Manners::can_ignore_more`]).
    pub(super) fn ignore(&mut self, label: &str, addr: Option<SocketAddr>) -> bool {
        let key = skeleton(label);
        if self.ignored.iter().any(|i| i.skeleton == key) || !self.can_ignore_more() {
            return false;
        }
        self.ignored.push(Ignored {
            skeleton: key,
            label: label.to_string(),
            addr,
        });
        true
    }

    /// Whether it may ignore one more.
    pub fn can_ignore_more(&self) -> bool {
        self.ignored.len() < MAX_IGNORED
    }

    /// No longer ignores `who` (under its skeleton); the label it had, if it was ignored.
    pub(super) fn unignore(&mut self, who: &str) -> Option<String> {
        let key = skeleton(who);
        let at = self.ignored.iter().position(|i| i.skeleton == key)?;
        Some(self.ignored.remove(at).label)
    }

    /// The labels it ignores, oldest first.
    pub fn ignored(&self) -> impl Iterator<Item = &str> + '_ {
        self.ignored.iter().map(|i| i.label.as_str())
    }

    /// Counts one delivery hidden at `now`; returns how many to tell of now, at most
    /// once every [`HIDDEN_NOTICE_INTERVAL`].
    pub fn hide(&mut self, now: Instant) -> Option<u64> {
        self.hidden.untold += 1;
        let due = self
            .hidden
            .last_told
            .is_none_or(|told| now.saturating_duration_since(told) >= HIDDEN_NOTICE_INTERVAL);
        if !due {
            return None;
        }
        self.hidden.last_told = Some(now);
        Some(std::mem::take(&mut self.hidden.untold))
    }

    /// When what was hidden and not yet told may be told, if anything was.
    pub fn hidden_due(&self) -> Option<Instant> {
        // (Nothing waits untold before the first notice: the first is told at once.)
        let told = self.hidden.last_told.filter(|_| self.hidden.untold > 0)?;
        told.checked_add(HIDDEN_NOTICE_INTERVAL)
    }

    /// How many to tell of now, if any were hidden and not told and the interval has
    /// passed: what [`Manners::hide`] left for later.
    pub fn hidden_untold(&mut self, now: Instant) -> Option<u64> {
        let due = self.hidden_due()?;
        if now < due {
            return None;
        }
        self.hidden.last_told = Some(now);
        Some(std::mem::take(&mut self.hidden.untold))
    }

    /// Its away message, if it is away.
    pub fn away_message(&self) -> Option<&str> {
        match &self.presence {
            Presence::Here => None,
            Presence::Away { message, .. } => Some(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignoring_goes_by_the_names_skeleton_and_address_and_stops_when_full() {
        let somewhere = SocketAddr::from(([10, 0, 0, 1], 1));
        let bobs = SocketAddr::from(([10, 0, 0, 2], 2));
        let mut manners = Manners::default();
        assert!(manners.ignore("bob", Some(bobs)));
        assert!(!manners.ignore("BOB", None), "one name under its skeleton");
        assert!(manners.ignores(&skeleton("b0b"), somewhere));
        assert!(
            manners.ignores(&skeleton("bobby"), bobs),
            "a new name does not shake it off"
        );
        assert_eq!(manners.unignore("Bob").as_deref(), Some("bob"));
        assert!(!manners.ignores_anyone());
        for n in 0..MAX_IGNORED {
            assert!(manners.ignore(&format!("user{n}"), None));
        }
        assert!(!manners.can_ignore_more());
        assert!(!manners.ignore("one-more", None));
        assert_eq!(manners.ignored().count(), MAX_IGNORED);
        assert!(
            manners.ignores(&skeleton("user0"), somewhere),
            "nothing forgotten"
        );
    }

    #[test]
    fn what_was_hidden_is_told_at_most_once_a_minute_and_nothing_is_lost_from_the_count() {
        let t = Instant::now();
        let mut manners = Manners::default();
        assert_eq!(manners.hide(t), Some(1));
        assert_eq!(manners.hide(t + Duration::from_secs(1)), None);
        assert_eq!(manners.hide(t + Duration::from_secs(30)), None);
        assert_eq!(manners.hide(t + Duration::from_secs(60)), Some(3));
        // What is hidden within the minute is told when it is over, if nothing more is.
        assert_eq!(manners.hide(t + Duration::from_secs(61)), None);
        assert_eq!(manners.hidden_due(), Some(t + Duration::from_secs(120)));
        assert_eq!(manners.hidden_untold(t + Duration::from_secs(100)), None);
        assert_eq!(manners.hidden_untold(t + Duration::from_secs(120)), Some(1));
        assert_eq!(manners.hidden_due(), None);
    }
}
