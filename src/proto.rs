//! The wire format: what a datagram means and how the lines we send are written.
//!
//! Pure functions over bytes and strings; nothing here touches a socket, so every
//! rule of the protocol is a unit test with byte literals. `docs/PROTOCOL.md` is the
//! prose version of this file.

use std::borrow::Cow;

/// The heartbeat a client sends to join or stay in the room (matched case-insensitively).
pub const HEARTBEAT: &[u8] = b"@im@";
/// The datagram a client sends to leave (matched case-insensitively).
pub const QUIT: &[u8] = b"quit";
/// Default and client-side limit on the bytes of one chat message.
pub const DEFAULT_MAX_MESSAGE: usize = 1024;
/// Receive buffer size: larger than any UDP payload, so nothing is silently truncated.
pub const RECV_BUFFER: usize = 65_536;
/// Every server notice starts with this; chat lines never do, as they start with a sender.
pub const NOTICE_PREFIX: &str = "* ";
/// Notice wordings that clients act on, after [`NOTICE_PREFIX`]: the server writes them
/// and our client reads them, so both take them from here.
pub mod notice {
    /// To a newcomer: `you joined as <who> (N here; …)`.
    pub const WELCOME: &str = "you joined as ";
    /// The answer to a `/nick` that took: `you are now NAME`.
    pub const NOW_CALLED: &str = "you are now ";
    /// To the target of `/msg`: `private from <sender>: TEXT`.
    pub const PRIVATE_FROM: &str = "private from ";
    /// To a kicked member.
    pub const REMOVED: &str = "you were removed by the server";
    /// To a newcomer not let in: `room is full (N clients)`.
    pub const ROOM_FULL: &str = "room is full";
    /// To a member over its rate: `slow down: N messages dropped`.
    pub const SLOW_DOWN: &str = "slow down";
    /// The starts of the answers to a `/nick` that did not take.
    pub const NAME_REFUSED: [&str; 2] = ["the name ", "cannot take "];
}

/// The longest name `/nick` accepts, in bytes (names are ASCII).
pub const MAX_NAME: usize = 16;
/// The first words of the server's notices: no one may take them as a name.
pub const RESERVED_NAMES: [&str; 12] = [
    "you", "private", "server", "room", "slow", "message", "no", "unknown", "commands", "usage",
    "cannot", "the",
];

/// What a client's datagram asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `@im@`: join, or refresh the sender's last-seen time.
    Heartbeat,
    /// `quit` or an empty datagram: the sender leaves.
    Leave,
    /// Anything else: chat text with trailing CR/LF trimmed, as raw (maybe non-UTF-8) bytes.
    Text(&'a [u8]),
}

/// What chat text asks for, once decoded and cleaned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat<'a> {
    /// Text to broadcast (a leading `//` already reduced to `/`).
    Text(&'a str),
    /// A `/command` for the server; never broadcast.
    Command(Command<'a>),
}

/// A `/command`. Arguments are trimmed; a missing one is an empty string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`: take a name.
    Nick(&'a str),
    /// `/who`: list the members.
    Who,
    /// `/me ACTION`: broadcast `* <who> ACTION`.
    Me(&'a str),
    /// `/msg WHO TEXT`: a private message.
    Msg { to: &'a str, text: &'a str },
    /// `/help`: list the commands.
    Help,
    /// Any other `/word` (the word with its slash).
    Unknown(&'a str),
}

/// What a datagram from the server means to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// An empty datagram: the server is going away.
    ServerGone,
    /// A line to show, trailing CR/LF trimmed.
    Line(&'a [u8]),
}

/// Reads a client's datagram.
pub fn parse_request(datagram: &[u8]) -> Request<'_> {
    if datagram.is_empty() {
        return Request::Leave;
    }
    let text = trim_line_end(datagram);
    if text.eq_ignore_ascii_case(HEARTBEAT) {
        Request::Heartbeat
    } else if text.eq_ignore_ascii_case(QUIT) {
        Request::Leave
    } else {
        Request::Text(text)
    }
}

/// Reads a server's datagram.
pub fn parse_reply(datagram: &[u8]) -> Reply<'_> {
    if datagram.is_empty() {
        Reply::ServerGone
    } else {
        Reply::Line(trim_line_end(datagram))
    }
}

/// Reads decoded chat text: a `/command`, or text to broadcast.
pub fn parse_chat(text: &str) -> Chat<'_> {
    let Some(body) = text.strip_prefix('/') else {
        return Chat::Text(text);
    };
    if body.starts_with('/') {
        return Chat::Text(body);
    }
    let (word, rest) = split_word(body);
    let command = match word.to_ascii_lowercase().as_str() {
        "nick" => Command::Nick(rest.trim_end()),
        "who" => Command::Who,
        "me" => Command::Me(rest.trim_end()),
        "msg" => {
            let (to, text) = split_word(rest);
            Command::Msg {
                to,
                text: text.trim_end(),
            }
        }
        "help" => Command::Help,
        _ => Command::Unknown(&text[..word.len() + 1]),
    };
    Chat::Command(command)
}

