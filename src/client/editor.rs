//! The input line of the interactive client, without I/O: keys in (bytes from a
//! terminal in raw mode), edits out. UTF-8 aware: the cursor moves by character; history
//! of this session's lines on Up and Down.

use super::width::{char_width_after, chars_width, text_width};

/// A key the editor knows, decoded from the terminal's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    /// Ctrl-W: the word before the cursor.
    DeleteWord,
    /// Ctrl-U: the line before the cursor.
    DeleteToStart,
    /// Ctrl-L: draw the screen again.
    Redraw,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D.
    EndOfInput,
    /// Ctrl-Z.
    Suspend,
}

/// What a key did, for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The line changed (or the cursor moved): draw it again.
    Changed,
    /// Nothing to do.
    Nothing,
    /// Enter: this line is sent; the input line is empty again.
    Submit(String),
    /// Ctrl-D on an empty line, or Ctrl-C: leave.
    Leave,
    /// Ctrl-L.
    Redraw,
    /// Ctrl-Z: stop the client as a shell's job.
    Suspend,
}

/// Turns a terminal's bytes into keys, across reads: a key's bytes may arrive split.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    pending: Vec<u8>,
}

/// The line being typed, its cursor and this session's history.
#[derive(Debug, Default)]
pub struct Editor {
    line: Vec<char>,
    /// The cursor, as a place between characters.
    cursor: usize,
    history: Vec<String>,
    /// Where Up/Down are in the history; `history.len()` is the line being typed.
    browsing: usize,
    /// The line being typed, kept while browsing the history.
    draft: Vec<char>,
    /// The first character shown when the line is wider than the screen: it moves only
    /// when the cursor would leave the view, so the text does not jump at every key.
    scroll: std::cell::Cell<usize>,
}

impl KeyDecoder {
    /// Decodes what can be decoded of `bytes` (after what was pending).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        self.pending.extend_from_slice(bytes);
        let mut keys = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            match decode_one(&self.pending[at..]) {
                Decoded::Key(key, used) => {
                    keys.extend(key);
                    at += used;
                }
                Decoded::Incomplete => break,
            }
        }
        self.pending.drain(..at);
        keys
    }
}

enum Decoded {
    /// A key (or none, for bytes the editor ignores) and how many bytes it took.
    Key(Option<Key>, usize),
    /// The bytes start a key that is not complete yet.
    Incomplete,
}

fn decode_one(bytes: &[u8]) -> Decoded {
    let key = |k: Key, n: usize| Decoded::Key(Some(k), n);
    match bytes[0] {
        b'\r' | b'\n' => key(Key::Enter, 1),
        0x7f | 0x08 => key(Key::Backspace, 1),
        0x01 => key(Key::Home, 1),
        0x05 => key(Key::End, 1),
        0x02 => key(Key::Left, 1),
        0x06 => key(Key::Right, 1),
        0x10 => key(Key::Up, 1),
        0x0e => key(Key::Down, 1),
        0x17 => key(Key::DeleteWord, 1),
        0x15 => key(Key::DeleteToStart, 1),
        0x0c => key(Key::Redraw, 1),
        0x03 => key(Key::Interrupt, 1),
        0x04 => key(Key::EndOfInput, 1),
        0x1a => key(Key::Suspend, 1),
        0x1b => decode_escape(bytes),
        b if b < 0x20 => Decoded::Key(None, 1),
        _ => {
            let len = match bytes[0] {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => 1,
            };
            if bytes.len() < len {
                return Decoded::Incomplete;
            }
            match std::str::from_utf8(&bytes[..len]) {
                // What may not reach a terminal may not be typed either.
                Ok(text) => Decoded::Key(
                    text.chars()
                        .next()
                        .filter(|&c| !crate::proto::text::is_unsafe(c))
                        .map(Key::Char),
                    len,
                ),
                Err(_) => Decoded::Key(None, 1),
            }
        }
    }
}

