//! The names in the room as the client learns them from what it shows, without I/O:
//! chat lines (`name text`), and the server's notices (joined, left, timed out, was
//! removed, is now, `/who`, private lines, actions, our welcome), most recently active
//! first, for Tab to complete. Bounded: past [`MAX_NAMES`], the least recent is
//! forgotten.

use std::collections::VecDeque;

use crate::proto::name::Name;
use crate::proto::notice::{Notice, NOTICE_PREFIX};

/// The most names remembered.
pub const MAX_NAMES: usize = 1_000;

/// Names seen in the room, most recently active first, and our own, which Tab does not
/// offer.
#[derive(Debug, Default)]
pub struct Roster {
    names: VecDeque<String>,
    me: Option<String>,
}

impl Roster {
    /// An empty roster.
    pub fn new() -> Roster {
        Roster::default()
    }

    /// Learns from a line the client shows (terminal-safe, as shown).
    pub fn learn(&mut self, line: &str) {
        if !line.starts_with(NOTICE_PREFIX) {
            // A chat line: its sender, if a name (a classic member's address is not).
            if let Some((who, _)) = line.split_once(' ') {
                self.touch(who.strip_suffix(':').unwrap_or(who));
            }
            return;
        }
        match Notice::parse(line) {
            Some(Notice::Welcome { who, .. }) => self.me = Some(who.to_string()),
            Some(Notice::NowCalled(name) | Notice::AlreadyCalled(name)) => {
                self.me = Some(name.to_string());
                self.forget(name);
            }
            Some(Notice::PrivateFrom { from: who, .. } | Notice::PrivateTo { to: who, .. }) => {
                self.touch(who)
            }
            Some(Notice::NoSuchMember(who)) => {
                self.forget(who);
            }
            Some(_) => {}
            None => self.learn_labelled(line),
        }
    }

    /// The names, most recently active first, ours left out.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// A notice that starts with a label or a count: joined, left, renamed, `/who`, an
    /// action, as [`Notice::parse_labelled`] reads it.
    fn learn_labelled(&mut self, line: &str) {
        match Notice::parse_labelled(line) {
            Some(Notice::Renamed { old, new }) => {
                self.forget(old);
                self.touch(new);
            }
            Some(
                Notice::Left(who)
                | Notice::LeftSaying { who, .. }
                | Notice::TimedOut(who)
                | Notice::WasRemoved(who),
            ) => self.forget(who),
            Some(Notice::Who { listing, .. }) => self.learn_who(listing),
            Some(
                Notice::Joined(who)
                | Notice::Action { who, .. }
                | Notice::IsAway { who, .. }
                | Notice::TopicSet { who, .. },
            ) => self.touch(who),
            _ => {}
        }
    }

    /// A `/who` listing, `a, b, … and 3 more`: each listed name is here (after those
    /// seen active); if the listing is whole, names not in it have gone.
    fn learn_who(&mut self, listing: &str) {
        // `bob (away 3m: lunch)` is bob; an away message's own commas make pieces
        // with spaces, which are no names.
        let listed: Vec<&str> = listing
            .split(", ")
            .filter(|who| !who.starts_with('…'))
            .map(|who| who.split_once(" (away").map_or(who, |(name, _)| name))
            .filter(|who| !who.contains(' '))
            .collect();
        // Cut short, a listing ends `… and N more`: it says nothing of who is gone.
        let cut_short = listing
            .rsplit_once("… and ")
            .is_some_and(|(_, rest)| rest.ends_with(" more"));
        if !cut_short {
            self.names
                .retain(|known| listed.iter().any(|who| who.eq_ignore_ascii_case(known)));
        }
        for who in listed {
            let known = self.names.iter().any(|n| n.eq_ignore_ascii_case(who));
            if !known && Name::parse(who).is_ok() && !self.is_me(who) {
                if self.names.len() == MAX_NAMES {
                    // Full: the newcomer to the roster is the least recent, so it is
                    // the one not kept.
                    continue;
                }
                self.names.push_back(who.to_string());
            }
        }
    }

    /// `who` spoke or arrived: first in the roster, if a name and not ours.
    fn touch(&mut self, who: &str) {
        if Name::parse(who).is_err() || self.is_me(who) {
            return;
        }
        self.forget(who);
        self.names.push_front(who.to_string());
        self.names.truncate(MAX_NAMES);
    }

    fn forget(&mut self, who: &str) {
        self.names.retain(|known| !known.eq_ignore_ascii_case(who));
    }

    fn is_me(&self, who: &str) -> bool {
        self.me
            .as_deref()
            .is_some_and(|me| me.eq_ignore_ascii_case(who))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learned(lines: &[&str]) -> Vec<String> {
        let mut roster = Roster::new();
        for line in lines {
            roster.learn(line);
        }
        roster.names().map(str::to_string).collect()
    }

    #[test]
    fn speakers_come_first_and_addresses_are_no_names() {
        assert_eq!(
            learned(&[
                "bob hi",
                "carol: hello",
                "127.0.0.1:5000 hey",
                "bob again",
                "-!- server went away",
                "dave",
            ]),
            vec!["bob", "carol"]
        );
    }

    #[test]
    fn notices_bring_names_in_and_take_them_out() {
        assert_eq!(
            learned(&[
                "* bob joined",
                "* carol joined",
                "* dave joined",
                "* erin joined",
                "* frank joined",
                "* carol left",
                "* dave timed out",
                "* erin was removed",
                "* 127.0.0.1:5000 is now gina",
                "* bob is now bobby",
                "* frank waves",
                "* private from hal: psst",
                "* private to ivy: psst",
                "* no one here is called frank",
            ]),
            vec!["ivy", "hal", "bobby", "gina"]
        );
    }

    #[test]
    fn leaving_with_a_message_and_being_away_are_understood() {
        assert_eq!(
            learned(&[
                "* bob joined",
                "* carol joined",
                "* bob left (bye all, see you)",
                "* 2 here: carol, dave (away 3m: lunch, back at 2), erin (away 5s)",
            ]),
            vec!["carol", "dave", "erin"]
        );
    }

    #[test]
    fn our_own_name_is_not_offered() {
        assert_eq!(
            learned(&[
                "* you joined as 127.0.0.1:5000 (2 here; /help for commands; no message limit)",
                "* you are now alice",
                "alice hello",
                "* alice waves",
                "bob hi alice",
            ]),
            vec!["bob"]
        );
    }

    #[test]
    fn a_who_listing_adds_the_quiet_and_a_whole_one_forgets_the_gone() {
        assert_eq!(
            learned(&["bob hi", "zed hi", "* 3 here: 127.0.0.1:5000, carol, bob"]),
            vec!["bob", "carol"]
        );
        assert_eq!(
            learned(&["zed hi", "* 40 here: carol, bob, … and 38 more"]),
            vec!["zed", "carol", "bob"],
            "a listing cut short forgets no one"
        );
    }

    #[test]
    fn the_roster_is_bounded_and_forgets_the_least_recent() {
        let mut roster = Roster::new();
        for i in 0..MAX_NAMES + 10 {
            roster.learn(&format!("n{i} hi"));
        }
        assert_eq!(roster.names().count(), MAX_NAMES);
        assert_eq!(
            roster.names().next(),
            Some(format!("n{}", MAX_NAMES + 9).as_str())
        );
        assert!(roster.names().all(|n| n != "n0"));
    }
}
