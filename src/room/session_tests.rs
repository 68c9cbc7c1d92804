//! Sessions and `--verify`, as unit tests with invented addresses: what a cookie opens,
//! what a forged source can and cannot do, and the budget of addresses not yet proven.

use super::tests::{addr, config, TIMEOUT};
use super::*;
use crate::proto::frame::{session, write_echo, TOKEN_LEN};

const TOKEN: Token = Token(*b"s3cret!!");

fn new_room(verify: bool, now: Instant) -> Room {
    Room::new(Config { verify, ..config() }, now)
}

/// What the room sent, in order, for one datagram.
fn feed(room: &mut Room, datagram: &[u8], from: u16, now: Instant) -> Vec<(u16, Vec<u8>)> {
    let mut out = Outbox::new();
    room.handle_datagram(datagram, addr(from), now, &mut out);
    out.to_vec()
        .into_iter()
        .map(|(to, bytes)| (to.port(), bytes))
        .collect()
}

/// The body of a session frame with our token, or what was sent as text.
fn read(bytes: &[u8]) -> String {
    match frame::read(bytes) {
        Framed::Session { token, body }
        | Framed::Line {
            token, line: body, ..
        } => {
            assert_eq!(token, TOKEN, "a session frame with another token");
            format!("[session] {}", String::from_utf8_lossy(body))
        }
        Framed::Answer { token, latest, .. } => {
            assert_eq!(token, TOKEN, "a session frame with another token");
            format!("[answer] {latest}")
        }
        Framed::Plain(text) => String::from_utf8_lossy(text).into_owned(),
        other => format!("{other:?}"),
    }
}

fn shown(sent: &[(u16, Vec<u8>)]) -> Vec<(u16, String)> {
    sent.iter().map(|(to, bytes)| (*to, read(bytes))).collect()
}

/// Sends `@IM@` from `port` and returns the cookie it is answered with.
fn cookie_for(room: &mut Room, port: u16, now: Instant) -> Cookie {
    let sent = feed(room, frame::HELLO, port, now);
    assert_eq!(sent.len(), 1, "one answer to a hello: {sent:?}");
    assert_eq!(sent[0].0, port);
    assert_eq!(sent[0].1.len(), frame::COOKIE_FRAME);
    match frame::read(&sent[0].1) {
        Framed::Cookie(cookie) => cookie,
        other => panic!("not a cookie: {other:?}"),
    }
}

fn echo(cookie: Cookie, token: Token) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_echo(&mut bytes, cookie, token);
    bytes
}

/// Opens a session for `port` with [`TOKEN`]; returns what the echo drew.
/// The join code in what the room told an address: the whole notice or the short line.
fn code_in(told: &[u8]) -> String {
    let text = read(told);
    let rest = text
        .split("/join ")
        .nth(1)
        .unwrap_or_else(|| panic!("no code: {text:?}"));
    rest[..CODE_DIGITS].to_string()
}

/// Under `--verify`, the classic address `port` says a line, is told its code, and
/// types it back: a member.
fn join_by_code(room: &mut Room, port: u16, now: Instant) {
    let told = feed(room, b"hi there, anyone?\n", port, now);
    let code = code_in(&told[0].1);
    feed(room, format!("/join {code}\n").as_bytes(), port, now);
    assert!(room.members(now).iter().any(|m| m.addr == addr(port)));
}

/// Feeds one datagram from `from` (any address) and returns what the room sends.
fn send_from(
    room: &mut Room,
    datagram: &[u8],
    from: SocketAddr,
    now: Instant,
) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Outbox::new();
    room.handle_datagram(datagram, from, now, &mut out);
    out.to_vec()
}

/// Opens a session with [`TOKEN`] from `from` (any address): hello, cookie, echo.
fn open_from(room: &mut Room, from: SocketAddr, now: Instant) {
    let answer = send_from(room, frame::HELLO, from, now);
    let Some(Framed::Cookie(cookie)) = answer.first().map(|(_, d)| frame::read(d)) else {
        panic!("no cookie for {from}: {answer:?}");
    };
    send_from(room, &echo(cookie, TOKEN), from, now);
}

fn open(room: &mut Room, port: u16, now: Instant) -> Vec<(u16, String)> {
    let cookie = cookie_for(room, port, now);
    shown(&feed(room, &echo(cookie, TOKEN), port, now))
}

#[test]
fn a_hello_draws_a_cookie_and_nothing_else() {
    let t = Instant::now();
    for verify in [false, true] {
        let mut room = new_room(verify, t);
        cookie_for(&mut room, 7, t);
        assert!(room.is_empty(), "a hello makes no member");
    }
}

