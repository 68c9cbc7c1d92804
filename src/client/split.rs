//! Splitting a long typed line into messages the server will take, each meaning what
//! the whole line meant.

use std::borrow::Cow;

use crate::proto::text::is_line_break;
use crate::proto::{parse_chat, Chat, Command};

/// Splits a typed line into messages of at most `max_bytes` bytes (at least 32), never
/// inside a UTF-8 character, so that every piece means what the whole line meant:
///
/// - chat text: a continuation starting with `/` is sent as `//…`, and none is so short
///   that it could be `quit` or `@im@`;
/// - `/msg WHO TEXT` and `/me ACTION`: each piece repeats `/msg WHO ` or `/me `, so no
///   part of a private message goes to everyone;
/// - any other command is sent whole (the server answers if it is too long).
///
/// A line break inside the line (a run of CR, LF or another line separator, say from a
/// paste) becomes one space first, as the server would make it: the server trims line
/// ends, so a piece ending in one could otherwise shrink to `quit`.
pub fn split_typed_line(line: &str, max_bytes: usize) -> Vec<String> {
    let line = join_line_breaks(line);
    split_line(&line, max_bytes.max(32))
        .into_iter()
        .map(Cow::into_owned)
        .collect()
}

/// Replaces each run of line breaks with one space.
fn join_line_breaks(text: &str) -> Cow<'_, str> {
    if !text.contains(is_line_break) {
        return Cow::Borrowed(text);
    }
    let mut joined = String::with_capacity(text.len());
    let mut in_break = false;
    for c in text.chars() {
        let is_break = is_line_break(c);
        if !is_break {
            joined.push(c);
        } else if !in_break {
            joined.push(' ');
        }
        in_break = is_break;
    }
    Cow::Owned(joined)
}

/// [`split_typed_line`] for a line without line breaks; `max_bytes` is at least 32.
fn split_line(line: &str, max_bytes: usize) -> Vec<Cow<'_, str>> {
    let body_at = match parse_chat(line) {
        Chat::Text(_) => return split_chat(line, max_bytes),
        Chat::Command(Command::Msg { text, .. } | Command::Me(text)) if !text.is_empty() => {
            text.as_ptr() as usize - line.as_ptr() as usize
        }
        Chat::Command(_) => return vec![Cow::Borrowed(line)],
    };
    let (prefix, body) = line.split_at(body_at);
    // Room for at least two tails' worth of text per piece, or it goes whole.
    if line.len() <= max_bytes || prefix.len() + 2 * MIN_TAIL > max_bytes {
        return vec![Cow::Borrowed(line)];
    }
    let size = max_bytes - prefix.len();
    split_at_boundaries(body, size, size)
        .into_iter()
        .map(|piece| Cow::Owned(format!("{prefix}{piece}")))
        .collect()
}

/// The least length of the last piece of a split chat line: longer than any protocol
/// word, so a tail can never be `quit` or `@im@`.
const MIN_TAIL: usize = 8;

/// Splits chat text (see [`split_typed_line`]).
fn split_chat(line: &str, max_bytes: usize) -> Vec<Cow<'_, str>> {
    // One byte spare in continuations for the escaping slash.
    split_at_boundaries(line, max_bytes, max_bytes - 1)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            if i > 0 && piece.starts_with('/') {
                Cow::Owned(format!("/{piece}"))
            } else {
                Cow::Borrowed(piece)
            }
        })
        .collect()
}

