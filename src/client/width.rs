//! How many terminal columns a character takes: 2 for East Asian wide characters and
//! emoji, 0 for combining marks and joiners, 1 for the rest. A small table of ranges,
//! enough for a chat line; not the whole of Unicode's East Asian Width.

/// The columns `c` takes on a terminal.
pub fn char_width(c: char) -> usize {
    let c = c as u32;
    if is_zero_width(c) {
        0
    } else if is_wide(c) {
        2
    } else {
        1
    }
}

/// The columns `c` takes after `prev`: a wide character joined to the one before by
/// a zero-width joiner (👩‍💻, 👨‍👩‍👧) is drawn in that one's columns.
pub fn char_width_after(prev: Option<char>, c: char) -> usize {
    if prev == Some(ZERO_WIDTH_JOINER) && is_wide(c as u32) {
        0
    } else {
        char_width(c)
    }
}

/// The columns `chars` take.
pub fn chars_width(chars: &[char]) -> usize {
    let mut prev = None;
    chars
        .iter()
        .map(|&c| {
            let w = char_width_after(prev, c);
            prev = Some(c);
            w
        })
        .sum()
}

/// The columns `text` takes.
pub fn text_width(text: &str) -> usize {
    let mut prev = None;
    text.chars()
        .map(|c| {
            let w = char_width_after(prev, c);
            prev = Some(c);
            w
        })
        .sum()
}

/// U+200D, which joins emoji into one: kept between two visible characters.
const ZERO_WIDTH_JOINER: char = '\u{200d}';

fn is_zero_width(c: u32) -> bool {
    matches!(
        c,
        0x0300..=0x036f
            | 0x0483..=0x0489
            | 0x0591..=0x05bd
            | 0x0610..=0x061a
            | 0x064b..=0x065f
            | 0x1ab0..=0x1aff
            | 0x1dc0..=0x1dff
            | 0x200b..=0x200f
            | 0x20d0..=0x20ff
            | 0xfe00..=0xfe0f
            | 0xfe20..=0xfe2f
            | 0xe0100..=0xe01ef
    )
}

fn is_wide(c: u32) -> bool {
    matches!(
        c,
        0x1100..=0x115f
            | 0x231a..=0x231b
            | 0x2329..=0x232a
            | 0x23e9..=0x23ec
            | 0x23f0
            | 0x23f3
            | 0x25fd..=0x25fe
            | 0x2614..=0x2615
            | 0x2648..=0x2653
            | 0x267f
            | 0x2693
            | 0x26a1
            | 0x26aa..=0x26ab
            | 0x26bd..=0x26be
            | 0x26c4..=0x26c5
            | 0x26ce
            | 0x26d4
            | 0x26ea
            | 0x26f2..=0x26f3
            | 0x26f5
            | 0x26fa
            | 0x26fd
            | 0x2705
            | 0x270a..=0x270b
            | 0x2728
            | 0x274c
            | 0x274e
            | 0x2753..=0x2755
            | 0x2757
            | 0x2795..=0x2797
            | 0x27b0
            | 0x27bf
            | 0x2b1b..=0x2b1c
            | 0x2b50
            | 0x2b55
            | 0x2e80..=0x303e
            | 0x3041..=0x33ff
            | 0x3400..=0x4dbf
            | 0x4e00..=0x9fff
            | 0xa000..=0xa4cf
            | 0xa960..=0xa97f
            | 0xac00..=0xd7a3
            | 0xf900..=0xfaff
            | 0xfe10..=0xfe19
            | 0xfe30..=0xfe6f
            | 0xff00..=0xff60
            | 0xffe0..=0xffe6
            | 0x16fe0..=0x16fe4
            | 0x17000..=0x18cff
            | 0x1b000..=0x1b2ff
            | 0x1f004
            | 0x1f0cf
            | 0x1f18e
            | 0x1f191..=0x1f19a
            | 0x1f200..=0x1f251
            | 0x1f300..=0x1f64f
            | 0x1f680..=0x1f6ff
            | 0x1f7e0..=0x1f7eb
            | 0x1f90c..=0x1f9ff
            | 0x1fa70..=0x1faff
            | 0x20000..=0x2fffd
            | 0x30000..=0x3fffd
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_emoji_sequence_joined_by_zwj_takes_the_columns_of_one() {
        assert_eq!(text_width("👩\u{200d}💻"), 2);
        assert_eq!(text_width("👨\u{200d}👩\u{200d}👧"), 2);
        assert_eq!(text_width("👩💻"), 4, "not joined: two");
        assert_eq!(chars_width(&['a', '\u{200d}', 'b']), 2);
    }

    use super::*;

    #[test]
    fn ascii_accents_wide_characters_and_emoji() {
        assert_eq!(text_width("hello"), 5);
        assert_eq!(text_width("café"), 4);
        assert_eq!(
            text_width("e\u{301}"),
            1,
            "a combining accent takes no column"
        );
        assert_eq!(text_width("日本語"), 6);
        assert_eq!(text_width("한국"), 4);
        assert_eq!(text_width("😀👍"), 4);
        assert_eq!(text_width("ｌｅｆｔ"), 8, "full width");
        assert_eq!(char_width('✓'), 1);
        assert_eq!(char_width('\u{fe0f}'), 0);
    }
}
