//! Terminal bytes to keys: control characters, `ESC [ …` and `ESC O …` sequences
//! (arrows and their Ctrl and Alt forms), Alt as an ESC before a key, and UTF-8,
//! across reads. What no key reads as is skipped whole, never typed.

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
    /// Tab: complete a name or a command.
    Tab,
    /// Escape alone (nothing after it in the same read): leaves a search.
    Escape,
    /// Alt-b, Ctrl-Left, Alt-Left: to the start of this or the previous word.
    WordLeft,
    /// Alt-f, Ctrl-Right, Alt-Right: to the end of this or the next word.
    WordRight,
    /// Ctrl-W: kill back to the previous space.
    DeleteWord,
    /// Alt-Backspace: kill the word before the cursor (letters and digits).
    KillWordBefore,
    /// Alt-d, Ctrl-Delete: kill the word after the cursor.
    KillWordAfter,
    /// Ctrl-U: kill the line before the cursor.
    DeleteToStart,
    /// Ctrl-K: kill the line after the cursor.
    KillToEnd,
    /// Ctrl-Y: put back the last kill.
    Yank,
    /// Alt-y, after Ctrl-Y: the kill before that one instead.
    YankPop,
    /// Alt-.: the last word of the previous line; again, of the line before.
    YankLastArg,
    /// Ctrl-R: search this session's lines backwards.
    SearchBack,
    /// Ctrl-G: leave a search, the line as it was.
    Cancel,
    /// Ctrl-L: draw the screen again.
    Redraw,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D.
    EndOfInput,
    /// Ctrl-Z.
    Suspend,
}

/// Turns a terminal's bytes into keys, across reads: a key's bytes may arrive split.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    pending: Vec<u8>,
}

/// The longest unfinished escape sequence kept waiting for its end: past it, the
/// bytes are no key, and are skipped.
const MAX_SEQUENCE: usize = 16;
/// The longest operating system command (`ESC ] … BEL`) waited for whole.
const MAX_STRING: usize = 512;

const ESC: u8 = 0x1b;

impl KeyDecoder {
    /// Decodes what can be decoded of `bytes` (after what was pending). `bytes` is one
    /// read: an ESC that ends it is the Escape key (as readline takes it), since a
    /// terminal writes a key's sequence whole.
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
        if self.pending == [ESC] {
            self.pending.clear();
            keys.push(Key::Escape);
        }
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
        b'\t' => key(Key::Tab, 1),
        0x01 => key(Key::Home, 1),
        0x05 => key(Key::End, 1),
        0x02 => key(Key::Left, 1),
        0x06 => key(Key::Right, 1),
        0x10 => key(Key::Up, 1),
        0x0e => key(Key::Down, 1),
        0x17 => key(Key::DeleteWord, 1),
        0x15 => key(Key::DeleteToStart, 1),
        0x0b => key(Key::KillToEnd, 1),
        0x19 => key(Key::Yank, 1),
        0x12 => key(Key::SearchBack, 1),
        0x07 => key(Key::Cancel, 1),
        0x0c => key(Key::Redraw, 1),
        0x03 => key(Key::Interrupt, 1),
        0x04 => key(Key::EndOfInput, 1),
        0x1a => key(Key::Suspend, 1),
        ESC => decode_escape(bytes),
        b if b < 0x20 => Decoded::Key(None, 1),
        _ => match decode_char(bytes) {
            Some((c, len)) => Decoded::Key(c.map(Key::Char), len),
            None => Decoded::Incomplete,
        },
    }
}

/// The character `bytes` start with and its length; `None` for a character not yet
/// complete. A character that may not reach a terminal may not be typed either, and
/// bytes that are not UTF-8 are no character.
fn decode_char(bytes: &[u8]) -> Option<(Option<char>, usize)> {
    let len = match bytes[0] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    };
    if bytes.len() < len {
        return None;
    }
    Some(match std::str::from_utf8(&bytes[..len]) {
        Ok(text) => (
            text.chars()
                .next()
                .filter(|&c| !crate::proto::text::is_unsafe(c)),
            len,
        ),
        Err(_) => (None, 1),
    })
}

