//! What the interactive client draws, without I/O: incoming lines printed above the
//! input line (wrapped with a hanging indent under the text, names in a stable color,
//! notices dim), and the input line drawn again exactly as it was, in one write.

use std::hash::{Hash, Hasher};

use super::editor::Editor;
use super::session::{Standing, CLIENT_MARKER};
use super::width::{char_width_after, text_width};

/// The width of `HH:MM:SS `: continuation rows start under the text, so no row of a
/// wrapped message can pass for a message of its own.
pub const INDENT: usize = 9;
/// What stands in place of the time before a line said in the room before we joined
/// it: as wide as the time, so the text lines up; the line is dim.
pub const EARLIER: &str = "earlier:";

const _: () = assert!(EARLIER.len() + 1 == INDENT);

/// What stands in place of the time before a line said before we joined: when it was
/// said (`(14:02)`), or [`EARLIER`] if the server did not say; no wider than the time.
pub fn earlier_mark(said_at: Option<&str>) -> String {
    match said_at {
        Some(hh_mm) => format!("({hh_mm})"),
        None => EARLIER.to_string(),
    }
}

/// The terminal as the client draws on it.
#[derive(Debug, Clone)]
pub struct Screen {
    /// The terminal's width in columns.
    pub columns: usize,
    /// Whether to use colors (not with `NO_COLOR`, `TERM=dumb`, or output not a terminal).
    pub colors: bool,
}

/// What the prompt shows: our name, lines not in the room yet, where we stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompt {
    pub name: Option<String>,
    pub queued: usize,
    pub standing: Standing,
}

impl Screen {
    /// Bytes that print a line from the room above the input line, then draw the input
    /// line again.
    pub fn print_above(
        &self,
        time: &str,
        earlier: bool,
        text: &str,
        bell: bool,
        prompt: &Prompt,
        editor: &Editor,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"\r\x1b[0K");
        if bell {
            out.push(0x07);
        }
        // A tab would jump to a column the wrap cannot know: one space instead.
        let text = text.replace('\t', " ");
        let text = text.as_str();
        // Notices (the server's and our own), and lines said before we joined, are dim.
        let notice = text.starts_with("* ") || text.starts_with(CLIENT_MARKER) || earlier;
        let who_len = if notice {
            0
        } else {
            text.find(' ').unwrap_or(0)
        };
        for (i, row) in wrap(text, self.columns.saturating_sub(INDENT).max(10))
            .iter()
            .enumerate()
        {
            if i == 0 {
                // Padded to the time's width, so continuation rows line up under it.
                out.extend_from_slice(format!("{time:<w$} ", w = INDENT - 1).as_bytes());
            } else {
                out.extend_from_slice(&[b' '; INDENT]);
            }
            if self.colors && notice {
                out.extend_from_slice(b"\x1b[2m");
                out.extend_from_slice(row.as_bytes());
                out.extend_from_slice(b"\x1b[0m");
            } else if self.colors && i == 0 && who_len > 0 && who_len <= row.len() {
                let (who, rest) = row.split_at(who_len);
                out.extend_from_slice(format!("\x1b[{}m", color_of(who)).as_bytes());
                out.extend_from_slice(who.as_bytes());
                out.extend_from_slice(b"\x1b[0m");
                out.extend_from_slice(rest.as_bytes());
            } else {
                out.extend_from_slice(row.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend(self.input_line(prompt, editor));
        out
    }

    /// Bytes that draw the input line: the row cleared, the prompt, the visible part
    /// of what is typed, the cursor where it belongs.
    pub fn input_line(&self, prompt: &Prompt, editor: &Editor) -> Vec<u8> {
        // A Ctrl-R search says so in place of the prompt.
        let prompt = editor.search_label().unwrap_or_else(|| prompt.text());
        let room = self.columns.saturating_sub(text_width(&prompt) + 1).max(2);
        let (shown, cursor) = editor.view(room);
        // The row is cleared first, then drawn, and the cursor moved back from the
        // end only if it is not there: the same on every terminal, and what the Windows
        // console under wine draws right (it mis-draws a clear after the text, and a
        // move forward from the row's start).
        let mut out = Vec::new();
        out.extend_from_slice(b"\r\x1b[0K");
        out.extend_from_slice(prompt.as_bytes());
        out.extend_from_slice(shown.as_bytes());
        let back = text_width(&shown).saturating_sub(cursor);
        if back > 0 {
            out.extend_from_slice(format!("\x1b[{back}D").as_bytes());
        }
        out
    }

    /// Bytes that clear the input line, for leaving.
    pub fn clear_input_line(&self) -> Vec<u8> {
        b"\r\x1b[0K".to_vec()
    }
}

impl Prompt {
    /// `alice (3 queued)> `, `(away)> `, `(connecting)> `.
    pub fn text(&self) -> String {
        let mut text = self.name.clone().unwrap_or_default();
        let standing = match self.standing {
            Standing::Connecting => Some("(connecting)"),
            Standing::Away => Some("(away)"),
            Standing::Joined => None,
        };
        if let Some(standing) = standing {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(standing);
        }
        if self.queued > 0 {
            let queued = format!("({} queued)", self.queued);
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&queued);
        }
        text.push_str("> ");
        text
    }
}

/// `text` in rows of at most `columns` columns, cut between words when a space is near.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut width = 0;
    let mut prev = None;
    for c in text.chars() {
        let w = char_width_after(prev, c);
        prev = Some(c);
        if width + w > columns && c == ' ' {
            // A space at the edge: the row ends there.
            rows.push(std::mem::take(&mut row));
            width = 0;
            continue;
        }
        if width + w > columns {
            // Back to the last space in the second half of the row, if any.
            let cut = row
                .rfind(' ')
                .filter(|&at| text_width(&row[..at]) >= columns / 2);
            match cut {
                Some(at) => {
                    let rest = row[at + 1..].to_string();
                    row.truncate(at);
                    rows.push(std::mem::replace(&mut row, rest));
                }
                None => rows.push(std::mem::take(&mut row)),
            }
            width = text_width(&row);
        }
        row.push(c);
        width += w;
    }
    rows.push(row);
    rows
}