/// Whether `name` may be taken with `/nick`: 1 to [`MAX_NAME`] ASCII letters, digits,
/// `_` or `-`, starting with a letter, and none of [`RESERVED_NAMES`] in any case.
///
/// So a name never looks like an address, and `/me` under a name can never forge a
/// server notice such as `* you were removed by the server` or `* 3 here: …`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !is_reserved_name(name)
}

/// Whether `name` is one of [`RESERVED_NAMES`], in any case.
pub fn is_reserved_name(name: &str) -> bool {
    RESERVED_NAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// Whether `text` mentions `name` as a whole word, in any case.
pub fn mentions(text: &str, name: &str) -> bool {
    !name.is_empty()
        && text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .any(|word| word.eq_ignore_ascii_case(name))
}

/// Removes every trailing `\r` and `\n`.
pub fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Decodes text, replacing invalid UTF-8 with U+FFFD rather than failing.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Whether `c` could drive a terminal: the C0 controls except tab, DEL, and the C1
/// controls (Unicode category Cc).
pub fn is_terminal_control(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// Whether `c` reorders how text is shown (the bidirectional embeddings, overrides and
/// isolates), which lets a line read differently from what it says.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Removes terminal controls, so text relayed to a netcat user cannot drive its terminal.
///
/// Escape sequences go whole (`ESC [ 31 m`, not just the `ESC`), a line break inside
/// the text (any run of `\r` and `\n`) becomes one space so words do not run together,
/// and bidirectional overrides go too. Tab stays.
pub fn strip_controls(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| is_terminal_control(c) || is_bidi_control(c))
    {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // A line break (any run of CR and LF) inside the text.
            '\r' | '\n' => {
                while chars.next_if(|&c| c == '\r' || c == '\n').is_some() {}
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
            c if is_terminal_control(c) || is_bidi_control(c) => {}
            c => clean.push(c),
        }
    }
    Cow::Owned(clean)
}

/// Replaces terminal controls with U+FFFD, so a received line cannot move the cursor,
/// change colours or ring the bell of whoever reads it.
pub fn sanitize_for_terminal(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_terminal_control) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if is_terminal_control(c) {
                        '\u{fffd}'
                    } else {
                        c
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Appends the broadcast form of a chat message: `"<who> <text>"`.
pub fn write_chat_line(out: &mut Vec<u8>, who: &str, text: &str) {
    out.extend_from_slice(who.as_bytes());
    out.push(b' ');
    out.extend_from_slice(text.as_bytes());
}

/// The notice an oversized message's sender receives, after [`NOTICE_PREFIX`].
pub fn too_long_notice(len: usize, limit: usize) -> String {
    format!("message too long ({len} bytes, limit {limit})")
}

/// Splits a typed line into messages of at most `max_bytes` bytes (at least 32), never
/// inside a UTF-8 character, so that every piece means what the whole line meant:
///
/// - chat text: a continuation starting with `/` is sent as `//…`, and none is so short
///   that it could be `quit` or `@im@`;
/// - `/msg WHO TEXT` and `/me ACTION`: each piece repeats `/msg WHO ` or `/me `, so no
///   part of a private message goes to everyone;
/// - any other command is sent whole (the server answers if it is too long).
///
/// A line break inside the line (a run of CR and LF, say from a paste) becomes one space
/// first, as the server would make it: the server trims line ends, so a piece ending in
/// one could otherwise shrink to `quit`.
pub fn split_typed_line(line: &str, max_bytes: usize) -> Vec<String> {
    let line = join_line_breaks(line);
    split_line(&line, max_bytes.max(32))
        .into_iter()
        .map(Cow::into_owned)
        .collect()
}

/// Replaces each run of CR and LF with one space.
fn join_line_breaks(text: &str) -> Cow<'_, str> {
    if !text.contains(['\r', '\n']) {
        return Cow::Borrowed(text);
    }
    let mut joined = String::with_capacity(text.len());
    let mut in_break = false;
    for c in text.chars() {
        let is_break = c == '\r' || c == '\n';
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

/// Splits the first whitespace-separated word off `text`: `(word, rest)`, with the rest's
/// leading whitespace removed.
fn split_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    }
}

/// Skips the rest of a control sequence: bytes 0x20-0x3F, then one final 0x40-0x7E.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars
        .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_matches_any_case_with_line_ends() {
        for d in [&b"@im@"[..], b"@IM@", b"@Im@\n", b"@im@\r\n", b"@im@\n\n"] {
            assert_eq!(parse_request(d), Request::Heartbeat, "{d:?}");
        }
    }

    #[test]
    fn quit_and_empty_datagram_mean_leave() {
        for d in [&b""[..], b"quit", b"QUIT", b"Quit\r\n", b"quit\n"] {
            assert_eq!(parse_request(d), Request::Leave, "{d:?}");
        }
    }

    #[test]
    fn near_misses_are_text() {
        assert_eq!(parse_request(b" quit"), Request::Text(b" quit"));
        assert_eq!(parse_request(b"quit now"), Request::Text(b"quit now"));
        assert_eq!(parse_request(b"@im@ "), Request::Text(b"@im@ "));
        assert_eq!(parse_request(b"@im"), Request::Text(b"@im"));
    }

    #[test]
    fn text_is_trimmed_of_trailing_cr_lf_only() {
        assert_eq!(parse_request(b"hi\r\n"), Request::Text(b"hi"));
        assert_eq!(
            parse_request(b"  hi there \n"),
            Request::Text(b"  hi there ")
        );
        assert_eq!(parse_request(b"a\nb\n"), Request::Text(b"a\nb"));
        assert_eq!(parse_request(b"\n"), Request::Text(b""));
        assert_eq!(parse_request(b"\r\n\r\n"), Request::Text(b""));
    }

    #[test]
    fn replies_empty_means_server_gone() {
        assert_eq!(parse_reply(b""), Reply::ServerGone);
        assert_eq!(parse_reply(b"1.2.3.4:5 hi\n"), Reply::Line(b"1.2.3.4:5 hi"));
        assert_eq!(parse_reply(b"\n"), Reply::Line(b""));
    }

    #[test]
    fn decode_is_lossy_not_failing() {
        assert_eq!(decode(b"caf\xc3\xa9"), "café");
        assert_eq!(decode(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(decode(b"\xc3"), "\u{fffd}");
    }

    #[test]
    fn sanitize_replaces_controls_but_keeps_tab_and_unicode() {
        assert_eq!(sanitize_for_terminal("plain é ✓\tx"), "plain é ✓\tx");
        assert!(matches!(sanitize_for_terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(
            sanitize_for_terminal("\x1b[31mred\x07\x08\r\n\x7f\u{9b}"),
            "\u{fffd}[31mred\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn strip_removes_controls_but_keeps_tab_and_unicode() {
        assert_eq!(
            strip_controls("a\x1b[31mb\x07cd\x7fe\u{9b}1;2Hf\tg é"),
            "abcdef\tg é"
        );
        assert_eq!(strip_controls("\x1b[2J\x1b[0;31mred\x1b[0m"), "red");
        assert_eq!(strip_controls("\x1b]0;title\x07after"), "after");
        assert_eq!(strip_controls("\x1b]8;;http://x\x1b\\link"), "link");
        assert_eq!(strip_controls("\x1bcreset"), "reset");
        assert_eq!(
            strip_controls("two\nlines\r\nhere\rtoo"),
            "two lines here too"
        );
        assert_eq!(strip_controls("abc\u{202e}fed"), "abcfed");
        assert_eq!(strip_controls("trailing\x1b"), "trailing");
        assert_eq!(strip_controls("\x1b["), "");
        assert!(matches!(strip_controls("clean ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn chat_text_and_double_slash() {
        assert_eq!(parse_chat("hello"), Chat::Text("hello"));
        assert_eq!(parse_chat(" /nick x"), Chat::Text(" /nick x"));
        assert_eq!(parse_chat("//like this"), Chat::Text("/like this"));
        assert_eq!(parse_chat("///x"), Chat::Text("//x"));
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        let cmd = |t| match parse_chat(t) {
            Chat::Command(c) => c,
            Chat::Text(t) => panic!("{t:?} is not a command"),
        };
        assert_eq!(cmd("/nick alice"), Command::Nick("alice"));
        assert_eq!(cmd("/NICK  alice "), Command::Nick("alice"));
        assert_eq!(cmd("/nick"), Command::Nick(""));
        assert_eq!(cmd("/nick two words"), Command::Nick("two words"));
        assert_eq!(cmd("/who"), Command::Who);
        assert_eq!(cmd("/me waves  at all"), Command::Me("waves  at all"));
        assert_eq!(cmd("/me"), Command::Me(""));
        assert_eq!(
            cmd("/msg bob  hi there"),
            Command::Msg {
                to: "bob",
                text: "hi there"
            }
        );
        assert_eq!(
            cmd("/msg bob"),
            Command::Msg {
                to: "bob",
                text: ""
            }
        );
        assert_eq!(cmd("/msg"), Command::Msg { to: "", text: "" });
        assert_eq!(cmd("/help"), Command::Help);
        assert_eq!(cmd("/dance now"), Command::Unknown("/dance"));
        assert_eq!(cmd("/"), Command::Unknown("/"));
        assert_eq!(cmd("/\tx"), Command::Unknown("/"));
    }

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
            assert!(is_valid_name(good), "{good}");
        }
        for bad in [
            "",
            "a123456789abcdefg",
            "3",
            "0xff",
            "_x",
            "-x",
            "you",
            "YOU",
            "Private",
            "server",
            "the",
            "two words",
            "a.b",
            "a:b",
            "*",
            "é",
            "[::1]:9",
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
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

    #[test]
    fn chat_line_is_who_space_text() {
        let mut out = Vec::new();
        write_chat_line(&mut out, "127.0.0.1:5000", "hello");
        assert_eq!(out, b"127.0.0.1:5000 hello");
        out.clear();
        write_chat_line(&mut out, "[::1]:5000", "x");
        assert_eq!(out, b"[::1]:5000 x");
    }

    #[test]
    fn too_long_notice_wording() {
        assert_eq!(
            too_long_notice(2000, 1024),
            "message too long (2000 bytes, limit 1024)"
        );
    }
}
