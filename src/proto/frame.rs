//! Session frames: how our client and our server prove addresses and mark every
//! datagram of a session as theirs.
//!
//! A frame starts with the byte `0xFF`, which no UTF-8 text contains, so a frame is
//! never taken for a line of chat, and a line is never taken for a frame:
//!
//! | frame | bytes | direction |
//! |---|---|---|
//! | hello | `@IM@` (exactly; a heartbeat to a classic server) | client → server |
//! | cookie | `FF 'C'` cookie (8) | server → client |
//! | echo | `FF 'J'` cookie (8) token (8) | client → server |
//! | session | `FF 'S'` token (8) body | both ways |
//! | line | `FF 'M'` token (8) seq (8) line | server → client |
//! | history | `FF 'H'` token (8) seq (8) line | server → client |
//! | answer | `FF 'A'` token (8) latest (8) received (8) | server → client |
//! | typed | `FF 'T'` token (8) seq (8) body | client → server |
//! | lost | `FF 'L'` token (8) upto (8) | server → client |
//! | repair | `FF 'N'` token (8) from (8) to (8) | client → server |
//!
//! The body of a session frame is what a classic datagram would be: `@im@`, `quit`,
//! chat text or a command from the client; zero bytes for goodbye from the server.
//! Every line the server sends a session is numbered, 1, 2, 3, … in a line frame (a
//! history frame carries a line said before the session joined, in the same count).
//! The server answers each heartbeat with the latest number it sent; the client asks
//! again for numbers it missed, and the server sends them again, or says they are
//! lost. What the client types goes numbered too, in typed frames; the server takes
//! each number once, in order, and its answers say the highest number it has taken.
//! Numbers are 64-bit little-endian.

use std::fmt;

/// The first byte of every frame: never part of UTF-8 text.
pub const FRAME_MARK: u8 = 0xFF;
/// What our client sends first, and as its heartbeat until it has a session. The classic
/// server takes `@im@` in any letter case as a heartbeat and relays nothing, and no
/// classic client sends it in capitals, so it asks our server for a cookie safely.
pub const HELLO: &[u8] = b"@IM@";
/// A cookie's bytes: a keyed hash of the client's address and the time.
pub const COOKIE_LEN: usize = 8;
/// A session token's bytes: a random number the client chose, known only to it and
/// the server.
pub const TOKEN_LEN: usize = 8;
/// The bytes a session frame adds in front of its body.
pub const SESSION_HEADER: usize = 2 + TOKEN_LEN;
/// The bytes a line or history frame adds in front of its line: the most any frame
/// adds.
pub const LINE_HEADER: usize = SESSION_HEADER + 8;
/// The bytes of a cookie frame: less than three times a hello's, so answering a hello
/// never amplifies.
pub const COOKIE_FRAME: usize = 2 + COOKIE_LEN;
/// The bytes of an echo frame.
pub const ECHO_FRAME: usize = 2 + COOKIE_LEN + TOKEN_LEN;

const _: () = assert!(COOKIE_FRAME <= 3 * HELLO.len());

const COOKIE_KIND: u8 = b'C';
const ECHO_KIND: u8 = b'J';
const SESSION_KIND: u8 = b'S';
const LINE_KIND: u8 = b'M';
const HISTORY_KIND: u8 = b'H';
/// The bytes of a history line's age, before the line.
pub const AGE_LEN: usize = 4;
const ANSWER_KIND: u8 = b'A';
const LOST_KIND: u8 = b'L';
const REPAIR_KIND: u8 = b'N';
const TYPED_KIND: u8 = b'T';

/// A cookie: proof that its holder receives at an address.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cookie(pub [u8; COOKIE_LEN]);

/// A session's secret, carried by every datagram of the session both ways.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub [u8; TOKEN_LEN]);

