//! Property tests of `proto` and the room state machine: arbitrary input never panics,
//! and the room's limits hold whatever the network sends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use udpchat::client::split::split_typed_line;
use udpchat::proto::frame::{self, Framed};
use udpchat::proto::{self, Request};
use udpchat::room::{Config, Outbox, Room};

const MAX_CLIENTS: usize = 8;
const MAX_MESSAGE: usize = 64;
/// The longest sender prefix and notice wording a payload may add to the text: a
/// notice such as `* private from [v6 address]:port: ` plus a trailing newline.
const MAX_OVERHEAD: usize = 80;

/// One thing that can happen to the room.
#[derive(Debug, Clone)]
enum Step {
    Datagram { from: u16, bytes: Vec<u8> },
    Wait { millis: u64 },
}

fn datagram() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"@im@".to_vec()),
        Just(b"@IM@\n".to_vec()),
        Just(b"quit".to_vec()),
        Just(Vec::new()),
        Just(b"/who".to_vec()),
        Just(b"/msg 127.0.0.1:1 hi".to_vec()),
        "[a-z]{1,20}".prop_map(|n| format!("/nick {n}").into_bytes()),
        "\\PC{1,70}".prop_map(|n| format!("/nick {n}").into_bytes()),
        "\\PC{1,70}".prop_map(|n| format!("/msg {n}").into_bytes()),
        "\\PC{1,70}".prop_map(|n| format!("/{n}").into_bytes()),
        "\\PC{0,80}".prop_map(String::into_bytes),
        "[\\x00-\\x1f\\x7f/ a-z\u{80}-\u{9f}]{0,40}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 60..300),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u16..20, datagram()).prop_map(|(from, bytes)| Step::Datagram { from, bytes }),
        1 => (0u64..4000).prop_map(|millis| Step::Wait { millis }),
    ]
}

/// One thing that can happen to a room under `--verify`.
#[derive(Debug, Clone)]
enum VerifyStep {
    Datagram {
        from: u16,
        bytes: Vec<u8>,
    },
    /// The address answers what the room sent it last: echoes its cookie, or types its
    /// join code, as our client and a person would.
    Answer {
        from: u16,
        line_mode: bool,
    },
    Wait {
        millis: u64,
    },
}

fn frame_datagram() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(frame::HELLO.to_vec()),
        (any::<[u8; 8]>(), any::<[u8; 8]>()).prop_map(|(cookie, token)| {
            let mut bytes = Vec::new();
            frame::write_echo(&mut bytes, frame::Cookie(cookie), frame::Token(token));
            bytes
        }),
        (any::<[u8; 8]>(), datagram())
            .prop_map(|(token, body)| frame::session(frame::Token(token), &body)),
        "[a-z2-7]{10}".prop_map(|code| format!("/join {code}").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|mut bytes| {
            bytes.insert(0, frame::FRAME_MARK);
            bytes
        }),
    ]
}

fn verify_step() -> impl Strategy<Value = VerifyStep> {
    prop_oneof![
        3 => (1u16..12, datagram()).prop_map(|(from, bytes)| VerifyStep::Datagram { from, bytes }),
        3 => (1u16..12, frame_datagram()).prop_map(|(from, bytes)| VerifyStep::Datagram { from, bytes }),
        2 => (1u16..12, any::<bool>()).prop_map(|(from, line_mode)| VerifyStep::Answer { from, line_mode }),
        1 => (0u64..40_000).prop_map(|millis| VerifyStep::Wait { millis }),
    ]
}

/// What the test knows of one address.
#[derive(Debug, Default)]
struct Ledger {
    /// Bytes it sent since it last stopped being a member.
    received: usize,
    /// Bytes it was sent while not a member, over the same time.
    sent: usize,
    was_member: bool,
    cookie: Option<frame::Cookie>,
    code: Option<String>,
}

