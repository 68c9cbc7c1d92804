//! The input line of the interactive client, without I/O: keys in (bytes from a
//! terminal in raw mode), edits out. UTF-8 aware: the cursor moves by character or by
//! word; history of this session's lines on Up and Down and Ctrl-R; a kill ring; Tab
//! completes names and commands. The keys are readline's (emacs mode).

mod complete;
mod keys;
mod search;

use std::collections::VecDeque;

use super::width::{char_width_after, chars_width, text_width};
pub use complete::Candidates;
use complete::Cycle;
pub use keys::{Key, KeyDecoder};
use search::Search;

/// How many kills the kill ring keeps (Ctrl-Y puts back the newest, Alt-y older ones).
pub const KILL_RING: usize = 16;

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
    /// Killed text, newest first.
    kills: VecDeque<String>,
    /// What the last key did, when the next key's meaning depends on it.
    last: Last,
    /// A Ctrl-R search under way.
    search: Option<Box<Search>>,
    /// What the last search looked for: Ctrl-R Ctrl-R looks for it again.
    last_query: Vec<char>,
    /// The first character shown when the line is wider than the screen: it moves only
    /// when the cursor would leave the view, so the text does not jump at every key.
    scroll: std::cell::Cell<usize>,
}

/// What the last key did, for the keys that continue it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Last {
    #[default]
    Other,
    /// A kill: the next kill adds to the same entry of the ring.
    Kill,
    /// Ctrl-Y or Alt-y put `len` characters at `start`, the ring's entry `index`.
    Yank {
        start: usize,
        len: usize,
        index: usize,
    },
    /// Alt-. put `len` characters at `start`, from the line `back` lines before the last.
    YankedArg {
        start: usize,
        len: usize,
        back: usize,
    },
    /// Tab completed, and may go on to the next match.
    Complete(Box<Cycle>),
}

/// Which way a kill went from the cursor: it is added to the ring's entry on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Before,
    After,
}

impl Editor {
    /// An empty line and history.
    pub fn new() -> Editor {
        Editor::default()
    }

    /// Applies one key, with nothing for Tab to complete.
    pub fn key(&mut self, key: Key) -> Edit {
        self.key_completing(key, Candidates::default())
    }

