//! What the interactive client draws, without I/O: incoming lines printed above the
//! input line (wrapped with a hanging indent under the text, names in a stable color,
//! notices dim), and the input line drawn again exactly as it was, in one write.

use super::editor::Editor;
use super::session::{whose, Standing, Whose, CLIENT_MARKER};
use super::style::{Palette, DIM, RESET, REVERSE};
use super::width::{char_width_after, text_width};
use crate::proto::notice::NOTICE_PREFIX;
use crate::proto::Notice;

/// The width of `HH:MM:SS `: continuation rows start under the text, so no row of a
/// wrapped message can pass for a message of its own.
pub const INDENT: usize = 9;
/// What stands in place of the time before a line said in the room before we joined
/// it: as wide as the time, so the text lines up; the line is dim.
pub const EARLIER: &str = "earlier:";

const _: () = assert!(EARLIER.len() + 1 == INDENT);

/// The fewest columns of text a row under the full indent keeps: on a terminal
/// narrower than [`INDENT`] and this, continuation rows take [`NARROW_INDENT`] instead,
/// which still tells them from a message's first row (that starts with the time).
pub const MIN_TEXT_COLUMNS: usize = 10;
/// The indent of continuation rows on a narrow terminal.
pub const NARROW_INDENT: usize = 2;

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
    /// What the terminal is given beyond plain text (no colors with `NO_COLOR`, nothing
    /// with `TERM=dumb`).
    pub palette: Palette,
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
        // Notices (the server's and our own), and lines said before we joined, are dim;
        // our own lines have our name in bold, and a line that names us (an action
        // too) is in reverse video, even without colors.
        // A private message to us stands out as a mention does (not dim as notices).
        let parsed = Notice::parse(text);
        let whose = if text.starts_with(CLIENT_MARKER) {
            Whose::Other
        } else {
            whose(text, parsed, prompt.name.as_deref())
        };
        let to_us =
            whose == Whose::MentionsUs || matches!(parsed, Some(Notice::PrivateFrom { .. }));
        let mention = to_us && self.palette.has_attributes();
        let notice =
            !mention && (text.starts_with("* ") || text.starts_with(CLIENT_MARKER) || earlier);
        let who_len = if notice || text.starts_with("* ") {
            0
        } else {
            text.find(' ').unwrap_or(0)
        };
        let (indent, first, rest) = self.layout(text);
        // The row the text starts on: the second when the time stands alone.
        let starts = usize::from(first == 0);
        for (i, row) in wrap_rows(text, first, rest).iter().enumerate() {
            if i == 0 {
                // Padded to the time's width, so continuation rows line up under it;
                // cut, on a terminal too narrow for it.
                let time: String = time.chars().take(self.columns.max(1) - 1).collect();
                let stamp = format!("{time:<w$} ", w = INDENT - 1);
                let stamp = if row.is_empty() {
                    stamp.trim_end()
                } else {
                    &stamp
                };
                out.extend_from_slice(stamp.as_bytes());
            } else {
                out.extend_from_slice(" ".repeat(indent).as_bytes());
            }
            let (who, rest) = if i == starts && who_len > 0 && who_len <= row.len() {
                row.split_at(who_len)
            } else {
                ("", row.as_str())
            };
            let name_start = self.palette.name_start(who, whose == Whose::Ours);
            if notice && self.palette.has_colors() {
                out.extend_from_slice(DIM.as_bytes());
                out.extend_from_slice(row.as_bytes());
                out.extend_from_slice(RESET.as_bytes());
            } else if !who.is_empty() && !name_start.is_empty() {
                out.extend_from_slice(name_start.as_bytes());
                out.extend_from_slice(who.as_bytes());
                out.extend_from_slice(RESET.as_bytes());
            } else {
                out.extend_from_slice(who.as_bytes());
            }
            if !notice || !self.palette.has_colors() {
                if mention {
                    out.extend_from_slice(REVERSE.as_bytes());
                    out.extend_from_slice(rest.as_bytes());
                    out.extend_from_slice(RESET.as_bytes());
                } else {
                    out.extend_from_slice(rest.as_bytes());
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend(self.input_line(prompt, editor));
        out
    }

    /// How a message's rows are laid out: the indent of continuation rows, the columns
    /// of text on the first row (after the time; 0 when the time stands alone) and on
    /// the others. The full indent stays while it leaves [`MIN_TEXT_COLUMNS`]; on a
    /// narrower terminal the text starts after the time only if its first word fits
    /// there.
    fn layout(&self, text: &str) -> (usize, usize, usize) {
        let columns = self.columns;
        if columns >= INDENT + MIN_TEXT_COLUMNS {
            return (INDENT, columns - INDENT, columns - INDENT);
        }
        let indent = if columns > NARROW_INDENT + 1 {
            NARROW_INDENT
        } else {
            0
        };
        let first = columns.saturating_sub(INDENT);
        // A notice's marker goes with the word after it: `* bob` is its first word.
        let marker = [NOTICE_PREFIX, CLIENT_MARKER]
            .into_iter()
            .find(|marker| text.starts_with(marker))
            .map_or(0, str::len);
        let first_word = text[marker..].split(' ').next().unwrap_or("");
        let first = if marker + text_width(first_word) <= first {
            first
        } else {
            0
        };
        (indent, first, columns.saturating_sub(indent).max(1))
    }

    /// Bytes that draw the input line: the row cleared, the prompt, the visible part
    /// of what is typed, the cursor where it belongs. On a narrow terminal the prompt
    /// is cut short so that half the row is left for typing.
    pub fn input_line(&self, prompt: &Prompt, editor: &Editor) -> Vec<u8> {
        // A Ctrl-R search says so in place of the prompt.
        let prompt = editor.search_label().unwrap_or_else(|| prompt.text());
        let typing = (self.columns / 2).min(MIN_TEXT_COLUMNS);
        let prompt = fit_prompt(&prompt, self.columns.saturating_sub(1 + typing));
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
    /// `alice (3 queued)> `, `(reconnecting)> `, `(connecting)> `.
    pub fn text(&self) -> String {
        let mut text = self.name.clone().unwrap_or_default();
        let standing = match self.standing {
            Standing::Connecting => Some("(connecting)"),
            Standing::Away => Some("(reconnecting)"),
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

/// `prompt` cut to at most `columns` columns, `alice (conn…> `, if it is wider.
fn fit_prompt(prompt: &str, columns: usize) -> String {
    if text_width(prompt) <= columns {
        return prompt.to_string();
    }
    const CUT: &str = "…> ";
    let mut cut = String::new();
    let mut width = 0;
    let mut prev = None;
    for c in prompt.chars() {
        let w = char_width_after(prev, c);
        prev = Some(c);
        if width + w + text_width(CUT) > columns {
            break;
        }
        cut.push(c);
        width += w;
    }
    cut.push_str(CUT);
    cut
}

/// `text` in rows of at most `columns` columns, cut between words when a space is near.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    wrap_rows(text, columns, columns)
}

/// `text` in rows, the first of at most `first` columns (none: an empty first row),
/// the others of at most `rest`, cut between words when a space is near.
fn wrap_rows(text: &str, first: usize, rest: usize) -> Vec<String> {
    let rest = rest.max(1);
    let mut columns = first;
    let mut rows = Vec::new();
    if first == 0 {
        rows.push(String::new());
        columns = rest;
    }
    let mut row = String::new();
    let mut width = 0;
    let mut prev = None;
    for c in text.chars() {
        let w = char_width_after(prev, c);
        prev = Some(c);
        if width + w > columns && c == ' ' {
            // A space at the edge: the row ends there.
            rows.push(std::mem::take(&mut row));
            columns = rest;
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
                    let tail = row[at + 1..].to_string();
                    row.truncate(at);
                    rows.push(std::mem::replace(&mut row, tail));
                }
                None => rows.push(std::mem::take(&mut row)),
            }
            columns = rest;
            width = text_width(&row);
        }
        row.push(c);
        width += w;
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::editor::Key;

    fn plain(columns: usize) -> Screen {
        Screen {
            columns,
            palette: Palette::Plain,
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
            "alice (reconnecting)> "
        );
        assert_eq!(prompt(Some("alice"), 0, Standing::Joined).text(), "alice> ");
    }

    #[test]
    fn names_keep_their_color_and_notices_are_dim() {
        let colored = Screen {
            columns: 80,
            palette: Palette::Basic,
        };
        let line = shown(&colored, "bob hi");
        let bob = Palette::Basic.name_start("bob", false);
        assert!(line.contains(&format!("{bob}bob\x1b[0m hi")), "{line:?}");
        let notice = shown(&colored, "* bob left");
        assert!(notice.contains("\x1b[2m* bob left\x1b[0m"), "{notice:?}");
        let ours = shown(&colored, "-!- back in the room");
        assert!(
            ours.contains("\x1b[2m-!- back in the room\x1b[0m"),
            "{ours:?}"
        );
        // Plain: nothing but the line's own clearing of the row.
        let plain = shown(&plain(80), "bob hi");
        assert!(!plain.replace("\x1b[0K", "").contains('\x1b'), "{plain:?}");
    }

    // Issue 19, item 2: our own lines are marked, and lines that name us stand out,
    // with colors or without.
    #[test]
    fn our_lines_are_bold_and_lines_that_name_us_are_in_reverse() {
        let alice = Prompt {
            name: Some("alice".into()),
            ..Prompt::default()
        };
        for palette in [Palette::Basic, Palette::Extended, Palette::NoColor] {
            let screen = Screen {
                columns: 80,
                palette,
            };
            let show = |text: &str| {
                let bytes = screen.print_above("t", false, text, false, &alice, &Editor::new());
                String::from_utf8(bytes).expect("UTF-8")
            };
            let ours = show("alice hello");
            assert!(ours.contains("\x1b[1"), "{palette:?}: {ours:?}");
            let mention = show("bob hi ALICE, welcome");
            assert!(
                mention.contains("\x1b[7m hi ALICE, welcome\x1b[0m"),
                "{palette:?}: {mention:?}"
            );
            assert!(!mention.contains("\x1b[1"), "bob's name is not bold");
            let action = show("* bob pokes a1ice");
            assert!(
                action.contains("\x1b[7m* bob pokes a1ice"),
                "{palette:?}: {action:?}"
            );
            let other = show("bob hi carol");
            assert!(!other.contains("\x1b[7m") && !other.contains("\x1b[1"));
            let word_inside = show("bob malice aforethought");
            assert!(!word_inside.contains("\x1b[7m"), "only whole words");
            let private = show("* private from bob: psst");
            assert!(
                private.contains("\x1b[7m* private from bob: psst"),
                "{palette:?}: {private:?}"
            );
        }
        let dumb = plain(80).print_above("t", false, "bob hi alice", false, &alice, &Editor::new());
        assert!(!String::from_utf8(dumb).unwrap().contains("\x1b[7m"));
    }

    /// What `screen` writes to show `text` above an empty input line.
    fn shown(screen: &Screen, text: &str) -> String {
        let bytes = screen.print_above("t", false, text, false, &Prompt::default(), &Editor::new());
        String::from_utf8(bytes).expect("UTF-8")
    }

    /// The rows `screen` prints for `text` (escapes and the input line left out).
    fn printed_rows(screen: &Screen, time: &str, text: &str) -> Vec<String> {
        let bytes =
            screen.print_above(time, false, text, false, &Prompt::default(), &Editor::new());
        let printed = String::from_utf8(bytes).expect("UTF-8");
        let mut rows: Vec<String> = printed
            .split("\r\n")
            .map(|row| row.replace("\r\x1b[0K", ""))
            .collect();
        rows.pop();
        rows
    }

    #[test]
    fn narrow_terminals_keep_rows_whole_and_drop_the_indent_only_when_it_does_not_fit() {
        let text = "mallory hello there, this is a rather long line * server: maintenance";
        for columns in [10, 12, 15, 19, 20, 40] {
            let rows = printed_rows(&plain(columns), "12:00:00", text);
            let view = format!("{columns} columns: {rows:#?}");
            for row in &rows {
                assert!(text_width(row) <= columns, "{view}");
            }
            assert!(rows[0].starts_with("12:00:00"), "{view}");
            let indent = if columns >= 19 { INDENT } else { NARROW_INDENT };
            for row in &rows[1..] {
                // Under the text, never at the row's start; no row starts a message.
                assert!(row.starts_with(&" ".repeat(indent)), "{view}");
                assert!(!row[indent..].starts_with(' '), "{view}");
            }
            // Nothing lost: the rows hold the text, in order (spaces aside, as a row may
            // end at one and a long word be cut).
            let shown: String = rows.concat()[8..].replace(' ', "");
            assert_eq!(shown, text.replace(' ', ""), "{view}");
        }
        // At 15 columns a short first word follows the time; at 12 a long one does not.
        assert_eq!(
            printed_rows(&plain(15), "12:00:00", "bob hello there"),
            vec!["12:00:00 bob", "  hello there"]
        );
        assert_eq!(
            printed_rows(&plain(12), "12:00:00", "mallory hi"),
            vec!["12:00:00", "  mallory hi"]
        );
        assert_eq!(
            printed_rows(&plain(12), "12:00:00", "* bob joined"),
            vec!["12:00:00", "  * bob", "  joined"]
        );
    }

    #[test]
    fn on_a_narrow_terminal_the_prompt_is_cut_and_half_the_row_left_for_typing() {
        let typed = || {
            let mut editor = Editor::new();
            for c in "a long line typed here".chars() {
                editor.key(Key::Char(c));
            }
            editor
        };
        let prompt = Prompt {
            name: Some("alice".into()),
            queued: 2,
            standing: Standing::Connecting,
        };
        for columns in [10, 12, 15, 19, 20] {
            let editor = typed();
            let drawn =
                String::from_utf8(plain(columns).input_line(&prompt, &editor)).expect("UTF-8");
            let row = drawn
                .trim_start_matches("\r\x1b[0K")
                .split("\x1b[")
                .next()
                .unwrap_or("");
            assert!(text_width(row) < columns, "{columns}: {row:?}");
            assert!(row.contains("…> "), "{columns}: {row:?}");
            assert!(row.ends_with("here"), "{columns}: {row:?}");
            let typed = row.split("> ").nth(1).unwrap_or("");
            assert!(text_width(typed) >= columns / 2 - 1, "{columns}: {row:?}");
        }
        let wide = String::from_utf8(plain(80).input_line(&prompt, &typed())).expect("UTF-8");
        assert!(
            wide.contains("alice (connecting) (2 queued)> a long"),
            "{wide:?}"
        );
    }
}