/// What starts with ESC: a CSI (`ESC [`) or SS3 (`ESC O`) sequence, or Alt and a key.
fn decode_escape(bytes: &[u8]) -> Decoded {
    let Some(&next) = bytes.get(1) else {
        return Decoded::Incomplete;
    };
    match next {
        b'[' | b'O' => decode_sequence(bytes),
        // An operating system command (a window title), which a terminal never sends
        // as a key, pasted: skipped whole, up to its BEL or ST (`ESC \`).
        b']' => decode_string(bytes),
        b'b' | b'B' => Decoded::Key(Some(Key::WordLeft), 2),
        b'f' | b'F' => Decoded::Key(Some(Key::WordRight), 2),
        b'd' | b'D' => Decoded::Key(Some(Key::KillWordAfter), 2),
        b'y' | b'Y' => Decoded::Key(Some(Key::YankPop), 2),
        b'.' | b'_' => Decoded::Key(Some(Key::YankLastArg), 2),
        0x7f | 0x08 => Decoded::Key(Some(Key::KillWordBefore), 2),
        // Escape, then another key that starts with ESC: the next key stays whole.
        ESC => Decoded::Key(Some(Key::Escape), 1),
        // Alt and a control key (Alt-Enter, Alt-Tab): the key as it is.
        b if b < 0x20 => Decoded::Key(None, 1),
        // Alt and a character no key is bound to: nothing, not the character.
        _ => match decode_char(&bytes[1..]) {
            Some((_, len)) => Decoded::Key(None, 1 + len),
            None => Decoded::Incomplete,
        },
    }
}

/// `ESC ] … BEL` or `ESC ] … ESC \`: nothing, skipped whole; one that never ends is
/// given up after [`MAX_STRING`] bytes.
fn decode_string(bytes: &[u8]) -> Decoded {
    for (i, pair) in bytes.windows(2).enumerate().skip(1) {
        if pair[1] == 0x07 {
            return Decoded::Key(None, i + 2);
        }
        if pair == [ESC, b'\\'] {
            return Decoded::Key(None, i + 2);
        }
    }
    if bytes.len() > MAX_STRING {
        Decoded::Key(None, bytes.len())
    } else {
        Decoded::Incomplete
    }
}