/// `ESC [ …` and `ESC O …` sequences for arrows, Home, End, Delete; anything else after
/// ESC is skipped whole.
fn decode_escape(bytes: &[u8]) -> Decoded {
    let Some(&kind) = bytes.get(1) else {
        return Decoded::Incomplete;
    };
    if kind != b'[' && kind != b'O' {
        // A lone Escape: it goes, and the next key stays.
        return Decoded::Key(None, 1);
    }
    // Parameters, then one final byte.
    let mut end = 2;
    while end < bytes.len() && (0x30..=0x3f).contains(&bytes[end]) {
        end += 1;
    }
    let Some(&last) = bytes.get(end) else {
        return Decoded::Incomplete;
    };
    let params = &bytes[2..end];
    let key = match (last, params) {
        (b'A', _) => Some(Key::Up),
        (b'B', _) => Some(Key::Down),
        (b'C', _) => Some(Key::Right),
        (b'D', _) => Some(Key::Left),
        (b'H', _) => Some(Key::Home),
        (b'F', _) => Some(Key::End),
        (b'~', b"1" | b"7") => Some(Key::Home),
        (b'~', b"4" | b"8") => Some(Key::End),
        (b'~', b"3") => Some(Key::Delete),
        _ => None,
    };
    Decoded::Key(key, end + 1)
}

impl Editor {
    /// An empty line and history.
    pub fn new() -> Editor {
        Editor::default()
    }