    /// Applies one key; Tab completes from `candidates`.
    pub fn key_completing(&mut self, key: Key, candidates: Candidates<'_>) -> Edit {
        let last = std::mem::take(&mut self.last);
        // `None` also when a search ended with its match in the line: the key acts on it.
        if let Some(edit) = self.search_key(key) {
            return edit;
        }
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
            Key::WordLeft if self.cursor > 0 => self.cursor = self.word_start(),
            Key::WordRight if self.cursor < self.line.len() => self.cursor = self.word_end(),
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
                self.kill(start, self.cursor, Side::Before, &last);
            }
            Key::KillWordBefore if self.cursor > 0 => {
                self.kill(self.word_start(), self.cursor, Side::Before, &last);
            }
            Key::DeleteToStart if self.cursor > 0 => {
                self.kill(0, self.cursor, Side::Before, &last);
            }
            Key::KillWordAfter if self.cursor < self.line.len() => {
                self.kill(self.cursor, self.word_end(), Side::After, &last);
            }
            Key::KillToEnd if self.cursor < self.line.len() => {
                self.kill(self.cursor, self.line.len(), Side::After, &last);
            }
            Key::Yank => {
                let Some(text) = self.kills.front().cloned() else {
                    return Edit::Nothing;
                };
                let start = self.cursor;
                self.insert(&text);
                self.last = Last::Yank {
                    start,
                    len: self.cursor - start,
                    index: 0,
                };
            }
            Key::YankPop => {
                let Last::Yank { start, len, index } = last else {
                    return Edit::Nothing;
                };
                let index = (index + 1) % self.kills.len().max(1);
                let Some(text) = self.kills.get(index).cloned() else {
                    return Edit::Nothing;
                };
                self.replace(start, len, &text);
                self.last = Last::Yank {
                    start,
                    len: self.cursor - start,
                    index,
                };
            }
            Key::YankLastArg => return self.yank_last_arg(&last),
            Key::Tab => return self.complete(last, candidates),
            Key::SearchBack => {
                self.search = Some(Box::new(Search {
                    saved_line: self.line.clone(),
                    saved_cursor: self.cursor,
                    ..Search::default()
                }));
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

    /// What stands in place of the prompt during a Ctrl-R search: `(search 'he') `.
    pub fn search_label(&self) -> Option<String> {
        self.search.as_deref().map(Search::label)
    }

    /// A key during a Ctrl-R search. `None` when the search ended with its match taken
    /// into the line, and the key is to act on the line as usual.
    fn search_key(&mut self, key: Key) -> Option<Edit> {
        let search = self.search.as_mut()?;
        let newest = self.history.len().saturating_sub(1);
        match key {
            Key::Char(c) => {
                search.query.push(c);
                // The line shown may still hold the longer query.
                let from = search.found.unwrap_or(newest);
                self.search_from(from);
            }
            Key::Backspace => {
                search.query.pop();
                if search.query.is_empty() {
                    search.found = None;
                    search.failed = false;
                    self.line = search.saved_line.clone();
                    self.cursor = search.saved_cursor;
                } else {
                    self.search_from(newest);
                }
            }
            Key::SearchBack => {
                if search.query.is_empty() {
                    search.query = self.last_query.clone();
                    self.search_from(newest);
                } else if let Some(found) = search.found {
                    match found.checked_sub(1) {
                        Some(older) => self.search_from(older),
                        None => search.failed = true,
                    }
                } else {
                    self.search_from(newest);
                }
            }
            Key::Cancel | Key::Escape => {
                self.line = std::mem::take(&mut search.saved_line);
                self.cursor = search.saved_cursor;
                self.end_search();
            }
            Key::Interrupt => return Some(Edit::Leave),
            // Anything else takes the match into the line, then acts (Enter sends it,
            // as in bash).
            _ => {
                self.end_search();
                return None;
            }
        }
        Some(Edit::Changed)
    }

    /// Shows the newest line at or before `from` that holds the query; if none does,
    /// the search is marked failed and the last match stays.
    fn search_from(&mut self, from: usize) {
        let Some(search) = self.search.as_mut() else {
            return;
        };
        match search::find_back(&self.history, from, &search.query) {
            Some((found, at)) => {
                search.found = Some(found);
                search.failed = false;
                self.line = self.history[found].chars().collect();
                self.cursor = at;
            }
            None => search.failed = true,
        }
    }

    fn end_search(&mut self) {
        if let Some(search) = self.search.take() {
            if !search.query.is_empty() {
                self.last_query = search.query;
            }
        }
        self.browsing = self.history.len();
        self.draft.clear();
    }

    /// Tab: the first match in place of the word at the cursor, or, right after a Tab,
    /// the next match in place of the last.
    fn complete(&mut self, last: Last, candidates: Candidates<'_>) -> Edit {
        if let Last::Complete(mut cycle) = last {
            if cycle.matches.len() < 2 {
                self.last = Last::Complete(cycle);
                return Edit::Nothing;
            }
            cycle.shown = (cycle.shown + 1) % cycle.matches.len();
            let text = cycle.matches[cycle.shown].clone();
            self.replace(cycle.start, cycle.len, &text);
            cycle.len = self.cursor - cycle.start;
            self.last = Last::Complete(cycle);
            return Edit::Changed;
        }
        let (start, end, matches) = complete::matches(&self.line, self.cursor, candidates);
        let Some(first) = matches.first().cloned() else {
            return Edit::Nothing;
        };
        self.replace(start, end - start, &first);
        self.last = Last::Complete(Box::new(Cycle {
            start,
            len: self.cursor - start,
            matches,
            shown: 0,
        }));
        Edit::Changed
    }

    /// Alt-.: the last word of the line before; again, of the line before that.
    fn yank_last_arg(&mut self, last: &Last) -> Edit {
        let (start, len, back) = match *last {
            Last::YankedArg { start, len, back } => (start, len, back + 1),
            _ => (self.cursor, 0, 0),
        };
        let Some(line) = self
            .history
            .len()
            .checked_sub(back + 1)
            .map(|i| &self.history[i])
        else {
            // No older line: what was put stays, and the next Alt-. tries no further.
            if back > 0 {
                self.last = Last::YankedArg {
                    start,
                    len,
                    back: back - 1,
                };
            }
            return Edit::Nothing;
        };
        let word = line.split_whitespace().last().unwrap_or("").to_string();
        self.replace(start, len, &word);
        self.last = Last::YankedArg {
            start,
            len: self.cursor - start,
            back,
        };
        Edit::Changed
    }

    /// Removes `start..end` into the kill ring: added to the newest kill if the last
    /// key killed too (before it for a kill backwards), as readline does.
    fn kill(&mut self, start: usize, end: usize, side: Side, last: &Last) {
        let text: String = self.line.drain(start..end).collect();
        self.cursor = start;
        match self.kills.front_mut() {
            Some(newest) if *last == Last::Kill => match side {
                Side::Before => newest.insert_str(0, &text),
                Side::After => newest.push_str(&text),
            },
            _ => {
                self.kills.push_front(text);
                self.kills.truncate(KILL_RING);
            }
        }
        self.last = Last::Kill;
    }

    /// Puts `text` at the cursor, and the cursor after it.
    fn insert(&mut self, text: &str) {
        let at = self.cursor;
        self.line.splice(at..at, text.chars());
        self.cursor = at + text.chars().count();
    }

    /// Puts `text` in place of the `len` characters at `start`, the cursor after it.
    fn replace(&mut self, start: usize, len: usize, text: &str) {
        let end = (start + len).min(self.line.len());
        let start = start.min(end);
        self.line.drain(start..end);
        self.cursor = start;
        self.insert(text);
    }

    /// Where Alt-b goes: back over what is not a word, then over the word.
    fn word_start(&self) -> usize {
        let mut at = self.cursor;
        while at > 0 && !self.line[at - 1].is_alphanumeric() {
            at -= 1;
        }
        while at > 0 && self.line[at - 1].is_alphanumeric() {
            at -= 1;
        }
        at
    }

    /// Where Alt-f goes: over what is not a word, then to the end of the word.
    fn word_end(&self) -> usize {
        let mut at = self.cursor;
        while at < self.line.len() && !self.line[at].is_alphanumeric() {
            at += 1;
        }
        while at < self.line.len() && self.line[at].is_alphanumeric() {
            at += 1;
        }
        at
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

    /// An editor after typing `bytes`, and what the keys did.
    fn after(bytes: &[u8]) -> (Editor, Vec<Edit>) {
        let mut e = Editor::new();
        let edits = typed(&mut e, &mut KeyDecoder::default(), bytes);
        (e, edits)
    }

    /// The line with `|` where the cursor is.
    fn shown(e: &Editor) -> String {
        let mut text: String = e.line[..e.cursor].iter().collect();
        text.push('|');
        text.extend(&e.line[e.cursor..]);
        text
    }

    #[test]
    fn alt_b_and_alt_f_move_by_words_of_letters_and_digits() {
        let (mut e, _) = after(b"see you at 10:30, ok?");
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, b"\x1bb");
        assert_eq!(shown(&e), "see you at 10:30, |ok?");
        typed(&mut e, &mut d, b"\x1bb\x1b[1;5D");
        assert_eq!(shown(&e), "see you at |10:30, ok?");
        typed(&mut e, &mut d, b"\x1bb\x1bb\x1bb\x1bb");
        assert_eq!(shown(&e), "|see you at 10:30, ok?");
        typed(&mut e, &mut d, b"\x1bf");
        assert_eq!(shown(&e), "see| you at 10:30, ok?");
        typed(&mut e, &mut d, b"\x1b[1;5C\x1b[5C\x1bO5C");
        assert_eq!(shown(&e), "see you at 10|:30, ok?");
        typed(&mut e, &mut d, b"\x1bf\x1bf");
        assert_eq!(shown(&e), "see you at 10:30, ok|?");
        typed(&mut e, &mut d, b"\x1bf");
        assert_eq!(shown(&e), "see you at 10:30, ok?|");
        assert_eq!(typed(&mut e, &mut d, b"\x1bf"), vec![Edit::Nothing]);
        let (mut wide, _) = after("héllo wörld".as_bytes());
        typed(&mut wide, &mut d, b"\x1bb");
        assert_eq!(shown(&wide), "héllo |wörld");
    }

    #[test]
    fn alt_d_and_alt_backspace_kill_a_word_and_ctrl_w_kills_to_a_space() {
        let (mut e, _) = after(b"say hello-world now");
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, b"\x1b\x7f");
        assert_eq!(shown(&e), "say hello-world |");
        typed(&mut e, &mut d, b"\x1b\x7f");
        assert_eq!(shown(&e), "say hello-|");
        let (mut e, _) = after(b"say hello-world now");
        typed(&mut e, &mut d, b"\x01\x1bd");
        assert_eq!(shown(&e), "| hello-world now");
        typed(&mut e, &mut d, b"\x1bd");
        assert_eq!(shown(&e), "|-world now");
        let (mut e, _) = after(b"say hello-world now");
        typed(&mut e, &mut d, b"\x1bb\x17");
        assert_eq!(
            shown(&e),
            "say |now",
            "Ctrl-W: back to a space, as readline"
        );
        // Nothing to kill: nothing happens.
        assert_eq!(
            typed(&mut e, &mut d, b"\x01\x1b\x7f\x17"),
            vec![Edit::Changed, Edit::Nothing, Edit::Nothing]
        );
    }

