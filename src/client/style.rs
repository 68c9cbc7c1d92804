//! How lines are dressed on screen: what the terminal can show (`Palette`, from
//! `TERM`, `COLORTERM` and `NO_COLOR`), each name's stable color, and the escapes that
//! mark our own lines and lines that name us.

use std::hash::{Hash, Hasher};

/// What the terminal is given beyond plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// Nothing (`TERM=dumb`): not even bold.
    Plain,
    /// Bold and reverse video, no color (`NO_COLOR`, no-color.org): our own lines and
    /// mentions still stand out.
    NoColor,
    /// The 16 colors every terminal has.
    Basic,
    /// The 256-color palette (`TERM` says `256color`, or `COLORTERM` says more).
    Extended,
}

/// Turns on bold (our own name), reverse video (a line that names us), dim (notices).
pub const BOLD: &str = "\x1b[1m";
pub const REVERSE: &str = "\x1b[7m";
pub const DIM: &str = "\x1b[2m";
/// Turns every attribute and color off.
pub const RESET: &str = "\x1b[0m";

/// The foreground colors of the 16 a name may take: the six plain and six bright ones
/// (not black, white or grey, which vanish on one background or the other).
const BASIC_COLORS: [u8; 12] = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

impl Palette {
    /// The palette for a terminal whose `TERM` and `COLORTERM` are as given, with
    /// `NO_COLOR` set (to anything not empty) or not.
    pub fn from_env(term: Option<&str>, colorterm: Option<&str>, no_color: bool) -> Palette {
        let term = term.unwrap_or("");
        if term == "dumb" {
            Palette::Plain
        } else if no_color {
            Palette::NoColor
        } else if term.contains("256color")
            || matches!(colorterm, Some("truecolor" | "24bit" | "256color"))
        {
            Palette::Extended
        } else {
            Palette::Basic
        }
    }

    /// Whether bold and reverse may be used.
    pub fn has_attributes(self) -> bool {
        self != Palette::Plain
    }

    /// Whether colors (and dim) may be used.
    pub fn has_colors(self) -> bool {
        matches!(self, Palette::Basic | Palette::Extended)
    }

    /// The escape that starts `name` in its color, bold if it is `ours`; empty when the
    /// palette has neither.
    pub fn name_start(self, name: &str, ours: bool) -> String {
        let bold = if ours && self.has_attributes() {
            "1;"
        } else {
            ""
        };
        match self {
            Palette::Plain => String::new(),
            Palette::NoColor if ours => BOLD.to_string(),
            Palette::NoColor => String::new(),
            Palette::Basic => format!("\x1b[{bold}{}m", basic_color(name)),
            Palette::Extended => format!("\x1b[{bold}38;5;{}m", extended_color(name)),
        }
    }
}

/// The SGR code of one of the 16 colors for `name`, from a stable hash.
pub fn basic_color(name: &str) -> u8 {
    BASIC_COLORS[hash_of(name) % BASIC_COLORS.len()]
}

/// A color of the 256-color cube (16–231) for `name`, from a stable hash, leaving out
/// the darkest and the palest, which vanish on a dark or a light background.
pub fn extended_color(name: &str) -> u8 {
    let readable: Vec<u8> = (16u8..=231)
        .filter(|&i| {
            let c = i - 16;
            let (r, g, b) = (c / 36, c / 6 % 6, c % 6);
            let sum = r + g + b;
            (4..=11).contains(&sum) && r.max(g).max(b) >= 2
        })
        .collect();
    readable[hash_of(name) % readable.len()]
}

/// A stable hash of a name, the same in any case and across runs.
fn hash_of(name: &str) -> usize {
    // A fixed hasher (not the random one), so a name keeps its color across runs.
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    name.to_ascii_lowercase().hash(&mut hasher);
    hasher.finish() as usize
}

/// FNV-1a, for colors only.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palette_follows_term_colorterm_and_no_color() {
        let p = Palette::from_env;
        assert_eq!(p(Some("dumb"), None, false), Palette::Plain);
        assert_eq!(p(Some("dumb"), None, true), Palette::Plain);
        assert_eq!(p(Some("xterm-256color"), None, true), Palette::NoColor);
        assert_eq!(p(Some("xterm-256color"), None, false), Palette::Extended);
        assert_eq!(
            p(Some("xterm"), Some("truecolor"), false),
            Palette::Extended
        );
        assert_eq!(p(Some("xterm"), None, false), Palette::Basic);
        assert_eq!(p(None, None, false), Palette::Basic, "Windows sets no TERM");
    }

    #[test]
    fn names_keep_their_color_in_any_case_and_four_people_rarely_share_one() {
        assert_eq!(extended_color("alice"), extended_color("ALICE"));
        let names = [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
        ];
        let basic: std::collections::HashSet<String> = names
            .iter()
            .map(|n| Palette::Basic.name_start(n, false))
            .collect();
        let extended: std::collections::HashSet<u8> =
            names.iter().map(|n| extended_color(n)).collect();
        assert!(basic.len() >= 6, "{basic:?}");
        assert_eq!(extended.len(), names.len(), "{extended:?}");
        for i in 0..2000 {
            let color = extended_color(&format!("user{i}"));
            assert!((16..=231).contains(&color));
        }
    }

    #[test]
    fn our_own_name_is_bold_even_without_color() {
        assert_eq!(Palette::NoColor.name_start("alice", true), BOLD);
        assert_eq!(Palette::NoColor.name_start("bob", false), "");
        assert!(Palette::Extended
            .name_start("alice", true)
            .starts_with("\x1b[1;38;5;"));
        assert_eq!(Palette::Plain.name_start("alice", true), "");
    }
}