/// `ESC [ params final` or `ESC O params final`: arrows, Home, End, Delete, with a
/// modifier (`ESC[1;5D` Ctrl-Left, `ESC[1;3D` Alt-Left, `ESC[5D`, `ESC O5D`); rxvt's
/// `ESC Od`/`ESC Oc` for Ctrl-Left/Right. Anything else is skipped whole.
fn decode_sequence(bytes: &[u8]) -> Decoded {
    // Parameters (digits, `;`, …), intermediates, then one final byte.
    let mut end = 2;
    while end < bytes.len() && (0x20..=0x3f).contains(&bytes[end]) {
        end += 1;
    }
    let Some(&last) = bytes.get(end) else {
        // Not ended yet: wait for the rest, but not forever.
        if end > MAX_SEQUENCE {
            return Decoded::Key(None, end);
        }
        return Decoded::Incomplete;
    };
    if !(0x40..=0x7e).contains(&last) {
        // No final byte: the sequence ends here and what follows is a key of its own.
        return Decoded::Key(None, end);
    }
    let params = &bytes[2..end];
    let mut numbers = params.split(|&b| b == b';').map(|n| {
        std::str::from_utf8(n)
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
    });
    let first = numbers.next().flatten();
    let modifier = numbers.next().flatten();
    // `ESC[1;5D` says the modifier second; `ESC[5D` and `ESC O5D` say it alone.
    let modifier = match (first, modifier) {
        (_, Some(m)) => m,
        (Some(m), None) if last != b'~' => m,
        _ => 1,
    };
    // xterm's modifier is 1 + a bit set: Shift 1, Alt 2, Ctrl 4.
    let by_word = modifier.saturating_sub(1) & 0b110 != 0;
    let key = match last {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' if by_word => Some(Key::WordRight),
        b'D' if by_word => Some(Key::WordLeft),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'c' if bytes[1] == b'O' => Some(Key::WordRight),
        b'd' if bytes[1] == b'O' => Some(Key::WordLeft),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        b'~' => match first {
            Some(1 | 7) => Some(Key::Home),
            Some(4 | 8) => Some(Key::End),
            Some(3) if by_word => Some(Key::KillWordAfter),
            Some(3) => Some(Key::Delete),
            _ => None,
        },
        _ => None,
    };
    Decoded::Key(key, end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    // Found in a trial: a pasted window-title sequence left `0;pwned` to be sent.
    #[test]
    fn a_pasted_title_sequence_is_skipped_whole_even_split() {
        let mut decoder = KeyDecoder::default();
        assert_eq!(
            decoder.feed(b"a\x1b]0;pwned\x07b"),
            vec![Key::Char('a'), Key::Char('b')]
        );
        assert_eq!(decoder.feed(b"\x1b]2;a long window title, "), vec![]);
        assert_eq!(
            decoder.feed(b"split across reads\x1b\\c"),
            vec![Key::Char('c')]
        );
        // One that never ends is given up, not waited for for ever.
        let endless = [b'x'; MAX_STRING + 8];
        let mut keys = decoder.feed(b"\x1b]");
        keys.extend(decoder.feed(&endless));
        assert!(keys.len() < 16, "{}", keys.len());
    }

    #[test]
    fn alt_keys_arrive_as_an_escape_before_the_key() {
        let mut decoder = KeyDecoder::default();
        assert_eq!(
            decoder.feed(b"\x1bb\x1bf\x1bd\x1b\x7f\x1b\x08\x1b.\x1by"),
            vec![
                Key::WordLeft,
                Key::WordRight,
                Key::KillWordAfter,
                Key::KillWordBefore,
                Key::KillWordBefore,
                Key::YankLastArg,
                Key::YankPop
            ]
        );
        // Split after the ESC, the pair still reads as Alt-b only if it comes whole:
        // an ESC that ends a read is Escape.
        assert_eq!(decoder.feed(b"\x1b"), vec![Key::Escape]);
        assert_eq!(decoder.feed(b"b"), vec![Key::Char('b')]);
    }

    #[test]
    fn ctrl_and_alt_arrows_move_by_word_in_every_form_terminals_send() {
        let mut decoder = KeyDecoder::default();
        let forms: [(&[u8], Key); 10] = [
            (b"\x1b[1;5D", Key::WordLeft),
            (b"\x1b[1;5C", Key::WordRight),
            (b"\x1b[5D", Key::WordLeft),
            (b"\x1b[5C", Key::WordRight),
            (b"\x1bO5D", Key::WordLeft),
            (b"\x1bO5C", Key::WordRight),
            (b"\x1b[1;3D", Key::WordLeft),
            (b"\x1b[1;3C", Key::WordRight),
            (b"\x1bOd", Key::WordLeft),
            (b"\x1bOc", Key::WordRight),
        ];
        for (bytes, key) in forms {
            assert_eq!(decoder.feed(bytes), vec![key], "{bytes:?}");
        }
        // Shift alone does not make an arrow a word motion.
        assert_eq!(decoder.feed(b"\x1b[1;2D"), vec![Key::Left]);
        assert_eq!(decoder.feed(b"\x1b[3;5~"), vec![Key::KillWordAfter]);
        assert_eq!(decoder.feed(b"\x1b[1;5H"), vec![Key::Home]);
    }

    #[test]
    fn control_keys_for_killing_yanking_searching_and_completing() {
        let mut decoder = KeyDecoder::default();
        assert_eq!(
            decoder.feed(b"\x0b\x19\x12\x07\t"),
            vec![
                Key::KillToEnd,
                Key::Yank,
                Key::SearchBack,
                Key::Cancel,
                Key::Tab
            ]
        );
    }

    #[test]
    fn a_lone_escape_is_a_key_and_unknown_sequences_insert_nothing() {
        let mut decoder = KeyDecoder::default();
        assert_eq!(decoder.feed(b"\x1b"), vec![Key::Escape]);
        assert_eq!(decoder.feed(b"x\x1b"), vec![Key::Char('x'), Key::Escape]);
        assert_eq!(
            decoder.feed(b"\x1b\x1b[A"),
            vec![Key::Escape, Key::Up],
            "Escape, then an arrow"
        );
        // Alt and a key nothing is bound to: nothing at all.
        assert_eq!(decoder.feed(b"\x1bx\x1bQ"), vec![]);
        assert_eq!(decoder.feed("\x1bé!".as_bytes()), vec![Key::Char('!')]);
        // Sequences no key reads as: skipped whole, function keys and mouse reports
        // among them, however they are split.
        assert_eq!(decoder.feed(b"\x1b[15~\x1b[200~\x1bOP"), vec![]);
        assert_eq!(decoder.feed(b"\x1b[<0;12;"), vec![]);
        assert_eq!(decoder.feed(b"4M!"), vec![Key::Char('!')]);
        // One that never ends is not kept waiting for its end.
        assert_eq!(decoder.feed(b"\x1b[1;2;3;4;5;6;7;8;9;0"), vec![]);
        assert_eq!(decoder.feed(b"z"), vec![Key::Char('z')]);
        // A sequence cut by a control byte: the byte is a key of its own.
        assert_eq!(decoder.feed(b"\x1b[1\r"), vec![Key::Enter]);
        // Alt-Enter is Enter.
        assert_eq!(decoder.feed(b"\x1b\r"), vec![Key::Enter]);
    }
}