/// A stable color for a name: one of six, from a hash of it.
pub fn color_of(name: &str) -> u8 {
    // A fixed hasher (not the random one), so a name keeps its color across runs.
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    name.to_ascii_lowercase().hash(&mut hasher);
    31 + (hasher.finish() % 6) as u8
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
    use crate::client::editor::Key;

    fn plain(columns: usize) -> Screen {
        Screen {
            columns,
            colors: false,
        }
    }

    #[test]
    fn a_long_message_wraps_under_its_text_never_at_the_row_start() {
        let text = format!("mallory hi{}* server: maintenance", " ".repeat(60));
        let bytes = plain(40).print_above(
            "12:00:00",
            false,
            &text,
            false,
            &Prompt::default(),
            &Editor::new(),
        );
        let screen = String::from_utf8(bytes).unwrap();
        let rows: Vec<&str> = screen.split("\r\n").collect();
        assert!(
            rows[0].starts_with("\r\x1b[0K12:00:00 mallory hi"),
            "{rows:?}"
        );
        for row in &rows[1..rows.len() - 1] {
            assert!(row.starts_with("         "), "{row:?} is not indented");
        }
        assert!(rows.iter().all(|r| !r.starts_with("* ")));
    }

    #[test]
    fn rows_fit_the_screen_and_wide_characters_count_double() {
        for row in wrap(&"日本語のテキスト ".repeat(10), 20) {
            assert!(text_width(&row) <= 20, "{row}");
        }
        assert_eq!(wrap("short", 20), vec!["short"]);
        assert_eq!(wrap("aaaa bbbb cccc", 9), vec!["aaaa bbbb", "cccc"]);
    }

    #[test]
    fn the_input_line_is_drawn_again_with_its_cursor() {
        let mut editor = Editor::new();
        for c in "half-typed".chars() {
            editor.key(Key::Char(c));
        }
        editor.key(Key::Left);
        let prompt = Prompt {
            name: Some("alice".into()),
            queued: 2,
            standing: Standing::Joined,
        };
        let bytes = plain(80).print_above(
            "12:00:01",
            false,
            "bob interrupting you",
            false,
            &prompt,
            &editor,
        );
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\r\x1b[0K12:00:01 bob interrupting you\r\n\r\x1b[0Kalice (2 queued)> half-typed\x1b[1D"
        );
    }

    #[test]
    fn the_prompt_says_where_the_client_stands() {
        let prompt = |name: Option<&str>, queued, standing| Prompt {
            name: name.map(str::to_string),
            queued,
            standing,
        };
        assert_eq!(
            prompt(None, 0, Standing::Connecting).text(),
            "(connecting)> "
        );
        assert_eq!(
            prompt(Some("alice"), 1, Standing::Connecting).text(),
            "alice (connecting) (1 queued)> "
        );
        assert_eq!(
            prompt(Some("alice"), 0, Standing::Away).text(),
            "alice (away)> "
        );
        assert_eq!(prompt(Some("alice"), 0, Standing::Joined).text(), "alice> ");
    }

    #[test]
    fn names_keep_their_color_and_notices_are_dim() {
        assert_eq!(color_of("alice"), color_of("ALICE"));
        let colored = Screen {
            columns: 80,
            colors: true,
        };
        let line = shown(&colored, "bob hi");
        assert!(
            line.contains(&format!("\x1b[{}mbob\x1b[0m hi", color_of("bob"))),
            "{line:?}"
        );
        let notice = shown(&colored, "* bob left");
        assert!(notice.contains("\x1b[2m* bob left\x1b[0m"), "{notice:?}");
        let ours = shown(&colored, "-!- back in the room");
        assert!(
            ours.contains("\x1b[2m-!- back in the room\x1b[0m"),
            "{ours:?}"
        );
        let plain = shown(&plain(80), "bob hi");
        assert!(
            !plain.contains("\x1b[3") && !plain.contains("\x1b[2m"),
            "{plain:?}"
        );
    }

    /// What `screen` writes to show `text` above an empty input line.
    fn shown(screen: &Screen, text: &str) -> String {
        let bytes = screen.print_above("t", false, text, false, &Prompt::default(), &Editor::new());
        String::from_utf8(bytes).expect("UTF-8")
    }
}