/// What a datagram is, frames told apart from classic datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed<'a> {
    /// A classic datagram (text, `@im@`, `quit`, zero bytes).
    Plain(&'a [u8]),
    /// `@IM@`: a client asks for a cookie.
    Hello,
    /// A server's cookie.
    Cookie(Cookie),
    /// A client echoes a cookie and proposes its session's token.
    Echo { cookie: Cookie, token: Token },
    /// A datagram of a session.
    Session { token: Token, body: &'a [u8] },
    /// A numbered line to a session.
    Line {
        token: Token,
        seq: u64,
        line: &'a [u8],
    },
    /// A numbered line said in the room before the session joined it: its body is
    /// the line's age and the line (see [`history_parts`]).
    History {
        token: Token,
        seq: u64,
        body: &'a [u8],
    },
    /// The answer to a heartbeat or a typed line: the latest number sent to the
    /// session, and the highest number of the session's typed lines taken in order.
    Answer {
        token: Token,
        latest: u64,
        received: u64,
    },
    /// A line the client typed, numbered 1, 2, 3, … in its session.
    Typed {
        token: Token,
        seq: u64,
        body: &'a [u8],
    },
    /// Lines the session asked for again that the server no longer holds: every
    /// number up to `upto`.
    Lost { token: Token, upto: u64 },
    /// A session asks for the lines numbered `from..=to` again.
    Repair { token: Token, from: u64, to: u64 },
    /// Starts with [`FRAME_MARK`] but is no frame we know.
    Bad,
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie({})", hex(&self.0))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", hex(&self.0))
    }
}

impl Framed<'_> {
    /// The session token of a frame the server sends in a session (a session frame,
    /// a line, history, an answer, a lost frame); `None` for anything else.
    pub fn from_server_in_session(&self) -> Option<Token> {
        match *self {
            Framed::Session { token, .. }
            | Framed::Line { token, .. }
            | Framed::History { token, .. }
            | Framed::Answer { token, .. }
            | Framed::Lost { token, .. } => Some(token),
            _ => None,
        }
    }
}

/// Tells what a datagram is.
pub fn read(datagram: &[u8]) -> Framed<'_> {
    if datagram == HELLO {
        return Framed::Hello;
    }
    let Some((&FRAME_MARK, rest)) = datagram.split_first() else {
        return Framed::Plain(datagram);
    };
    let Some((&kind, rest)) = rest.split_first() else {
        return Framed::Bad;
    };
    match kind {
        COOKIE_KIND => match rest.try_into() {
            Ok(cookie) => Framed::Cookie(Cookie(cookie)),
            Err(_) => Framed::Bad,
        },
        ECHO_KIND if rest.len() == COOKIE_LEN + TOKEN_LEN => {
            let (cookie, token) = rest.split_at(COOKIE_LEN);
            match (cookie.try_into(), token.try_into()) {
                (Ok(cookie), Ok(token)) => Framed::Echo {
                    cookie: Cookie(cookie),
                    token: Token(token),
                },
                _ => Framed::Bad,
            }
        }
        SESSION_KIND if rest.len() >= TOKEN_LEN => {
            let (token, body) = rest.split_at(TOKEN_LEN);
            match token.try_into() {
                Ok(token) => Framed::Session {
                    token: Token(token),
                    body,
                },
                Err(_) => Framed::Bad,
            }
        }
        _ => read_numbered(kind, rest).unwrap_or(Framed::Bad),
    }
}

/// A frame of a kind that carries numbers after its token.
fn read_numbered(kind: u8, rest: &[u8]) -> Option<Framed<'_>> {
    let token = Token(rest.get(..TOKEN_LEN)?.try_into().ok()?);
    let rest = &rest[TOKEN_LEN..];
    let number = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(rest.get(at..at + 8)?.try_into().ok()?))
    };
    let exactly = |len: usize| (rest.len() == len).then_some(());
    Some(match kind {
        LINE_KIND => Framed::Line {
            token,
            seq: number(0)?,
            line: &rest[8..],
        },
        HISTORY_KIND => Framed::History {
            token,
            seq: number(0)?,
            body: &rest[8..],
        },
        ANSWER_KIND => {
            exactly(16)?;
            Framed::Answer {
                token,
                latest: number(0)?,
                received: number(8)?,
            }
        }
        TYPED_KIND => Framed::Typed {
            token,
            seq: number(0)?,
            body: &rest[8..],
        },
        LOST_KIND => {
            exactly(8)?;
            Framed::Lost {
                token,
                upto: number(0)?,
            }
        }
        REPAIR_KIND => {
            exactly(16)?;
            Framed::Repair {
                token,
                from: number(0)?,
                to: number(8)?,
            }
        }
        _ => return None,
    })
}