#[test]
fn an_echoed_cookie_opens_a_session_whose_datagrams_are_framed() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    feed(&mut room, b"@im@", 1, t);
    let opened = open(&mut room, 7, t);
    assert_eq!(
        opened,
        vec![
            (
                7,
                "[session] * you joined as 127.0.0.1:7 (2 here; /help for commands; no message limit)"
                    .to_string()
            ),
            (1, "* 127.0.0.1:7 joined".to_string()),
        ]
    );
    assert_eq!(room.sessions(), 1);
    // Chat from the session reaches the classic member bare, the session framed.
    let mut sent = shown(&feed(&mut room, &session(TOKEN, b"hi"), 7, t));
    sent.sort();
    assert_eq!(
        sent,
        vec![
            (1, "127.0.0.1:7 hi".to_string()),
            (7, "[session] 127.0.0.1:7 hi".to_string()),
        ]
    );
    let sent = shown(&feed(&mut room, b"hello", 1, t));
    assert!(sent.contains(&(7, "[session] 127.0.0.1:1 hello".to_string())));
    // A session's heartbeat is answered with the latest number it was sent (the
    // welcome, its own line, the other's line); a classic one is not answered.
    let sent = shown(&feed(&mut room, &session(TOKEN, b"@im@"), 7, t));
    assert_eq!(sent, vec![(7, "[answer] 3".to_string())]);
    assert!(feed(&mut room, b"@im@", 1, t).is_empty());
    // The goodbye to a session is its header alone.
    let mut out = Outbox::new();
    room.shutdown(&mut out);
    let goodbyes = out.to_vec();
    assert!(goodbyes.contains(&(addr(1), Vec::new())));
    assert!(goodbyes.contains(&(addr(7), frame::session_header(TOKEN).to_vec())));
}

#[test]
fn nothing_without_the_token_speaks_for_a_session() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    feed(&mut room, b"@im@", 1, t);
    open(&mut room, 7, t);
    feed(&mut room, &session(TOKEN, b"/nick alice"), 7, t);
    let forged: [&[u8]; 9] = [
        b"quit",
        b"",
        b"@im@",
        b"hi from a forger",
        b"/nick mallory",
        b"/msg 127.0.0.1:1 psst",
        b"/who",
        b"/me left",
        b"* you joined as 127.0.0.1:0 (1 here; /help for commands)",
    ];
    for datagram in forged {
        assert_eq!(feed(&mut room, datagram, 7, t), vec![], "{datagram:?}");
    }
    let other_token = Token(*b"guessed!");
    for datagram in [
        session(other_token, b"quit"),
        session(other_token, b"hi"),
        vec![frame::FRAME_MARK, b'S'],
        vec![frame::FRAME_MARK, b'C', 1, 2, 3, 4, 5, 6, 7, 8],
    ] {
        assert_eq!(feed(&mut room, &datagram, 7, t), vec![], "{datagram:?}");
    }
    let stats = room.stats();
    assert_eq!(stats.forged, forged.len() as u64);
    assert_eq!(stats.bad_credentials, 4);
    let members = room.members(t);
    assert_eq!(members.len(), 2, "the forged quit removed no one");
    assert_eq!(members[1].label, "alice", "the forged /nick renamed no one");
    // The session itself still speaks.
    let sent = shown(&feed(&mut room, &session(TOKEN, b"still me"), 7, t));
    assert!(sent.contains(&(1, "alice still me".to_string())));
    let sent = shown(&feed(&mut room, &session(TOKEN, b"quit"), 7, t));
    assert_eq!(sent, vec![(1, "* alice left".to_string())]);
    assert_eq!(room.len(), 1);
}

#[test]
fn a_bad_stale_or_borrowed_cookie_opens_nothing() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    let cookie = cookie_for(&mut room, 7, t);
    let mut wrong = cookie;
    wrong.0[0] ^= 1;
    assert!(feed(&mut room, &echo(wrong, TOKEN), 7, t).is_empty());
    assert!(
        feed(&mut room, &echo(cookie, TOKEN), 8, t).is_empty(),
        "another address"
    );
    let stale = t + 2 * COOKIE_EPOCH;
    assert!(feed(&mut room, &echo(cookie, TOKEN), 7, stale).is_empty());
    assert_eq!(room.stats().bad_credentials, 3);
    assert!(room.is_empty());
    // Across one epoch boundary the cookie still opens.
    let mut room2 = new_room(false, t);
    let cookie = cookie_for(&mut room2, 7, t + COOKIE_EPOCH - Duration::from_millis(1));
    let opened = feed(&mut room2, &echo(cookie, TOKEN), 7, t + COOKIE_EPOCH);
    assert_eq!(opened.len(), 1);
    assert_eq!(room2.sessions(), 1);
}

