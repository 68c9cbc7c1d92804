//! Datagrams both ways: what a client's datagram asks, what a server's means, and how
//! a chat line is written.

/// The heartbeat a client sends to join or stay in the room (matched case-insensitively).
pub const HEARTBEAT: &[u8] = b"@im@";
/// The datagram a client sends to leave (matched case-insensitively).
pub const QUIT: &[u8] = b"quit";
/// The longest label a member can have in bytes: a name is at most
/// [`MAX_NAME`](super::MAX_NAME), and the longest address as shown is an IPv6 one with
/// an IPv4 tail and a scope, `[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295]:65535`.
pub const MAX_LABEL: usize = 64;

const _: () = assert!(super::name::MAX_NAME <= MAX_LABEL);

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

/// Removes every trailing `\r` and `\n`.
pub fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Appends the broadcast form of a chat message: `"<who> <text>"`.
pub fn write_chat_line(out: &mut Vec<u8>, who: &str, text: &str) {
    out.extend_from_slice(who.as_bytes());
    out.push(b' ');
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv6Addr, SocketAddrV6};

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
    fn chat_line_is_who_space_text() {
        let mut out = Vec::new();
        write_chat_line(&mut out, "127.0.0.1:5000", "hello");
        assert_eq!(out, b"127.0.0.1:5000 hello");
        out.clear();
        write_chat_line(&mut out, "[::1]:5000", "x");
        assert_eq!(out, b"[::1]:5000 x");
    }

    #[test]
    fn the_longest_address_fits_the_longest_label() {
        let ip = Ipv6Addr::new(
            0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
        );
        let widest = [
            SocketAddrV6::new(ip, 65535, 0, u32::MAX).to_string(),
            "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295]:65535".to_string(),
        ];
        for shown in widest {
            assert!(shown.len() <= MAX_LABEL, "{shown}: {}", shown.len());
        }
    }
}
