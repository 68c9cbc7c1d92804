//! What may reach a terminal: one policy, applied by the server before it relays text
//! and by our client before it prints what any server sent.
//!
//! Removed: the C0 controls but tab, DEL and the C1 controls (Unicode category Cc),
//! whole escape sequences, and the invisible format characters (category Cf: zero-width
//! spaces and joiners, the bidirectional marks, embeddings, overrides and isolates, the
//! soft hyphen, the byte-order mark, tag characters, …), which could make a line read
//! differently from what it says. A line break inside the text (CR, LF, NEL, U+2028,
//! U+2029, any run of them) becomes one space, so words do not run together and no text
//! can start a line of its own.

use std::borrow::Cow;

/// Decodes text, replacing invalid UTF-8 with U+FFFD rather than failing.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `text` with everything a terminal should not get removed (see the module's policy).
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if is_line_break(c) => {
                while chars.next_if(|&c| is_line_break(c)).is_some() {}
                clean.push(' ');
            }
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => skip_csi(&mut chars),
                // OSC and other strings: up to BEL or ESC \\.
                Some(']' | 'P' | '^' | '_' | 'X') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // A two-character escape such as ESC c (reset): both go.
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            // The joiner of emoji sequences (👩‍💻), between two visible characters only.
            ZERO_WIDTH_JOINER
                if clean
                    .chars()
                    .rev()
                    .find(|&c| !is_invisible(c))
                    .is_some_and(joins)
                    && chars.peek().is_some_and(|&next| joins(next)) =>
            {
                clean.push(c)
            }
            c if is_unsafe(c) => {}
            c => clean.push(c),
        }
    }
    Cow::Owned(clean)
}

/// U+200D ZERO WIDTH JOINER: it makes one emoji of several (👩‍💻 is 👩, the joiner,
/// 💻), so it is kept between two visible characters and removed elsewhere.
const ZERO_WIDTH_JOINER: char = '\u{200d}';

/// Whether `c` may stand on either side of a kept joiner: something visible.
fn joins(c: char) -> bool {
    !c.is_whitespace() && !is_unsafe(c) && !is_invisible(c) && !is_blank(c)
}

/// Whether [`terminal_safe`] removes or replaces `c`: a control but tab, a line
/// separator, or a format character.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t') || is_line_break(c) || is_format(c)
}

/// Whether `c` is an invisible format character (Unicode 15 category Cf).
pub fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// Text as a reader would take it, for comparing with fixed words: invisible characters
/// left out (the ones [`terminal_safe`] keeps, such as variation selectors, which emoji
/// need), every Unicode space or blank one ASCII space (runs collapsed, ends trimmed),
/// and every character folded by [`fold_confusable`]. Apply it to [`terminal_safe`] text, which has no invisible
/// characters left, and to the words compared with it.
pub fn reader_fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if is_invisible(c) || c == ZERO_WIDTH_JOINER {
            continue;
        }
        if c.is_whitespace() || is_blank(c) {
            space = !folded.is_empty();
            continue;
        }
        if space {
            folded.push(' ');
            space = false;
        }
        folded.push(fold_confusable(c));
    }
    folded
}

/// The character `c` reads as, the same for everything that looks alike: lower case;
/// full-width Latin as ASCII; the common Cyrillic and Greek lookalikes as the Latin
/// letters they pass for; `I`, `i`, `l`, `1` and `|` as `l`; `O` and `0` as `o`.
/// Names are unique under it, and `/me` compares through it.
pub fn fold_confusable(c: char) -> char {
    let c = match c {
        // Full-width ASCII.
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        // Cyrillic.
        'а' | 'А' => 'a',
        'В' | 'в' => 'b',
        'с' | 'С' => 'c',
        'ԁ' | 'Ԁ' => 'd',
        'е' | 'Е' | 'ё' | 'Ё' => 'e',
        'Н' | 'н' => 'h',
        'і' | 'І' | 'ї' | 'Ї' => 'i',
        'ј' | 'Ј' => 'j',
        'К' | 'к' => 'k',
        'М' | 'м' => 'm',
        'о' | 'О' => 'o',
        'р' | 'Р' => 'p',
        'ѕ' | 'Ѕ' => 's',
        'Т' | 'т' => 't',
        'х' | 'Х' => 'x',
        'у' | 'У' => 'y',
        // Greek.
        'α' | 'Α' => 'a',
        'Β' | 'β' => 'b',
        'ε' | 'Ε' => 'e',
        'Η' => 'h',
        'ι' | 'Ι' | 'ı' => 'i',
        // Roman numerals.
        'Ⅰ' | 'ⅰ' | 'Ⅼ' | 'ⅼ' => 'l',
        'Ⅴ' | 'ⅴ' => 'v',
        'Ⅹ' | 'ⅹ' => 'x',
        'κ' | 'Κ' => 'k',
        'Μ' => 'm',
        'Ν' => 'n',
        'ν' => 'v',
        'ο' | 'Ο' => 'o',
        'ρ' | 'Ρ' => 'p',
        'τ' | 'Τ' => 't',
        'υ' => 'u',
        'Υ' => 'y',
        'ω' => 'w',
        'χ' | 'Χ' => 'x',
        'Ζ' => 'z',
        c => c,
    };
    match c.to_ascii_lowercase() {
        'i' | 'l' | '1' | '|' => 'l',
        '0' => 'o',
        c => c,
    }
}