#[test]
fn a_new_cookie_renews_a_session_and_a_classic_member_becomes_one() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    feed(&mut room, b"@im@", 1, t);
    // A classic member with a name upgrades, quietly for the others.
    feed(&mut room, b"/nick bob", 7, t);
    let sent = open(&mut room, 7, t);
    assert_eq!(
        sent,
        vec![(
            7,
            "[session] * you joined as bob (2 here; /help for commands; no message limit)"
                .to_string()
        )]
    );
    // Its client lost track of the session and opens another: the old token is dead.
    let renewed = Token(*b"renewed!");
    let cookie = cookie_for(&mut room, 7, t);
    let sent = feed(&mut room, &echo(cookie, renewed), 7, t);
    assert_eq!(sent.len(), 1);
    assert!(feed(&mut room, &session(TOKEN, b"quit"), 7, t).is_empty());
    assert_eq!(room.len(), 2);
    let sent = feed(&mut room, &session(renewed, b"hi"), 7, t);
    assert!(sent.contains(&(1, b"bob hi".to_vec())));
}

#[test]
fn a_timed_out_session_comes_back_by_a_cookie_with_its_name() {
    let t = Instant::now();
    let mut room = new_room(true, t);
    open(&mut room, 7, t);
    feed(&mut room, &session(TOKEN, b"/nick carol"), 7, t);
    let mut out = Outbox::new();
    room.handle_timeout(t + TIMEOUT + Duration::from_secs(1), &mut out);
    assert!(room.is_empty());
    let later = t + TIMEOUT + Duration::from_secs(2);
    // A forged heartbeat cannot bring it back under --verify, whatever it was.
    assert!(feed(&mut room, b"@im@", 7, later).is_empty());
    assert!(room.is_empty());
    let back = open(&mut room, 7, later);
    assert_eq!(
        back,
        vec![(
            7,
            "[session] * you joined as carol (1 here; /help for commands; no message limit)"
                .to_string()
        )]
    );
}

#[test]
fn verify_tells_a_classic_client_its_code_within_three_times_its_bytes() {
    let t = Instant::now();
    let mut room = new_room(true, t);
    // The Python client: 4-byte heartbeats. The terse answer, the 16-byte line to type,
    // needs 6 received: the second heartbeat.
    assert!(feed(&mut room, b"@im@", 5, t).is_empty());
    let told = feed(&mut room, b"@im@", 5, t + Duration::from_secs(5));
    assert_eq!(told.len(), 1);
    let line = String::from_utf8(told[0].1.clone()).unwrap();
    let code = line
        .strip_prefix("/join ")
        .unwrap_or_else(|| panic!("{line:?}"));
    assert_eq!(code.len(), CODE_DIGITS);
    assert!(line.len() <= 8 * 3);
    assert!(room.is_empty());
    // Typing it back makes it a member, welcomed as usual.
    let at = t + Duration::from_secs(11);
    let sent = feed(&mut room, format!("/join {code}").as_bytes(), 5, at);
    assert_eq!(
        shown(&sent),
        vec![(
            5,
            "* you joined as 127.0.0.1:5 (1 here; /help for commands; no message limit)"
                .to_string()
        )]
    );
    assert_eq!(room.stats().joined_by_code, 1);
    // From then on it is a member like any classic one.
    assert_eq!(
        shown(&feed(&mut room, b"hi", 5, at)),
        vec![(5, "127.0.0.1:5 hi".to_string())]
    );
    assert_eq!(
        shown(&feed(&mut room, b"/join again", 5, at)),
        vec![(5, "* you are in the room already".to_string())]
    );
}

#[test]
fn verify_answers_netcat_at_once_in_line_mode_and_ignores_a_wrong_code() {
    let t = Instant::now();
    let mut room = new_room(true, t);
    // Netcat's `hello` (6 bytes) is answered at once: the line to type (17 bytes).
    let told = feed(&mut room, b"hello\n", 6, t);
    assert_eq!(told.len(), 1);
    assert!(told[0].1.starts_with(b"/join "), "{:?}", read(&told[0].1));
    assert!(told[0].1.ends_with(b"\n"));
    assert!(told[0].1.len() <= 3 * 6);
    // Not again within TELL_CODE_EVERY, nor for a quit; but a mistyped code is
    // answered with the right one at once, as the budget allows.
    assert!(feed(&mut room, b"what now?\n", 6, t).is_empty());
    assert!(feed(&mut room, b"quit\n", 6, t).is_empty());
    let again = feed(&mut room, b"/join aaaaaaaaaa\n", 6, t);
    assert_eq!(again.len(), 1, "the right code, at once");
    assert_eq!(
        code_in(&again[0].1),
        code_in(&told[0].1),
        "the same code, within its epoch"
    );
    assert!(room.is_empty());
    assert_eq!(room.stats().bad_credentials, 1);
    assert_eq!(room.stats().unproven, 4);
    // Later, once the budget allows, it is told again; a long enough line brings the
    // whole notice, which also says that nothing is relayed till then.
    let later = feed(
        &mut room,
        b"is anybody out there at all?\n",
        6,
        t + TELL_CODE_EVERY * 2,
    );
    assert_eq!(later.len(), 1);
    assert!(
        read(&later[0].1).starts_with("* to join, type /join ")
            && read(&later[0].1).contains("nothing is relayed till then"),
        "{:?}",
        read(&later[0].1)
    );
}