/// Cuts `text` into pieces of at most `first_max` then `rest_max` bytes at character
/// boundaries (after a space when one is in the second half of the piece), the last
/// piece at least [`MIN_TAIL`] bytes when there are several. Every piece holds at least
/// one character, so limits of 16 bytes and more are kept exactly.
fn split_at_boundaries(text: &str, first_max: usize, rest_max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut limit = first_max;
    while !rest.is_empty() {
        let mut cut = rest.len().min(limit);
        if cut < rest.len() && rest.len() - cut < MIN_TAIL {
            cut = rest.len() - MIN_TAIL;
        }
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            // Never an empty piece: at least one whole character, so the loop ends.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        } else if cut < rest.len() {
            // Between words if a space is near the end, so no word is cut in two.
            if let Some(space) = rest[..cut].rfind(' ').filter(|&at| at >= cut / 2) {
                cut = space + 1;
            }
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
        limit = rest_max;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{parse_request, Request};

    #[test]
    fn split_chat_keeps_continuations_plain_text() {
        let line = format!("{}/nick xyz", "a".repeat(32));
        let pieces = split_typed_line(&line, 32);
        assert_eq!(pieces, vec!["a".repeat(32), "//nick xyz".to_string()]);
        // A tail that would be "quit" takes a few bytes from the piece before it.
        let line = format!("{}quit", "b".repeat(32));
        let pieces = split_typed_line(&line, 32);
        assert_eq!(pieces, vec!["b".repeat(28), "bbbbquit".to_string()]);
        for piece in &pieces[1..] {
            assert!(matches!(parse_request(piece.as_bytes()), Request::Text(_)));
        }
        assert_eq!(split_typed_line("short", 1024), vec!["short"]);
        assert!(split_typed_line("", 1024).is_empty());
    }

    #[test]
    fn split_chat_respects_the_limit_and_characters() {
        let line = format!("x{}", "é/".repeat(900));
        let pieces = split_typed_line(&line, 1024);
        for piece in &pieces {
            assert!(piece.len() <= 1024, "{}", piece.len());
        }
        let rejoined: String = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i > 0 && p.starts_with("//") {
                    &p[1..]
                } else {
                    &p[..]
                }
            })
            .collect();
        assert_eq!(rejoined, line);
    }

    #[test]
    fn line_breaks_inside_a_typed_line_become_spaces_before_splitting() {
        // A piece ending in CRs would be trimmed by the server to `quit` (a fuzz find).
        let line = format!("{}quit\r\r\r\r\r\r\r\r\r\r", "x".repeat(40));
        let pieces = split_typed_line(&line, 32);
        for piece in &pieces[1..] {
            assert!(
                matches!(parse_request(piece.as_bytes()), Request::Text(_)),
                "{piece:?}"
            );
        }
        assert_eq!(split_typed_line("a\r\nb\nc", 32), vec!["a b c"]);
    }

    #[test]
    fn splitting_prefers_spaces_between_words() {
        let line = "lorem ipsum dolor sit amet ".repeat(3);
        let pieces = split_typed_line(&line, 32);
        assert_eq!(pieces[0], "lorem ipsum dolor sit amet ");
        assert_eq!(pieces.concat(), line);
    }

    #[test]
    fn splitting_ends_and_keeps_its_promises_for_every_short_case() {
        // Every text of up to 7 characters from a mix of 1-, 2- and 3-byte characters,
        // after every length of /msg prefix that leaves room (or none) within 32 bytes.
        let alphabet = ["a", "é", "✓"];
        let mut texts = vec![String::new()];
        for _ in 0..7 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        for who_len in 1..=26 {
            let prefix = format!("/msg {} ", "w".repeat(who_len));
            for text in texts.iter().filter(|t| !t.is_empty()) {
                let line = format!("{prefix}{text}");
                let pieces = split_typed_line(&line, 32);
                if pieces.len() == 1 && pieces[0] == line.as_str() {
                    continue;
                }
                let mut body = String::new();
                for piece in &pieces {
                    assert!(piece.len() <= 32, "{line:?} gave {piece:?}");
                    body.push_str(piece.strip_prefix(prefix.as_str()).expect("prefix kept"));
                }
                assert_eq!(&body, text);
            }
        }
    }

    #[test]
    fn long_private_messages_and_actions_stay_what_they_are() {
        let text = "y".repeat(50);
        let line = format!("/msg bob {text}");
        let pieces = split_typed_line(&line, 40);
        assert!(pieces.len() > 1);
        let mut body = String::new();
        for piece in &pieces {
            assert!(piece.len() <= 40);
            let rest = piece
                .strip_prefix("/msg bob ")
                .expect("every piece is a /msg");
            body.push_str(rest);
        }
        assert_eq!(body, text);
        let line = format!("/ME {text}");
        let pieces = split_typed_line(&line, 40);
        assert!(pieces.iter().all(|p| p.starts_with("/ME ")), "{pieces:?}");
        // Multi-byte text right at the edge of a tail still ends (it once looped).
        let line = format!("/msg {} é1234567", "z".repeat(1010));
        assert_eq!(
            split_typed_line(&line, 1024),
            vec![line.as_str()],
            "no room: whole"
        );
        let line = format!("/msg {} éé1234567890123456", "w".repeat(10));
        let pieces = split_typed_line(&line, 32);
        assert!(pieces.len() > 1);
        assert!(pieces
            .iter()
            .all(|p| p.len() <= 32 && p.starts_with("/msg wwwwwwwwww ")));
        // Other commands go whole; so does a /msg whose prefix leaves no room.
        let long_nick = format!("/nick {text}");
        assert_eq!(split_typed_line(&long_nick, 40), vec![long_nick.as_str()]);
        let long_target = format!("/msg {} hi", "z".repeat(40));
        assert_eq!(
            split_typed_line(&long_target, 40),
            vec![long_target.as_str()]
        );
    }
}
