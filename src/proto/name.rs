//! Names members take with `/nick`: short plain ASCII, never a word the server's
//! notices start with, and unique in the room under a skeleton that folds the letters
//! and digits people confuse.

use std::fmt;

use super::notice::Notice;
use super::text::fold_confusable;

/// The longest name, in bytes (names are ASCII).
pub const MAX_NAME: usize = 16;

/// A name a member may take: 1 to [`MAX_NAME`] ASCII letters, digits, `_` or `-`,
/// starting with a letter, and not reserved (see [`is_reserved`]).
///
/// So a name never looks like an address, and `* <name> …` can never pass for a notice
/// a client acts on, such as `* you were removed by the server`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

/// Why a text is not a [`Name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Nothing was given.
    Empty,
    /// It reads as a word the server's notices start with.
    Reserved,
    /// Too long, or a character or first character names may not have.
    Invalid,
}

impl Name {
    /// Checks `text` against the rules of names.
    pub fn parse(text: &str) -> Result<Name, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        let well_formed = text.len() <= MAX_NAME
            && text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(NameError::Invalid);
        }
        if is_reserved(text) {
            return Err(NameError::Reserved);
        }
        Ok(Name(text.to_string()))
    }

    /// The name as it was taken.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which the name is unique in the room (see [`skeleton`]).
    pub fn skeleton(&self) -> String {
        skeleton(&self.0)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `text` with the characters people confuse folded together by
/// [`fold_confusable`]: case, `I`, `l`, `i` and `1`, `O` and `0`. `alice`, `ALICE`,
/// `aIice` and `a1ice` share a skeleton.
pub fn skeleton(text: &str) -> String {
    text.chars().map(fold_confusable).collect()
}

/// Whether `text` reads, under its [`skeleton`], as the first word of one of the
/// server's notices (`you`, `private`, `that`, …): those words come from [`Notice`]
/// itself, so a new notice reserves its first word by being written.
pub fn is_reserved(text: &str) -> bool {
    let key = skeleton(text);
    Notice::fixed_first_words()
        .iter()
        .any(|word| skeleton(word) == key)
}

/// Whether `text` mentions `name` as a whole word, under the fold names are unique
/// under ([`skeleton`]: `Alice`, `a1ice`).
pub fn mentions(text: &str, name: &str) -> bool {
    let key = skeleton(name);
    !name.is_empty()
        && text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .any(|word| word.len() == name.len() && skeleton(word) == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_plain_ascii() {
        for good in [
            "a",
            "alice",
            "Bob_2",
            "x-y",
            "a123456789abcdef",
            "youth",
            "Servers",
        ] {
            assert_eq!(Name::parse(good).map(|n| n.to_string()), Ok(good.into()));
        }
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        for bad in [
            "a123456789abcdefg",
            "3",
            "0xff",
            "_x",
            "-x",
            "two words",
            "a.b",
            "a:b",
            "*",
            "é",
            "[::1]:9",
        ] {
            assert_eq!(Name::parse(bad), Err(NameError::Invalid), "{bad}");
        }
    }

    #[test]
    fn the_first_words_of_notices_are_reserved_under_their_skeleton() {
        for reserved in [
            "you", "YOU", "Y0U", "Private", "server", "the", "that", "THAT", "no",
        ] {
            assert_eq!(
                Name::parse(reserved),
                Err(NameError::Reserved),
                "{reserved}"
            );
        }
    }

    #[test]
    fn confusable_names_share_a_skeleton() {
        let alice = skeleton("alice");
        for twin in ["ALICE", "aIice", "a1ice", "AL1CE", "a|ice"] {
            assert_eq!(skeleton(twin), alice, "{twin}");
        }
        assert_eq!(skeleton("b0b"), skeleton("BOB"));
        assert_ne!(skeleton("bob"), skeleton("rob"));
    }

    #[test]
    fn mentions_match_whole_words_in_any_case() {
        assert!(mentions("hi Alice!", "alice"));
        assert!(mentions("ALICE", "alice"));
        assert!(mentions("@alice, look", "alice"));
        assert!(!mentions("malice aforethought", "alice"));
        assert!(!mentions("alice_b", "alice"));
        assert!(!mentions("anything", ""));
    }
}