#[test]
fn verify_keeps_a_classic_member_proven_a_while_after_it_leaves() {
    let t = Instant::now();
    let mut room = new_room(true, t);
    join_by_code(&mut room, 5, t);
    assert_eq!(room.len(), 1);
    let mut out = Outbox::new();
    let evicted = t + TIMEOUT + Duration::from_secs(1);
    room.handle_timeout(evicted, &mut out);
    assert!(room.is_empty());
    // A heartbeat, which anyone can forge, brings nothing back.
    assert!(feed(&mut room, b"@im@", 5, evicted).is_empty());
    assert!(room.is_empty());
    // Its next line, within ten minutes, brings it back without a new code.
    let back = feed(
        &mut room,
        b"back again, me\n",
        5,
        evicted + Duration::from_secs(5),
    );
    assert_eq!(room.len(), 1);
    assert!(
        back.iter()
            .any(|(to, d)| *to == 5 && read(d).starts_with("127.0.0.1:5 back again")),
        "{:?}",
        shown(&back)
    );
    // Gone again, and past ten minutes: it proves itself again.
    room.remove(
        addr(5),
        Departure::Left { message: "" },
        evicted + Duration::from_secs(6),
        &mut out,
    );
    let later = evicted + Duration::from_secs(6) + REMEMBER_PROVEN_FOR;
    let again = feed(&mut room, b"back again, me\n", 5, later);
    assert!(room.is_empty());
    assert!(
        read(&again[0].1).contains("/join "),
        "{:?}",
        read(&again[0].1)
    );
}

// Under `--verify`, heartbeats alone keep a classic member only ten minutes after its
// last line: forged ones cannot keep a departed owner's address in the room for ever.
#[test]
fn verify_bounds_how_long_heartbeats_alone_keep_a_classic_member() {
    let t = Instant::now();
    let mut room = new_room(true, t);
    join_by_code(&mut room, 5, t);
    let mut now = t;
    let mut out = Outbox::new();
    while now < t + REMEMBER_PROVEN_FOR + TIMEOUT * 3 {
        now += Duration::from_secs(5);
        feed(&mut room, b"@im@", 5, now);
        room.handle_timeout(now, &mut out);
        if now < t + REMEMBER_PROVEN_FOR {
            assert_eq!(room.len(), 1, "kept by its heartbeats at {:?}", now - t);
        }
    }
    assert!(room.is_empty(), "heartbeats alone kept it {:?}", now - t);
    assert!(room.stats().timed_out >= 1);
}

#[test]
fn verify_bounds_what_forged_requests_draw() {
    let t = Instant::now();
    let mut room = new_room(true, t);
    for port in 1..=5 {
        open(&mut room, port, t);
    }
    let victim = 9;
    let mut received = 0;
    let mut sent = 0;
    for (i, datagram) in [&b"@im@"[..], b"hi", b"/who", b"/nick victim", b"@IM@", b"x"]
        .iter()
        .cycle()
        .take(600)
        .enumerate()
    {
        let at = t + Duration::from_millis(i as u64 * 20);
        received += datagram.len();
        for (to, bytes) in feed(&mut room, datagram, victim, at) {
            assert_eq!(to, victim, "nothing else moves");
            sent += bytes.len();
        }
    }
    assert!(sent <= 3 * received, "{sent} bytes for {received}");
    assert!(sent > 0, "the victim's address is told its code");
    assert_eq!(room.len(), 5);
}

#[test]
fn verify_answers_exactly_as_far_as_three_times_the_bytes_allow() {
    let t = Instant::now();
    let mut room = new_room(true, t);
    // A hello (4 bytes) draws its cookie (10), within 12.
    let cookie = feed(&mut room, frame::HELLO, 9, t);
    assert_eq!(cookie.len(), 1);
    assert_eq!(cookie[0].1.len(), frame::COOKIE_FRAME);
    // The line to type is 16 bytes: one heartbeat (4 bytes) buys 12, short of it; the
    // second brings 24.
    let a = 10;
    assert!(feed(&mut room, b"@im@", a, t).is_empty());
    let second = feed(&mut room, b"@im@", a, t);
    assert_eq!(second.len(), 1, "8 bytes buy 24: the 16-byte line");
    assert_eq!(second[0].1.len(), 16);
    // The whole notice is 62 bytes, 63 with its newline: a line of 20 bytes buys 60,
    // so the short answer; one of 21 buys exactly the notice.
    let told = feed(&mut room, b"0123456789abcdefghi\n", 11, t);
    assert_eq!(told[0].1.len(), 17, "the line to type, with its newline");
    let told = feed(&mut room, b"0123456789abcdefghij\n", 12, t);
    assert_eq!(
        told[0].1.len(),
        63,
        "twenty-one bytes buy exactly the notice"
    );
}