/// Whether `c` shows nothing but is not a format character: the combining grapheme
/// joiner, variation selectors, Mongolian free variation selectors (Unicode's default
/// ignorables that [`terminal_safe`] keeps).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{34f}' | '\u{17b4}'..='\u{17b5}' | '\u{180b}'..='\u{180f}' | '\u{fe00}'..='\u{fe0f}'
            | '\u{e0100}'..='\u{e01ef}'
    )
}

/// Whether `c` shows as a blank though it is not a Unicode space: the Hangul fillers and
/// the blank braille pattern.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' | '\u{2800}'
    )
}

/// Whether `c` breaks a line: CR, LF, NEL, the line and paragraph separators.
pub fn is_line_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Skips the rest of a control sequence: bytes 0x20-0x3F, then one final 0x40-0x7E.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars
        .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// The longest start of `text` that fits in `max_bytes`, cut between characters.
pub fn cut(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_is_lossy_not_failing() {
        assert_eq!(decode(b"caf\xc3\xa9"), "café");
        assert_eq!(decode(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(decode(b"\xc3"), "\u{fffd}");
    }

    #[test]
    fn controls_and_whole_escape_sequences_go_but_tab_and_unicode_stay() {
        assert_eq!(
            terminal_safe("a\x1b[31mb\x07cd\x7fe\u{9b}1;2Hf\tg é ✓"),
            "abcdef\tg é ✓"
        );
        assert_eq!(terminal_safe("\x1b[2J\x1b[0;31mred\x1b[0m"), "red");
        assert_eq!(terminal_safe("\x1b]0;title\x07after"), "after");
        assert_eq!(terminal_safe("\x1b]8;;http://x\x1b\\link"), "link");
        assert_eq!(terminal_safe("\x1bcreset"), "reset");
        assert_eq!(terminal_safe("trailing\x1b"), "trailing");
        assert_eq!(terminal_safe("\x1b["), "");
        assert!(matches!(terminal_safe("clean ✓ 日本"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_line_break_becomes_one_space() {
        assert_eq!(
            terminal_safe("two\nlines\r\nhere\rtoo\u{85}and\u{2028}more\u{2029}\n\rend"),
            "two lines here too and more end"
        );
    }

    #[test]
    fn invisible_format_characters_go() {
        for c in [
            '\u{200b}',
            '\u{200c}',
            '\u{2060}',
            '\u{feff}',
            '\u{200e}',
            '\u{200f}',
            '\u{61c}',
            '\u{ad}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e007f}',
            '\u{fff9}',
            '\u{fffb}',
            '\u{202e}',
            '\u{2067}',
            '\u{2066}',
            '\u{202a}',
        ] {
            assert_eq!(
                terminal_safe(&format!("l{c}eft")),
                "left",
                "U+{:04X}",
                c as u32
            );
            assert!(is_unsafe(c));
        }
    }

    #[test]
    fn the_emoji_joiner_stays_between_two_visible_characters_only() {
        for kept in [
            "👩\u{200d}💻",
            "👨\u{200d}👩\u{200d}👧",
            "a 🏳\u{fe0f}\u{200d}🌈 b",
        ] {
            assert_eq!(terminal_safe(kept), kept, "{kept:?}");
        }
        for (text, safe) in [
            ("\u{200d}👩", "👩"),
            ("👩\u{200d}", "👩"),
            ("👩 \u{200d}💻", "👩 💻"),
            ("👩\u{200d}\u{200d}💻", "👩\u{200d}💻"),
            ("👩\u{200d}\u{200b}💻", "👩💻"),
            ("👩\u{200d}\x1b[31m💻", "👩💻"),
        ] {
            assert_eq!(terminal_safe(text), safe, "{text:?}");
        }
        // A reader sees through it, so `/me jo\u{200d}ined` reads as `joined`.
        assert_eq!(reader_fold("jo\u{200d}ined"), reader_fold("joined"));
    }

    #[test]
    fn visible_characters_are_not_format_characters() {
        for c in [
            'a', ' ', '\u{a0}', '\u{2009}', 'е', '日', '😀', '\u{fffd}', '\u{301}',
        ] {
            assert!(!is_format(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn the_reader_fold_sees_through_spaces_and_lookalikes() {
        let left = reader_fold("left");
        for twin in ["lеft", "LΕFT", "ｌｅｆｔ", "Ieft", "1eft", "|eft"] {
            assert_eq!(reader_fold(twin), left, "{twin}");
        }
        assert_eq!(reader_fold("remoνed"), reader_fold("removed"));
        assert_eq!(reader_fold("oυt"), reader_fold("out"));
        assert_eq!(reader_fold("ωas"), reader_fold("was"));
        assert_eq!(reader_fold("j0ined"), reader_fold("joined"));
        assert_eq!(reader_fold("joıned"), reader_fold("joined"));
        assert_eq!(reader_fold("ⅼeft"), reader_fold("left"));
        for hidden in ["l\u{34f}eft", "le\u{fe0f}ft", "left\u{3164}"] {
            assert_eq!(reader_fold(hidden), reader_fold("left"), "{hidden:?}");
        }
        for blank in ['\u{2800}', '\u{3164}', '\u{ffa0}'] {
            assert_eq!(
                reader_fold(&format!("timed{blank}out")),
                reader_fold("timed out")
            );
        }
        assert_eq!(reader_fold("jоіnеd"), reader_fold("joined"));
        assert_eq!(reader_fold("timed\u{a0}out"), reader_fold("timed out"));
        assert_eq!(
            reader_fold("timed\u{2009}\u{3000} out "),
            reader_fold("timed out")
        );
        assert_eq!(reader_fold("  is   now "), "ls now");
        assert_ne!(
            reader_fold("ψave"),
            reader_fold("wave"),
            "not every letter is a lookalike"
        );
    }
}