/// Appends a cookie frame.
pub fn write_cookie(out: &mut Vec<u8>, cookie: Cookie) {
    out.extend_from_slice(&[FRAME_MARK, COOKIE_KIND]);
    out.extend_from_slice(&cookie.0);
}

/// Appends an echo frame.
pub fn write_echo(out: &mut Vec<u8>, cookie: Cookie, token: Token) {
    out.extend_from_slice(&[FRAME_MARK, ECHO_KIND]);
    out.extend_from_slice(&cookie.0);
    out.extend_from_slice(&token.0);
}

/// The header of a session frame: its body follows.
pub fn session_header(token: Token) -> [u8; SESSION_HEADER] {
    header(SESSION_KIND, token)
}

/// The header of a line frame numbered `seq`, or of a history frame: its line follows.
pub fn line_header(token: Token, seq: u64, earlier: bool) -> [u8; LINE_HEADER] {
    let mut line = [0u8; LINE_HEADER];
    let kind = if earlier { HISTORY_KIND } else { LINE_KIND };
    line[..SESSION_HEADER].copy_from_slice(&header(kind, token));
    line[SESSION_HEADER..].copy_from_slice(&seq.to_le_bytes());
    line
}

/// A line frame numbered `seq` carrying `line` (or a history frame, if `earlier`).
pub fn line(token: Token, seq: u64, line: &[u8], earlier: bool) -> Vec<u8> {
    let mut frame = line_header(token, seq, earlier).to_vec();
    frame.extend_from_slice(line);
    frame
}

/// Appends the body of a history frame: how long ago the line was said (whole seconds,
/// 4 bytes little-endian, at most about 136 years), then the line.
pub fn write_history_body(out: &mut Vec<u8>, age: std::time::Duration, line: &[u8]) {
    let secs = u32::try_from(age.as_secs()).unwrap_or(u32::MAX);
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(line);
}

/// A history frame's body as its line's age and the line; a body too short to hold an
/// age is all line, of unknown age.
pub fn history_parts(body: &[u8]) -> (Option<std::time::Duration>, &[u8]) {
    match body.split_first_chunk::<AGE_LEN>() {
        Some((age, line)) => (
            Some(std::time::Duration::from_secs(u64::from(
                u32::from_le_bytes(*age),
            ))),
            line,
        ),
        None => (None, body),
    }
}

/// Appends an answer: the latest number sent to the session, and the highest number
/// of its typed lines taken in order.
pub fn write_answer(out: &mut Vec<u8>, token: Token, latest: u64, received: u64) {
    write_numbers(out, ANSWER_KIND, token, &[latest, received]);
}

/// A typed frame numbered `seq` carrying `body`.
pub fn typed(token: Token, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(LINE_HEADER + body.len());
    write_numbers(&mut frame, TYPED_KIND, token, &[seq]);
    frame.extend_from_slice(body);
    frame
}

/// Appends a frame saying lines numbered up to `upto` are lost.
pub fn write_lost(out: &mut Vec<u8>, token: Token, upto: u64) {
    write_numbers(out, LOST_KIND, token, &[upto]);
}

/// Appends a frame asking for the lines numbered `from..=to` again.
pub fn write_repair(out: &mut Vec<u8>, token: Token, from: u64, to: u64) {
    write_numbers(out, REPAIR_KIND, token, &[from, to]);
}

fn write_numbers(out: &mut Vec<u8>, kind: u8, token: Token, numbers: &[u64]) {
    out.extend_from_slice(&header(kind, token));
    for number in numbers {
        out.extend_from_slice(&number.to_le_bytes());
    }
}

fn header(kind: u8, token: Token) -> [u8; SESSION_HEADER] {
    let mut header = [0u8; SESSION_HEADER];
    header[0] = FRAME_MARK;
    header[1] = kind;
    header[2..].copy_from_slice(&token.0);
    header
}

/// A session frame carrying `body`.
pub fn session(token: Token, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(SESSION_HEADER + body.len());
    frame.extend_from_slice(&session_header(token));
    frame.extend_from_slice(body);
    frame
}