#[test]
fn every_line_to_a_session_carries_its_token_and_the_next_number() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    open(&mut room, 7, t);
    let sent = feed(&mut room, &session(TOKEN, b"x"), 7, t);
    assert_eq!(sent[0].1.len(), 2 + TOKEN_LEN + 8 + "127.0.0.1:7 x".len());
    assert_eq!(
        frame::read(&sent[0].1),
        Framed::Line {
            token: TOKEN,
            seq: 2,
            line: b"127.0.0.1:7 x"
        }
    );
    let sent = feed(&mut room, &session(TOKEN, b"/who"), 7, t);
    assert!(matches!(
        frame::read(&sent[0].1),
        Framed::Line { seq: 3, .. }
    ));
}

#[test]
fn a_sessions_name_never_comes_back_to_a_classic_datagram() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    feed(&mut room, b"@im@", 1, t);
    open(&mut room, 7, t);
    feed(&mut room, &session(TOKEN, b"/nick alice"), 7, t);
    let mut out = Outbox::new();
    let evicted = t + TIMEOUT + Duration::from_secs(1);
    feed(&mut room, b"@im@", 1, evicted - Duration::from_secs(1));
    room.handle_timeout(evicted, &mut out);
    assert_eq!(room.len(), 1, "alice timed out");
    // A forger at her address joins as the address, not as alice.
    let sent = shown(&feed(&mut room, b"I am alice", 7, evicted));
    assert!(
        sent.contains(&(1, "127.0.0.1:7 I am alice".to_string())),
        "{sent:?}"
    );
    feed(&mut room, b"quit", 7, evicted);
    // Her client, opening a session again, gets her name back.
    let back = open(&mut room, 7, evicted);
    assert!(
        back[0].1.starts_with("[session] * you joined as alice "),
        "{back:?}"
    );
}

#[test]
fn a_session_that_joins_is_shown_what_was_said_before_it() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            history_lines: 2,
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"@im@", 2, t);
    feed(&mut room, b"one", 1, t);
    feed(&mut room, b"/msg 127.0.0.1:2 a secret", 1, t);
    feed(&mut room, b"two", 1, t);
    feed(&mut room, b"/me waves", 2, t + Duration::from_secs(2));
    let t = t + Duration::from_secs(5);
    // Classic newcomers get none of it.
    let classic = feed(&mut room, b"@im@", 3, t);
    let to_classic: Vec<_> = classic.iter().filter(|(to, _)| *to == 3).collect();
    assert_eq!(to_classic.len(), 1);
    assert!(to_classic[0].1.starts_with(b"* you joined as "));
    let cookie = cookie_for(&mut room, 7, t);
    let sent = feed(&mut room, &echo(cookie, TOKEN), 7, t);
    let to_newcomer: Vec<Framed> = sent
        .iter()
        .filter(|(to, _)| *to == 7)
        .map(|(_, bytes)| frame::read(bytes))
        .collect();
    assert_eq!(to_newcomer.len(), 3, "the welcome, then the last two lines");
    assert!(matches!(to_newcomer[0], Framed::Line { seq: 1, .. }));
    // Each with how long ago it was said: the last two were said 3 s and 5 s ago.
    let mut two = Vec::new();
    frame::write_history_body(&mut two, Duration::from_secs(5), b"127.0.0.1:1 two");
    let mut waves = Vec::new();
    frame::write_history_body(&mut waves, Duration::from_secs(3), b"* 127.0.0.1:2 waves");
    assert_eq!(
        to_newcomer[1..],
        [
            Framed::History {
                token: TOKEN,
                seq: 2,
                body: &two
            },
            Framed::History {
                token: TOKEN,
                seq: 3,
                body: &waves
            },
        ]
    );
    // A session renewed by its client is not shown it again.
    let cookie = cookie_for(&mut room, 7, t);
    let renewed = feed(&mut room, &echo(cookie, Token(*b"renewed!")), 7, t);
    assert_eq!(renewed.len(), 1, "only the welcome");
    // With no history kept, a newcomer gets its welcome alone.
    let mut quiet = Room::new(
        Config {
            history_lines: 0,
            ..config()
        },
        t,
    );
    feed(&mut quiet, b"@im@", 1, t);
    feed(&mut quiet, b"said", 1, t);
    assert_eq!(
        open(&mut quiet, 7, t).len(),
        2,
        "its welcome and the join notice"
    );
}