    #[test]
    fn ctrl_k_kills_to_the_end_and_ctrl_y_yanks_it_back_anywhere() {
        let (mut e, _) = after(b"keep this, move that");
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, b"\x1bb\x1bb\x0b");
        assert_eq!(shown(&e), "keep this, |");
        typed(&mut e, &mut d, b"\x01\x19");
        assert_eq!(shown(&e), "move that|keep this, ");
        typed(&mut e, &mut d, b"\x05\x19");
        assert_eq!(shown(&e), "move thatkeep this, move that|");
        // Every kill goes into the ring: Ctrl-U, Ctrl-W, Alt-d, Alt-Backspace.
        let (mut e, _) = after(b"one two");
        typed(&mut e, &mut d, b"\x15\x19");
        assert_eq!(shown(&e), "one two|");
        for (keys, killed) in [
            (&b"\x17"[..], "two"),
            (b"\x1b\x7f", "two"),
            (b"\x01\x0b", "one two"),
            (b"\x01\x1bd", "one"),
        ] {
            let (mut e, _) = after(b"one two");
            typed(&mut e, &mut d, keys);
            assert_eq!(
                e.kills.front().map(String::as_str),
                Some(killed),
                "{keys:?}"
            );
        }
        // An empty ring yanks nothing.
        let (mut empty, _) = after(b"x");
        assert_eq!(typed(&mut empty, &mut d, b"\x19"), vec![Edit::Nothing]);
    }

    #[test]
    fn kills_in_a_row_make_one_kill_and_alt_y_yanks_older_ones() {
        let (mut e, _) = after(b"alpha beta gamma delta");
        let mut d = KeyDecoder::default();
        // Two kills backwards in a row: one entry, in the line's order.
        typed(&mut e, &mut d, b"\x1b\x7f\x1b\x7f");
        assert_eq!(shown(&e), "alpha beta |");
        assert_eq!(e.kills.front().map(String::as_str), Some("gamma delta"));
        // A key between kills starts a new entry.
        typed(&mut e, &mut d, b"\x01\x1bd\x1bd");
        assert_eq!(e.kills.front().map(String::as_str), Some("alpha beta"));
        typed(&mut e, &mut d, b"\x0b\x19");
        assert_eq!(shown(&e), "alpha beta |", "Ctrl-K added the space");
        typed(&mut e, &mut d, b"\x1by");
        assert_eq!(shown(&e), "gamma delta|");
        typed(&mut e, &mut d, b"\x1by");
        assert_eq!(shown(&e), "alpha beta |", "around the ring");
        // Alt-y only right after a yank.
        typed(&mut e, &mut d, b"x");
        assert_eq!(typed(&mut e, &mut d, b"\x1by"), vec![Edit::Nothing]);
        // The ring is bounded.
        let mut e = Editor::new();
        for i in 0..KILL_RING + 5 {
            typed(&mut e, &mut d, format!("k{i}\x15x").as_bytes());
        }
        assert_eq!(e.kills.len(), KILL_RING);
    }

    #[test]
    fn alt_dot_puts_the_last_word_of_earlier_lines() {
        let (mut e, _) = after(b"/msg bob hi there\rlook at alice\r");
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, b"hey \x1b.");
        assert_eq!(shown(&e), "hey alice|");
        typed(&mut e, &mut d, b"\x1b.");
        assert_eq!(shown(&e), "hey there|");
        assert_eq!(typed(&mut e, &mut d, b"\x1b."), vec![Edit::Nothing]);
        assert_eq!(shown(&e), "hey there|", "no older line: it stays");
        typed(&mut e, &mut d, b" \x1b.");
        assert_eq!(shown(&e), "hey there alice|", "a new Alt-. starts again");
        let (mut fresh, _) = after(b"");
        assert_eq!(typed(&mut fresh, &mut d, b"\x1b."), vec![Edit::Nothing]);
        assert_eq!(fresh.text(), "", "not a '.'");
    }

    #[test]
    fn ctrl_r_finds_earlier_lines_and_enter_sends_the_match() {
        let (mut e, _) = after(b"hello there\rsee you soon\rhelp me\rdraft");
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, b"\x12");
        assert_eq!(e.search_label().as_deref(), Some("(search '') "));
        typed(&mut e, &mut d, b"he");
        assert_eq!(e.search_label().as_deref(), Some("(search 'he') "));
        assert_eq!(shown(&e), "|help me");
        typed(&mut e, &mut d, b"l");
        assert_eq!(shown(&e), "|help me");
        typed(&mut e, &mut d, b"\x12");
        assert_eq!(shown(&e), "|hello there", "the next older match");
        typed(&mut e, &mut d, b"\x12");
        assert_eq!(e.search_label().as_deref(), Some("(failed search 'hel') "));
        assert_eq!(shown(&e), "|hello there", "the last match stays");
        // Backspace widens: from the newest line again.
        typed(&mut e, &mut d, b"\x7f\x7f\x7fsoon");
        assert_eq!(shown(&e), "see you |soon");
        typed(&mut e, &mut d, b"X");
        assert_eq!(
            e.search_label().as_deref(),
            Some("(failed search 'soonX') ")
        );
        typed(&mut e, &mut d, b"\x7f");
        assert_eq!(
            typed(&mut e, &mut d, b"\r"),
            vec![Edit::Submit("see you soon".into())],
            "Enter sends the match, as in bash"
        );
        assert_eq!(e.search_label(), None);
        assert_eq!(e.history.last().map(String::as_str), Some("see you soon"));
    }

    #[test]
    fn ctrl_g_or_escape_leaves_a_search_with_the_line_as_it_was() {
        let (mut e, _) = after(b"first\rsecond\rmy dra");
        let mut d = KeyDecoder::default();
        typed(&mut e, &mut d, b"\x1b[D\x12fir");
        assert_eq!(shown(&e), "|first");
        typed(&mut e, &mut d, b"\x07");
        assert_eq!(shown(&e), "my dr|a");
        assert_eq!(e.search_label(), None);
        typed(&mut e, &mut d, b"\x12sec\x1b");
        assert_eq!(shown(&e), "my dr|a");
        // Ctrl-R on an empty search looks for what the last search did.
        typed(&mut e, &mut d, b"\x12\x12");
        assert_eq!(shown(&e), "|second");
        // Another key takes the match into the line and acts on it there.
        typed(&mut e, &mut d, b"\x05!");
        assert_eq!(shown(&e), "second!|");
        assert_eq!(e.search_label(), None);
        // Case aside.
        typed(&mut e, &mut d, b"\x15\x12FIRST\x1b[C");
        assert_eq!(shown(&e), "f|irst");
    }

    #[test]
    fn tab_completes_names_with_a_colon_first_and_cycles() {
        let names = ["bob", "Bea", "carol", "bernard"];
        let commands = ["/who", "/whois", "/nick"];
        let candidates = Candidates {
            names: &names,
            commands: &commands,
        };
        let mut d = KeyDecoder::default();
        let mut e = Editor::new();
        let mut keys = |e: &mut Editor, bytes: &[u8]| -> Vec<Edit> {
            d.feed(bytes)
                .into_iter()
                .map(|k| e.key_completing(k, candidates))
                .collect()
        };
        keys(&mut e, b"b\t");
        assert_eq!(shown(&e), "bob: |");
        keys(&mut e, b"\t");
        assert_eq!(shown(&e), "Bea: |", "in the caller's order, case aside");
        keys(&mut e, b"\t\t");
        assert_eq!(shown(&e), "bob: |", "around again");
        keys(&mut e, b"hi be\t");
        assert_eq!(shown(&e), "bob: hi Bea |", "not the first word: a space");
        keys(&mut e, b"x\t");
        assert_eq!(shown(&e), "bob: hi Bea x|", "another key ended the cycle");
        assert_eq!(keys(&mut e, b"\t"), vec![Edit::Nothing], "no match");
        // In the middle of a line, before a space: no second space.
        let mut e = Editor::new();
        keys(&mut e, b"ask ca about it\x1bb\x1bb\x1bb\x1bf\t");
        assert_eq!(shown(&e), "ask carol| about it");
        // Commands, after a slash at the line's start only.
        let mut e = Editor::new();
        keys(&mut e, b"/WH\t");
        assert_eq!(shown(&e), "/who |");
        keys(&mut e, b"\t");
        assert_eq!(shown(&e), "/whois |");
        let mut e = Editor::new();
        keys(&mut e, b"/msg car\t");
        assert_eq!(shown(&e), "/msg carol |", "a name after a command");
        let mut e = Editor::new();
        keys(&mut e, b"a /ni\t");
        assert_eq!(shown(&e), "a /ni|");
        // Without candidates Tab does nothing.
        let mut plain = Editor::new();
        assert_eq!(plain.key(Key::Tab), Edit::Nothing);
    }
}