/// Lowercase hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: Token = Token(*b"tok3n!\n\r");
    const COOKIE: Cookie = Cookie([0xFF, 0, 1, 2, 3, 4, 5, 0xFE]);

    #[test]
    fn every_frame_reads_back_as_written() {
        let mut bytes = Vec::new();
        write_cookie(&mut bytes, COOKIE);
        assert_eq!(bytes.len(), COOKIE_FRAME);
        assert_eq!(read(&bytes), Framed::Cookie(COOKIE));
        bytes.clear();
        write_echo(&mut bytes, COOKIE, TOKEN);
        assert_eq!(bytes.len(), ECHO_FRAME);
        assert_eq!(
            read(&bytes),
            Framed::Echo {
                cookie: COOKIE,
                token: TOKEN
            }
        );
        let frame = session(TOKEN, b"hello\n");
        assert_eq!(&frame[..SESSION_HEADER], &session_header(TOKEN));
        assert_eq!(
            read(&frame),
            Framed::Session {
                token: TOKEN,
                body: b"hello\n"
            }
        );
        assert_eq!(
            read(&line(TOKEN, 7, b"bob hi", false)),
            Framed::Line {
                token: TOKEN,
                seq: 7,
                line: b"bob hi"
            }
        );
        assert_eq!(
            read(&line(TOKEN, u64::MAX, b"", true)),
            Framed::History {
                token: TOKEN,
                seq: u64::MAX,
                body: b""
            }
        );
        let mut body = Vec::new();
        write_history_body(&mut body, std::time::Duration::from_secs(61), b"bob hi");
        assert_eq!(body[..AGE_LEN], 61u32.to_le_bytes());
        assert_eq!(
            history_parts(&body),
            (Some(std::time::Duration::from_secs(61)), &b"bob hi"[..])
        );
        assert_eq!(
            history_parts(b"hi"),
            (None, &b"hi"[..]),
            "too short for an age"
        );
        let mut old = Vec::new();
        write_history_body(&mut old, std::time::Duration::MAX, b"");
        assert_eq!(
            history_parts(&old).0,
            Some(std::time::Duration::from_secs(u32::MAX.into()))
        );
        let mut numbers = Vec::new();
        write_answer(&mut numbers, TOKEN, 9, 4);
        assert_eq!(
            read(&numbers),
            Framed::Answer {
                token: TOKEN,
                latest: 9,
                received: 4
            }
        );
        assert_eq!(
            read(&typed(TOKEN, 3, b"hi")),
            Framed::Typed {
                token: TOKEN,
                seq: 3,
                body: b"hi"
            }
        );
        numbers.clear();
        write_lost(&mut numbers, TOKEN, 3);
        assert_eq!(
            read(&numbers),
            Framed::Lost {
                token: TOKEN,
                upto: 3
            }
        );
        numbers.clear();
        write_repair(&mut numbers, TOKEN, 4, 6);
        assert_eq!(
            read(&numbers),
            Framed::Repair {
                token: TOKEN,
                from: 4,
                to: 6
            }
        );
        numbers.push(0);
        assert_eq!(read(&numbers), Framed::Bad, "a repair of the wrong length");
        assert_eq!(
            read(&session(TOKEN, b"")),
            Framed::Session {
                token: TOKEN,
                body: b""
            },
            "an empty body is the goodbye"
        );
    }

    #[test]
    fn only_the_capital_hello_asks_for_a_cookie() {
        assert_eq!(read(b"@IM@"), Framed::Hello);
        for classic in [&b"@im@"[..], b"@Im@", b"@IM@\n", b"hi", b"", b"quit"] {
            assert_eq!(read(classic), Framed::Plain(classic), "{classic:?}");
        }
    }

    #[test]
    fn text_is_never_a_frame_and_a_broken_frame_is_bad() {
        // Invalid UTF-8 that does not start with the mark stays text for the room.
        assert_eq!(read(b"\xFE\xFF"), Framed::Plain(b"\xFE\xFF"));
        assert_eq!(read("ÿ".as_bytes()), Framed::Plain("ÿ".as_bytes()));
        for bad in [
            &b"\xFF"[..],
            b"\xFFC1234567",
            b"\xFFC123456789",
            b"\xFFJ1234567812345678x",
            b"\xFFS1234567",
            b"\xFFX12345678",
        ] {
            assert_eq!(read(bad), Framed::Bad, "{bad:?}");
        }
    }

    #[test]
    fn cookies_and_tokens_print_as_hex() {
        assert_eq!(format!("{COOKIE:?}"), "Cookie(ff000102030405fe)");
        assert_eq!(format!("{TOKEN:?}"), "Token(746f6b336e210a0d)");
    }
}