#[test]
fn a_session_asks_again_for_what_it_missed_and_is_told_what_is_gone() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    feed(&mut room, b"@im@", 1, t);
    open(&mut room, 7, t);
    for i in 0..3 {
        feed(&mut room, format!("line {i}").as_bytes(), 1, t);
    }
    let mut repair = Vec::new();
    frame::write_repair(&mut repair, TOKEN, 2, 3);
    let sent = feed(&mut room, &repair, 7, t);
    let again: Vec<Framed> = sent.iter().map(|(_, d)| frame::read(d)).collect();
    assert_eq!(
        again,
        [
            Framed::Line {
                token: TOKEN,
                seq: 2,
                line: b"127.0.0.1:1 line 0"
            },
            Framed::Line {
                token: TOKEN,
                seq: 3,
                line: b"127.0.0.1:1 line 1"
            },
        ]
    );
    assert!(sent.iter().all(|(to, _)| *to == 7), "to the session alone");
    // Once the ring has moved on, it is told what is gone.
    for i in 0..SENT_LINES {
        feed(&mut room, format!("more {i}").as_bytes(), 1, t);
    }
    let later = t + Duration::from_secs(1);
    let sent = feed(&mut room, &repair, 7, later);
    assert_eq!(
        sent.iter().map(|(_, d)| frame::read(d)).collect::<Vec<_>>(),
        [Framed::Lost {
            token: TOKEN,
            upto: 3
        }]
    );
    // Without its token, or beyond its allowance, a repair request draws nothing.
    let mut forged = Vec::new();
    frame::write_repair(&mut forged, Token(*b"guessed!"), 1, 64);
    assert!(feed(&mut room, &forged, 7, later).is_empty());
    assert!(
        feed(&mut room, &forged, 1, later).is_empty(),
        "a classic member"
    );
    let answered = (0..2000)
        .filter(|_| !feed(&mut room, &repair, 7, later).is_empty())
        .count();
    assert_eq!(answered as f64, REPAIR_BURST - 1.0, "the rest of the burst");
}

#[test]
fn typed_lines_are_taken_once_in_the_order_typed_and_answered() {
    let t = Instant::now();
    let mut room = new_room(false, t);
    feed(&mut room, b"@im@", 1, t);
    open(&mut room, 7, t);
    let typed = |seq: u64, body: &str| frame::typed(TOKEN, seq, body.as_bytes());
    let relayed = |sent: &[(u16, Vec<u8>)]| -> Vec<String> {
        sent.iter()
            .filter(|(to, _)| *to == 1)
            .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
            .collect()
    };
    let answers = |sent: &[(u16, Vec<u8>)]| -> Vec<u64> {
        sent.iter()
            .filter_map(|(_, bytes)| match frame::read(bytes) {
                Framed::Answer { received, .. } => Some(received),
                _ => None,
            })
            .collect()
    };
    let first = feed(&mut room, &typed(1, "one"), 7, t);
    assert_eq!(relayed(&first), ["127.0.0.1:7 one"]);
    assert_eq!(answers(&first), [1]);
    // Sent again (its answer was lost): taken once, answered again.
    let again = feed(&mut room, &typed(1, "one"), 7, t);
    assert!(relayed(&again).is_empty());
    assert_eq!(answers(&again), [1]);
    // 3 before 2: it waits for 2, then both go, in the order typed.
    let early = feed(&mut room, &typed(3, "three"), 7, t);
    assert!(relayed(&early).is_empty());
    assert_eq!(answers(&early), [1]);
    let both = feed(&mut room, &typed(2, "two"), 7, t);
    assert_eq!(relayed(&both), ["127.0.0.1:7 two", "127.0.0.1:7 three"]);
    assert_eq!(answers(&both), [3]);
    // A gap never filled is skipped after a second, at the session's next word.
    feed(&mut room, &typed(5, "five"), 7, t);
    let later = t + HOLD_TYPED_FOR;
    let heartbeat = feed(&mut room, &session(TOKEN, b"@im@"), 7, later);
    assert_eq!(relayed(&heartbeat), ["127.0.0.1:7 five"]);
    assert_eq!(answers(&heartbeat), [5]);
    // Without its token, a typed line does nothing.
    assert!(feed(
        &mut room,
        &frame::typed(Token(*b"guessed!"), 6, b"x"),
        7,
        later
    )
    .is_empty());
}

#[test]
fn a_room_that_keeps_nothing_to_send_again_says_so() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            repair_lines: 0,
            max_per_host: usize::MAX,
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    open(&mut room, 7, t);
    feed(&mut room, b"gone at once", 1, t);
    let mut repair = Vec::new();
    frame::write_repair(&mut repair, TOKEN, 1, 3);
    let sent = feed(&mut room, &repair, 7, t);
    // Numbers past the latest sent (2: the welcome, the line) are not asked about.
    assert_eq!(
        sent.iter().map(|(_, d)| frame::read(d)).collect::<Vec<_>>(),
        [Framed::Lost {
            token: TOKEN,
            upto: 2
        }]
    );
}