    /// Applies one key.
    pub fn key(&mut self, key: Key) -> Edit {
        match key {
            Key::Char(c) => {
                self.line.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Enter => {
                let line: String = self.line.drain(..).collect();
                self.cursor = 0;
                if !line.trim().is_empty() && self.history.last() != Some(&line) {
                    self.history.push(line.clone());
                }
                self.browsing = self.history.len();
                self.draft.clear();
                return Edit::Submit(line);
            }
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.line.remove(self.cursor);
            }
            Key::Delete if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
            }
            Key::Left if self.cursor > 0 => self.cursor -= 1,
            Key::Right if self.cursor < self.line.len() => self.cursor += 1,
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.line.len(),
            Key::Up if self.browsing > 0 => {
                if self.browsing == self.history.len() {
                    self.draft = self.line.clone();
                }
                self.browsing -= 1;
                self.line = self.history[self.browsing].chars().collect();
                self.cursor = self.line.len();
            }
            Key::Down if self.browsing < self.history.len() => {
                self.browsing += 1;
                self.line = match self.history.get(self.browsing) {
                    Some(line) => line.chars().collect(),
                    None => std::mem::take(&mut self.draft),
                };
                self.cursor = self.line.len();
            }
            Key::DeleteWord if self.cursor > 0 => {
                let mut start = self.cursor;
                while start > 0 && self.line[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.line[start - 1] != ' ' {
                    start -= 1;
                }
                self.line.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::DeleteToStart if self.cursor > 0 => {
                self.line.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::Redraw => return Edit::Redraw,
            Key::Interrupt => return Edit::Leave,
            Key::EndOfInput if self.line.is_empty() => return Edit::Leave,
            Key::EndOfInput => return Edit::Nothing,
            Key::Suspend => return Edit::Suspend,
            _ => return Edit::Nothing,
        }
        Edit::Changed
    }

    /// The line as typed.
    pub fn text(&self) -> String {
        self.line.iter().collect()
    }

    /// What to show of the line in `columns` columns, and the cursor's column in it:
    /// the line scrolls sideways only as far as needed to keep the cursor in view.
    pub fn view(&self, columns: usize) -> (String, usize) {
        let columns = columns.max(2);
        let mut start = self.scroll.get().min(self.cursor);
        while start < self.cursor && chars_width(&self.line[start..self.cursor]) >= columns {
            start += 1;
        }
        self.scroll.set(start);
        let mut shown = String::new();
        let mut used = 0;
        let mut prev = None;
        for &c in &self.line[start..] {
            let w = char_width_after(prev, c);
            prev = Some(c);
            if used + w > columns {
                break;
            }
            shown.push(c);
            used += w;
        }
        debug_assert!(text_width(&shown) <= columns);
        (shown, chars_width(&self.line[start..self.cursor]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(editor: &mut Editor, decoder: &mut KeyDecoder, bytes: &[u8]) -> Vec<Edit> {
        decoder
            .feed(bytes)
            .into_iter()
            .map(|k| editor.key(k))
            .collect()
    }

    #[test]
    fn arrows_home_end_and_utf8_arrive_as_keys_even_split_across_reads() {
        let mut decoder = KeyDecoder::default();
        assert_eq!(
            decoder.feed(b"a\x1b[D\x1b[C\x1bOH\x1b[F\x1b[3~\x1b[1~\x1b[4~"),
            vec![
                Key::Char('a'),
                Key::Left,
                Key::Right,
                Key::Home,
                Key::End,
                Key::Delete,
                Key::Home,
                Key::End
            ]
        );
        assert_eq!(decoder.feed(b"\x1b["), vec![]);
        assert_eq!(decoder.feed(b"A\xc3"), vec![Key::Up]);
        assert_eq!(decoder.feed(b"\xa9"), vec![Key::Char('é')]);
        assert_eq!(decoder.feed("日".as_bytes()), vec![Key::Char('日')]);
        assert_eq!(
            decoder.feed(b"\x1bx"),
            vec![Key::Char('x')],
            "a lone Escape"
        );
        assert_eq!(
            decoder.feed("a\u{202e}\u{85}b".as_bytes()),
            vec![Key::Char('a'), Key::Char('b')]
        );
        assert_eq!(
            decoder.feed(b"\x01\x05\x17\x15\x0c\x03\x04\x7f\r"),
            vec![
                Key::Home,
                Key::End,
                Key::DeleteWord,
                Key::DeleteToStart,
                Key::Redraw,
                Key::Interrupt,
                Key::EndOfInput,
                Key::Backspace,
                Key::Enter
            ]
        );
    }

    #[test]
    fn editing_moves_by_character_and_submits_the_line() {
        let mut e = Editor::new();
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, "héllo wörld".as_bytes());
        typed(&mut e, &mut d, b"\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x7f");
        assert_eq!(e.text(), "héllowörld");
        typed(&mut e, &mut d, b" \x01>\x05<");
        assert_eq!(e.text(), ">héllo wörld<");
        typed(&mut e, &mut d, b"\x17");
        assert_eq!(e.text(), ">héllo ");
        typed(&mut e, &mut d, b"\x1b[D\x15");
        assert_eq!(e.text(), " ");
        typed(&mut e, &mut d, b"\x1b[3~x");
        assert_eq!(e.text(), "x");
        assert_eq!(typed(&mut e, &mut d, b"\r"), vec![Edit::Submit("x".into())]);
        assert_eq!(e.text(), "");
    }

    #[test]
    fn history_goes_back_and_forth_and_keeps_the_draft() {
        let mut e = Editor::new();
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, b"one\rtwo\rdraft");
        typed(&mut e, &mut d, b"\x1b[A");
        assert_eq!(e.text(), "two");
        typed(&mut e, &mut d, b"\x1b[A\x1b[A");
        assert_eq!(e.text(), "one");
        typed(&mut e, &mut d, b"\x1b[B\x1b[B");
        assert_eq!(e.text(), "draft");
    }

    #[test]
    fn ctrl_c_leaves_and_ctrl_d_leaves_only_on_an_empty_line() {
        let mut e = Editor::new();
        let mut d = KeyDecoder::default();
        assert_eq!(
            typed(&mut e, &mut d, b"x\x04"),
            vec![Edit::Changed, Edit::Nothing]
        );
        assert_eq!(typed(&mut e, &mut d, b"\x03"), vec![Edit::Leave]);
        let mut empty = Editor::new();
        assert_eq!(typed(&mut empty, &mut d, b"\x04"), vec![Edit::Leave]);
    }

    #[test]
    fn a_long_line_scrolls_sideways_and_wide_characters_take_two_columns() {
        let mut e = Editor::new();
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, "0123456789".as_bytes());
        assert_eq!(e.view(20), ("0123456789".into(), 10));
        let (shown, cursor) = e.view(6);
        assert_eq!((shown.as_str(), cursor), ("56789", 5));
        typed(&mut e, &mut d, b"\x1b[D");
        assert_eq!(
            e.view(6),
            ("56789".into(), 4),
            "the text stays, the cursor moves"
        );
        typed(&mut e, &mut d, b"\x01");
        assert_eq!(e.view(6), ("012345".into(), 0));
        let mut wide = Editor::new();
        typed(&mut wide, &mut d, "日本".as_bytes());
        assert_eq!(wide.view(10), ("日本".into(), 4));
    }
}