fn room_config(rate: f64) -> Config {
    Config {
        timeout: Duration::from_secs(2),
        max_message_bytes: MAX_MESSAGE,
        max_clients: MAX_CLIENTS,
        rate_per_sec: rate,
        burst: 3,
        local_addr: None,
        verify: false,
        history_lines: 20,
        repair_lines: 1024,
        max_per_host: usize::MAX,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// QUIC's rule under `--verify`: an address that has not proven it receives there
    /// is sent at most three times the bytes it sent, whatever arrives from anywhere.
    /// Honest addresses answer their cookies and codes, so proofs happen too (seven in
    /// a typical case of this test).
    #[test]
    fn verify_sends_an_unproven_address_at_most_three_times_its_bytes(
        steps in proptest::collection::vec(verify_step(), 1..150),
    ) {
        let mut now = Instant::now();
        let config = Config { verify: true, max_clients: 4, ..room_config(5.0) };
        let mut room = Room::new(config, now);
        let mut out = Outbox::new();
        let mut ledgers: HashMap<SocketAddr, Ledger> = HashMap::new();
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        for step in steps {
            match step {
                VerifyStep::Wait { millis } => {
                    now += Duration::from_millis(millis);
                    room.handle_timeout(now, &mut out);
                }
                VerifyStep::Datagram { from, bytes } => {
                    ledgers.entry(addr(from)).or_default().received += bytes.len();
                    room.handle_datagram(&bytes, addr(from), now, &mut out);
                }
                VerifyStep::Answer { from, line_mode } => {
                    let ledger = ledgers.entry(addr(from)).or_default();
                    let mut bytes = Vec::new();
                    if let Some(cookie) = ledger.cookie.take() {
                        frame::write_echo(&mut bytes, cookie, frame::Token(*b"honest!!"));
                    } else if let Some(code) = ledger.code.take() {
                        bytes = format!("/join {code}").into_bytes();
                        if line_mode {
                            bytes.push(b'\n');
                        }
                    } else {
                        continue;
                    }
                    ledger.received += bytes.len();
                    room.handle_datagram(&bytes, addr(from), now, &mut out);
                }
            }
            let members: Vec<SocketAddr> = room.members(now).iter().map(|m| m.addr).collect();
            for (to, sent) in out.to_vec() {
                let ledger = ledgers.entry(to).or_default();
                match frame::read(&sent) {
                    Framed::Cookie(cookie) => ledger.cookie = Some(cookie),
                    Framed::Plain(text) => {
                        let text = String::from_utf8_lossy(text);
                        // The whole notice, or the terse line to type.
                        if let Some(code) = text.split("/join ").nth(1).and_then(|r| r.get(..10)) {
                            ledger.code = Some(code.to_string());
                        }
                    }
                    _ => {}
                }
                if !members.contains(&to) {
                    ledger.sent += sent.len();
                }
            }
            out.clear();
            for (at, ledger) in &mut ledgers {
                let member = members.contains(at);
                if ledger.was_member && !member {
                    // Gone: from here on it proves itself again, and is counted afresh.
                    ledger.received = 0;
                    ledger.sent = 0;
                }
                ledger.was_member = member;
                prop_assert!(
                    ledger.sent <= 3 * ledger.received,
                    "{at}: sent {} for {} received", ledger.sent, ledger.received
                );
            }
        }
    }

    #[test]
    fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        match proto::parse_request(&bytes) {
            Request::Text(text) => {
                prop_assert!(bytes.starts_with(text));
                prop_assert!(!text.ends_with(b"\n") && !text.ends_with(b"\r"));
            }
            Request::Heartbeat | Request::Leave => {}
        }
        let decoded = proto::decode(&bytes);
        let safe = proto::terminal_safe(&decoded);
        // Nothing unsafe is left but the emoji joiner, kept only between two visible
        // characters (which the stability below checks as well).
        let chars: Vec<char> = safe.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if c == '\u{200d}' {
                let visible = |c: Option<&char>| c.is_some_and(|c| !c.is_whitespace() && !proto::text::is_unsafe(*c));
                prop_assert!(i > 0 && visible(chars[..i].iter().rev().find(|c| !matches!(c, '\u{fe00}'..='\u{fe0f}'))), "{safe:?}");
                prop_assert!(visible(chars.get(i + 1)), "{safe:?}");
            } else {
                prop_assert!(!proto::text::is_unsafe(c), "{safe:?}");
            }
        }
        prop_assert_eq!(proto::terminal_safe(&safe), safe.clone(), "the policy is stable");
        let _ = proto::parse_chat(&safe);
        let _ = proto::Notice::parse(&safe);
        let _ = proto::parse_reply(&bytes);
    }

    #[test]
    fn typed_lines_split_into_bounded_plain_text(line in "[a-z][a-z/é ]{0,300}", max in 32usize..100) {
        let pieces = split_typed_line(&line, max);
        let mut rejoined = String::new();
        for (i, piece) in pieces.iter().enumerate() {
            prop_assert!(!piece.is_empty() && piece.len() <= max);
            if i > 0 {
                prop_assert!(matches!(proto::parse_request(piece.as_bytes()), Request::Text(_)));
                prop_assert!(matches!(proto::parse_chat(piece), proto::Chat::Text(_)));
                rejoined.push_str(piece.strip_prefix('/').filter(|p| p.starts_with('/')).unwrap_or(piece));
            } else {
                rejoined.push_str(piece);
            }
        }
        prop_assert_eq!(rejoined, line);
    }

    #[test]
    fn typed_commands_split_into_bounded_pieces_of_the_same_command(
        command in prop_oneof![Just("/me "), Just("/msg "), Just("/MSG ")],
        who in "[a-z]{1,30}",
        // Mostly multi-byte characters, where cuts must walk back to a boundary.
        text in "[é✓1 ]{1,80}",
        // The room left for text after the prefix: small values are the edge cases.
        room_for_text in 4usize..60,
    ) {
        let prefix = if command.eq_ignore_ascii_case("/msg ") {
            format!("{command}{who} ")
        } else {
            command.to_string()
        };
        let max = (prefix.len() + room_for_text).max(32);
        let line = format!("{prefix}{}", text.trim_start());
        let pieces = split_typed_line(&line, max);
        prop_assert!(!pieces.is_empty());
        let whole = pieces.len() == 1 && pieces[0] == line.as_str();
        let mut body = String::new();
        for piece in &pieces {
            prop_assert!(whole || piece.len() <= max, "{} > {max}: {piece:?}", piece.len());
            let rest = piece.strip_prefix(prefix.as_str());
            prop_assert!(rest.is_some(), "{piece:?} lost its {prefix:?}");
            body.push_str(rest.unwrap_or_default());
        }
        prop_assert_eq!(body, text.trim_start());
    }

    #[test]
    fn the_room_keeps_its_limits_whatever_arrives(
        steps in proptest::collection::vec(step(), 1..120),
        rate in prop_oneof![Just(0.0), Just(5.0)],
    ) {
        let start = Instant::now();
        let mut now = start;
        let mut room = Room::new(room_config(rate), now);
        let mut out = Outbox::new();
        for step in steps {
            match step {
                Step::Wait { millis } => {
                    now += Duration::from_millis(millis);
                    room.handle_timeout(now, &mut out);
                }
                Step::Datagram { from, bytes } => {
                    let from = SocketAddr::from(([127, 0, 0, 1], from));
                    room.handle_datagram(&bytes, from, now, &mut out);
                    if matches!(proto::parse_request(&bytes), Request::Heartbeat | Request::Leave) {
                        for (_, sent) in out.to_vec() {
                            prop_assert!(
                                sent.starts_with(b"* ") || is_cookie(&sent),
                                "a heartbeat or quit produced {:?}", String::from_utf8_lossy(&sent)
                            );
                        }
                    }
                }
            }
            prop_assert!(room.len() <= MAX_CLIENTS);
            prop_assert_eq!(room.members(now).len(), room.len(), "the join order lost track");
            for (_, sent) in out.to_vec() {
                prop_assert!(sent.len() <= MAX_MESSAGE + MAX_OVERHEAD, "{} bytes", sent.len());
                if is_cookie(&sent) {
                    continue;
                }
                prop_assert!(std::str::from_utf8(&sent).is_ok());
                let text = String::from_utf8_lossy(&sent);
                prop_assert!(!text.trim_end_matches('\n').chars().any(proto::text::is_unsafe));
            }
            out.clear();
        }
    }
}

/// Whether a datagram is a cookie frame, the answer to `@IM@`.
fn is_cookie(datagram: &[u8]) -> bool {
    matches!(frame::read(datagram), Framed::Cookie(_))
}