// Issue 18, item 4: one datagram shaped like a welcome, forged from a client's address,
// keeps our client out of nothing: its handshake is heard, and its session clears the
// mark. A classic client from that address is not heard in text for the mark's length;
// its heartbeat, which no server sends, clears the mark (see the next test).
#[test]
fn a_forged_welcome_keeps_our_client_out_of_nothing() {
    let t = Instant::now();
    let local: SocketAddr = "127.0.0.1:9999".parse().unwrap();
    let mut room = Room::new(
        Config {
            local_addr: Some(local),
            ..super::tests::config()
        },
        t,
    );
    let welcome = b"* you joined as 127.0.0.1:9999 (2 here; /help for commands)";
    assert!(feed(&mut room, welcome, 7, t).is_empty());
    assert_eq!(room.stats().from_servers, 1);
    // A classic line from there is not heard (so two servers stay quiet)...
    assert!(feed(&mut room, b"* 127.0.0.1:7 joined", 7, t).is_empty());
    assert!(room.is_empty());
    assert_eq!(room.stats().from_servers, 2);
    // ...but our client's handshake is: a cookie, then a session.
    let joined = open(&mut room, 7, t);
    assert!(
        joined
            .iter()
            .any(|(to, text)| *to == 7 && text.contains("* you joined as ")),
        "{joined:?}"
    );
    assert_eq!(room.len(), 1);
    // Proven a client, the address is heard in plain text again.
    let mut out = Outbox::new();
    room.handle_datagram(b"@im@", super::tests::addr(7), t, &mut out);
    assert_eq!(room.stats().from_servers, 2, "the mark is gone");
    assert_eq!(
        room.stats().forged,
        1,
        "a bare heartbeat from a session is a forgery"
    );
}

// Issue 18, item 3: repairs are limited per host in bytes, so many sessions from one
// host cannot make the room a fountain of repeats.
#[test]
fn one_hosts_sessions_share_one_budget_of_repairs() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_message_bytes: 60_000,
            ..config()
        },
        t,
    );
    let host = |port: u16| SocketAddr::from(([10, 0, 0, 7], port));
    let send =
        |room: &mut Room, datagram: &[u8], from: SocketAddr| send_from(room, datagram, from, t);
    // Twenty sessions from one host.
    for port in 1..=20 {
        open_from(&mut room, host(port), t);
    }
    assert_eq!(room.sessions(), 20);
    // A classic member says ten long lines, numbered 2..=11 or so in every session.
    let talker = SocketAddr::from(([10, 0, 0, 8], 1));
    send(&mut room, b"@im@", talker);
    let long = vec![b'x'; 50_000];
    for _ in 0..10 {
        send(&mut room, &long, talker);
    }
    // Every session asks for every line again, at once.
    let mut repaired = 0;
    for port in 1..=20 {
        let mut ask = Vec::new();
        frame::write_repair(&mut ask, TOKEN, 1, 64);
        repaired += send(&mut room, &ask, host(port))
            .iter()
            .map(|(_, d)| d.len())
            .sum::<usize>();
    }
    // At most the host's burst, and the one repair that may take it into debt.
    let one_repair = 10 * (50_000 + 20) + 1_000;
    assert!(
        repaired <= super::stream::REPAIR_HOST_BURST as usize + one_repair,
        "{repaired} bytes of repairs to one host"
    );
    assert!(repaired >= 500_000, "the budget is used: {repaired}");
}

// Issue 18, item 3: typed lines held behind gaps are limited per host in bytes, and
// the count stays true as sessions come and go.
#[test]
fn one_hosts_sessions_share_one_budget_of_held_lines() {
    use super::stream::HELD_TYPED_HOST_BYTES;
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_message_bytes: 60_000,
            ..config()
        },
        t,
    );
    let host = |port: u16| SocketAddr::from(([10, 0, 0, 7], port));
    let send =
        |room: &mut Room, datagram: &[u8], from: SocketAddr| send_from(room, datagram, from, t);
    let open = |room: &mut Room, port: u16| open_from(room, host(port), t);
    let held = |room: &mut Room| -> usize {
        (1..=40)
            .filter_map(|port| room.stream_of(host(port)).map(|s| s.held_bytes()))
            .sum()
    };
    // Each session types line 2 of 50 000 bytes before line 1: it waits, held.
    let line = vec![b'x'; 50_000];
    for port in 1..=40 {
        open(&mut room, port);
        send(&mut room, &frame::typed(TOKEN, 2, &line), host(port));
    }
    let total = held(&mut room);
    assert!(
        total <= HELD_TYPED_HOST_BYTES,
        "{total} bytes held for one host"
    );
    assert!(
        total >= HELD_TYPED_HOST_BYTES - 50_001,
        "the budget is used: {total}"
    );
    // Sessions that leave give their share back: the host may hold again.
    for port in 1..=40 {
        send(&mut room, &session(TOKEN, b"quit"), host(port));
    }
    assert!(room.is_empty());
    open(&mut room, 41);
    send(&mut room, &frame::typed(TOKEN, 2, &line), host(41));
    assert_eq!(
        room.stream_of(host(41)).map(|s| s.held_bytes()),
        Some(50_000)
    );
}

// Issue 18, item 3, as attacked: 16 sessions from each of many hosts stay under each
// host's budget; the room as a whole holds no more than its own, loopback included.
#[test]
fn all_sessions_together_hold_no_more_than_the_rooms_budget() {
    use super::stream::HELD_TYPED_ROOM_BYTES;
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_message_bytes: 60_000,
            max_clients: 1000,
            ..config()
        },
        t,
    );
    let send =
        |room: &mut Room, datagram: &[u8], from: SocketAddr| send_from(room, datagram, from, t);
    let open = |room: &mut Room, from: SocketAddr| open_from(room, from, t);
    // 20 hosts of 10.0.x.1 and loopback, 16 sessions each, each holding 50 000 bytes.
    let mut addrs: Vec<SocketAddr> = (0..20u8)
        .flat_map(|x| (1..=16u16).map(move |port| SocketAddr::from(([10, 0, x, 1], port))))
        .collect();
    addrs.extend((1..=16u16).map(|port| SocketAddr::from(([127, 0, 0, 9], port))));
    let line = vec![b'x'; 50_000];
    for &from in &addrs {
        open(&mut room, from);
        send(&mut room, &frame::typed(TOKEN, 2, &line), from);
    }
    let total: usize = addrs
        .iter()
        .filter_map(|&from| room.stream_of(from).map(|s| s.held_bytes()))
        .sum();
    assert!(total <= HELD_TYPED_ROOM_BYTES, "{total} bytes held");
    assert!(
        total >= HELD_TYPED_ROOM_BYTES - 50_001,
        "the budget is used: {total}"
    );
    // Leaving gives the room its bytes back.
    for &from in &addrs[..40] {
        send(&mut room, &session(TOKEN, b"quit"), from);
    }
    let late = SocketAddr::from(([10, 9, 9, 9], 1));
    open(&mut room, late);
    send(&mut room, &frame::typed(TOKEN, 2, &line), late);
    assert_eq!(room.stream_of(late).map(|s| s.held_bytes()), Some(50_000));
}

// Issue 18, item 7 as attacked: a LAN's broadcast or network address (no one can tell
// it from a host's) that joined is removed once the socket refuses to send to it.
#[test]
fn a_member_the_socket_cannot_send_to_is_removed() {
    let t = Instant::now();
    let mut room = Room::new(config(), t);
    let mut out = Outbox::new();
    let broadcast = SocketAddr::from(([10, 77, 0, 255], 4000));
    let member = SocketAddr::from(([10, 77, 0, 2], 4000));
    room.handle_datagram(b"@im@", member, t, &mut out);
    room.handle_datagram(b"@im@", broadcast, t, &mut out);
    assert_eq!(room.len(), 2);
    let mut out = Outbox::new();
    room.cannot_reach(broadcast, t, &mut out);
    assert_eq!(room.len(), 1);
    assert_eq!(room.stats().unreachable, 1);
    let told: Vec<_> = out.to_vec();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].0, member);
    room.cannot_reach(SocketAddr::from(([10, 77, 0, 3], 1)), t, &mut out);
    assert_eq!(
        room.stats().unreachable,
        1,
        "a stranger is no member to remove"
    );
}

// Issue 18, item 4 as attacked: a welcome forged from a classic client's address costs
// it its seat, not its proof; its next heartbeat (the Python client's, within 5 s)
// clears the mark.
#[test]
fn a_forged_welcome_keeps_a_heartbeating_classic_client_out_no_longer_than_a_heartbeat() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            local_addr: Some(SocketAddr::from(([10, 0, 0, 1], 9999))),
            ..config()
        },
        t,
    );
    let client = SocketAddr::from(([10, 0, 0, 5], 4000));
    let mut out = Outbox::new();
    room.handle_datagram(b"@im@", client, t, &mut out);
    let welcome = b"* you joined as 10.0.0.1:9999 (2 here; /help for commands; no message limit)";
    room.handle_datagram(welcome, client, t, &mut out);
    assert!(room.is_empty(), "taken for a server");
    let mut out = Outbox::new();
    room.handle_datagram(b"hello", client, t, &mut out);
    assert!(room.is_empty() && out.is_empty(), "its text is not heard");
    room.handle_datagram(b"@im@", client, t + Duration::from_secs(5), &mut out);
    assert_eq!(
        room.len(),
        1,
        "a heartbeat, which no server sends, brings it back"
    );
    let mut out = Outbox::new();
    room.handle_datagram(b"hello again", client, t + Duration::from_secs(6), &mut out);
    assert!(!out.is_empty(), "and it is heard");
}
