//! The room's behaviours as unit tests with byte literals and invented addresses.

use super::*;

pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub(super) fn config() -> Config {
    Config {
        timeout: TIMEOUT,
        max_message_bytes: 64,
        max_clients: 100,
        rate_per_sec: 0.0,
        burst: 10,
        local_addr: None,
        verify: false,
        history_lines: 20,
        repair_lines: 1024,
        max_per_host: usize::MAX,
    }
}

/// An empty room whose members may send `rate_per_sec` messages a second, `burst` at once.
fn rated(rate_per_sec: f64, burst: u32, now: Instant) -> Room {
    Room::new(
        Config {
            rate_per_sec,
            burst,
            ..config()
        },
        now,
    )
}

fn room() -> Room {
    Room::new(config(), Instant::now())
}

/// A room with members on the given ports, joined in that order.
fn room_with(ports: &[u16], now: Instant) -> Room {
    let mut room = room();
    for &port in ports {
        feed(&mut room, b"@im@", port, now);
    }
    room
}

/// Feeds one datagram and returns what the room sends, sorted by destination.
fn feed(room: &mut Room, datagram: &[u8], from: u16, now: Instant) -> Vec<(u16, String)> {
    let mut out = Outbox::new();
    room.handle_datagram(datagram, addr(from), now, &mut out);
    sorted(&out)
}

fn sorted(out: &Outbox) -> Vec<(u16, String)> {
    let mut sent: Vec<(u16, String)> = out
        .to_vec()
        .into_iter()
        .map(|(a, b)| (a.port(), String::from_utf8(b).unwrap()))
        .collect();
    sent.sort();
    sent
}

fn to(ports: &[u16], text: &str) -> Vec<(u16, String)> {
    ports.iter().map(|&p| (p, text.to_string())).collect()
}

#[test]
fn heartbeat_joins_telling_the_others_and_welcoming_the_newcomer() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    assert_eq!(
        feed(&mut room, b"@im@", 2, t),
        vec![
            (1, "* 127.0.0.1:2 joined".into()),
            (
                2,
                "* you joined as 127.0.0.1:2 (2 here; /help for commands; no message limit)".into()
            )
        ]
    );
    assert!(
        feed(&mut room, b"@IM@\n", 2, t).is_empty(),
        "a refresh is silent"
    );
    assert_eq!(room.len(), 2);
}

#[test]
fn fan_out_includes_the_sender_and_a_new_sender_joins_first() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    let sent = feed(&mut room, b"hello\r\n", 2, t);
    assert_eq!(
        sent,
        vec![
            (1, "* 127.0.0.1:2 joined".into()),
            (1, "127.0.0.1:2 hello".into()),
            // It ended its line, so it is in line mode.
            (
                2,
                "* you joined as 127.0.0.1:2 (2 here; /help for commands; no message limit)\n"
                    .into()
            ),
            (2, "127.0.0.1:2 hello\n".into()),
        ]
    );
    assert_eq!(
        feed(&mut room, b"again", 2, t),
        to(&[1, 2], "127.0.0.1:2 again")
    );
}

#[test]
fn quit_and_empty_datagram_leave_telling_the_others() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    assert_eq!(
        feed(&mut room, b"QUIT\n", 1, t),
        to(&[2, 3], "* 127.0.0.1:1 left")
    );
    assert_eq!(feed(&mut room, b"", 2, t), to(&[3], "* 127.0.0.1:2 left"));
    // Leaving twice, or without ever joining, is a no-op.
    assert!(feed(&mut room, b"quit", 2, t).is_empty());
    assert!(feed(&mut room, b"", 9, t).is_empty());
    assert_eq!(room.len(), 1);
}

#[test]
fn empty_text_after_trimming_registers_but_is_not_broadcast() {
    let t = Instant::now();
    let mut room = room();
    assert_eq!(feed(&mut room, b"\r\n", 1, t).len(), 1, "only the welcome");
    assert_eq!(room.len(), 1);
    assert!(
        feed(&mut room, b"\x1b\x07\n", 1, t).is_empty(),
        "nothing left after stripping"
    );
}

#[test]
fn eviction_happens_just_past_the_timeout_not_at_it() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    feed(&mut room, b"@im@", 2, t + Duration::from_secs(3));
    let mut out = Outbox::new();
    room.handle_timeout(t + TIMEOUT, &mut out);
    assert_eq!(room.len(), 2, "idle exactly the timeout stays");
    room.handle_timeout(t + TIMEOUT + Duration::from_millis(1), &mut out);
    assert_eq!(sorted(&out), to(&[2], "* 127.0.0.1:1 timed out"));
    let left: Vec<_> = room.members(t).into_iter().map(|m| m.addr.port()).collect();
    assert_eq!(left, vec![2]);
    room.handle_timeout(
        t + Duration::from_secs(3) + TIMEOUT + Duration::from_millis(1),
        &mut out,
    );
    assert!(room.is_empty());
}

#[test]
fn heartbeat_postpones_eviction() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    let mut out = Outbox::new();
    feed(&mut room, b"@im@", 1, t + Duration::from_secs(9));
    room.handle_timeout(t + Duration::from_secs(15), &mut out);
    assert_eq!(room.len(), 1);
    room.handle_timeout(t + Duration::from_secs(20), &mut out);
    assert_eq!(room.len(), 0);
}

#[test]
fn oversize_text_gets_a_notice_to_the_sender_alone() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    let sent = feed(&mut room, &[b'x'; 65], 2, t);
    assert_eq!(sent, to(&[2], "* message too long (65 bytes, limit 64)"));
    // Exactly the limit, after trimming the newline, is fine.
    let mut exact = vec![b'y'; 64];
    exact.push(b'\n');
    assert_eq!(feed(&mut room, &exact, 2, t).len(), 2);
}

#[test]
fn the_limit_also_holds_after_lossy_decoding() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    // 30 invalid bytes are within 64, but decode to 90 bytes of U+FFFD.
    let sent = feed(&mut room, &[0xfe; 30], 1, t);
    assert_eq!(sent, to(&[1], "* message too long (90 bytes, limit 64)"));
}

#[test]
fn reserved_names_cannot_forge_notices() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    for name in ["you", "Private", "server", "3"] {
        let sent = feed(&mut room, format!("/nick {name}").as_bytes(), 1, t);
        assert_eq!(sent.len(), 1, "{name}: only a refusal to the sender");
        assert!(
            sent[0].1.starts_with("* cannot take the name") || sent[0].1.ends_with("is reserved"),
            "{sent:?}"
        );
    }
}

#[test]
fn non_utf8_is_decoded_lossily() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    let sent = feed(&mut room, b"a\xff\xfeb", 1, t);
    assert_eq!(sent, to(&[1], "127.0.0.1:1 a\u{fffd}\u{fffd}b"));
}

#[test]
fn controls_are_stripped_before_broadcast() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    let sent = feed(&mut room, b"\x1b[2Jhi\x07 there\rnow\x7f", 1, t);
    assert_eq!(sent, to(&[1], "127.0.0.1:1 hi there now"));
}

#[test]
fn line_mode_follows_each_clients_last_datagram() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    feed(&mut room, b"@im@\n", 2, t);
    let sent = feed(&mut room, b"hi", 1, t);
    assert_eq!(
        sent,
        vec![(1, "127.0.0.1:1 hi".into()), (2, "127.0.0.1:1 hi\n".into())]
    );
    let sent = feed(&mut room, b"/who\n", 2, t);
    assert_eq!(sent, to(&[2], "* 2 here: 127.0.0.1:1, 127.0.0.1:2\n"));
    feed(&mut room, b"@im@", 2, t);
    assert_eq!(feed(&mut room, b"x", 1, t), to(&[1, 2], "127.0.0.1:1 x"));
}

#[test]
fn nick_renames_and_tells_everyone() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    let sent = feed(&mut room, b"/nick alice", 1, t);
    assert_eq!(
        sent,
        vec![
            (1, "* you are now alice".into()),
            (2, "* 127.0.0.1:1 is now alice".into())
        ]
    );
    assert_eq!(feed(&mut room, b"hi", 1, t), to(&[1, 2], "alice hi"));
    let sent = feed(&mut room, b"/nick Alice_2", 1, t);
    assert_eq!(sent[1], (2, "* alice is now Alice_2".into()));
    assert_eq!(
        feed(&mut room, b"/nick Alice_2", 1, t),
        to(&[1], "* you are already Alice_2")
    );
}

#[test]
fn nick_refuses_bad_and_taken_names() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"/nick bob", 2, t);
    assert_eq!(
        feed(&mut room, b"/nick BOB", 1, t),
        to(&[1], "* the name BOB is taken")
    );
    let sent = feed(&mut room, b"/nick 127.0.0.1:2", 1, t);
    assert_eq!(
        sent,
        to(
            &[1],
            "* cannot take the name 127.0.0.1:2: use 1-16 ASCII letters, digits, _ or -, \
             starting with a letter"
        )
    );
    let sent = feed(&mut room, b"/nick", 1, t);
    assert_eq!(
        sent,
        to(&[1], "* usage: /nick NAME (1-16 letters, digits, _ or -)")
    );
    // Case changes of one's own name are fine; a name is freed when its owner leaves.
    assert_eq!(
        feed(&mut room, b"/nick Bob", 2, t)[1],
        (2, "* you are now Bob".into())
    );
    feed(&mut room, b"quit", 2, t);
    assert_eq!(
        feed(&mut room, b"/nick bob", 1, t),
        to(&[1], "* you are now bob")
    );
}

#[test]
fn notices_quote_at_most_32_bytes_of_what_was_typed() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    let long = "x".repeat(40);
    let quoted = format!("{}…", "x".repeat(32));
    let sent = feed(&mut room, format!("/nick {long}").as_bytes(), 1, t);
    assert!(
        sent[0]
            .1
            .starts_with(&format!("* cannot take the name {quoted}: ")),
        "{sent:?}"
    );
    let sent = feed(&mut room, format!("/msg {long} hi").as_bytes(), 1, t);
    assert_eq!(sent, to(&[1], &format!("* no one here is called {quoted}")));
    let sent = feed(&mut room, format!("/{long}").as_bytes(), 1, t);
    assert_eq!(
        sent,
        to(
            &[1],
            &format!("* unknown command /{}…; try /help", "x".repeat(31))
        )
    );
}

#[test]
fn me_cannot_pass_for_a_presence_notice() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    // Every wording is checked in `proto::notice`; here, that the room asks it.
    for action in ["left", "is now alice", "timed out."] {
        let sent = feed(&mut room, format!("/me {action}").as_bytes(), 1, t);
        assert_eq!(
            sent,
            to(
                &[1],
                "* that reads like a server notice; say it another way"
            ),
            "{action}"
        );
    }
    assert_eq!(feed(&mut room, b"/me left early", 1, t).len(), 1, "refused");
    assert_eq!(feed(&mut room, b"/me leftovers", 1, t).len(), 2, "relayed");
}

#[test]
fn drops_left_untold_are_told_when_the_next_notice_is_due() {
    let t = Instant::now();
    let mut room = rated(1.0, 1, t);
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"x", 1, t);
    assert_eq!(
        feed(&mut room, b"x", 1, t),
        to(&[1], "* slow down: 1 message dropped")
    );
    for _ in 0..39 {
        assert!(feed(&mut room, b"x", 1, t).is_empty());
    }
    let mut out = Outbox::new();
    room.handle_timeout(t + Duration::from_millis(999), &mut out);
    assert!(out.is_empty(), "not yet due");
    room.handle_timeout(t + NOTICE_INTERVAL, &mut out);
    assert_eq!(sorted(&out), to(&[1], "* slow down: 39 messages dropped"));
    out.clear();
    room.handle_timeout(t + 3 * NOTICE_INTERVAL, &mut out);
    assert!(out.is_empty(), "told once");
}

#[test]
fn who_lists_members_in_join_order() {
    let t = Instant::now();
    let mut room = room_with(&[5, 3, 9], t);
    feed(&mut room, b"/nick alice", 3, t);
    assert_eq!(
        feed(&mut room, b"/WHO", 9, t),
        to(&[9], "* 3 here: 127.0.0.1:5, alice, 127.0.0.1:9")
    );
}

#[test]
fn who_stays_within_the_message_limit() {
    let t = Instant::now();
    let ports: Vec<u16> = (1000..1020).collect();
    let mut room = room_with(&ports, t);
    let sent = feed(&mut room, b"/who", 1000, t);
    let text = &sent[0].1;
    assert!(
        text.len() <= "* ".len() + 64,
        "{} bytes: {text}",
        text.len()
    );
    assert_eq!(
        text,
        "* 20 here: 127.0.0.1:1000, 127.0.0.1:1001, … and 18 more"
    );
}

#[test]
fn me_is_a_notice_for_everyone() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    assert_eq!(
        feed(&mut room, b"/me waves", 1, t),
        to(&[1, 2], "* 127.0.0.1:1 waves")
    );
    assert_eq!(
        feed(&mut room, b"/me", 1, t),
        to(&[1], "* usage: /me ACTION")
    );
}

#[test]
fn msg_reaches_only_the_target() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"/nick bob", 2, t);
    assert_eq!(
        feed(&mut room, b"/msg BOB psst, hi", 1, t),
        vec![
            (1, "* private to bob: psst, hi".into()),
            (2, "* private from 127.0.0.1:1: psst, hi".into())
        ]
    );
    assert_eq!(
        feed(&mut room, b"/msg 127.0.0.1:3 by address", 2, t),
        vec![
            (2, "* private to 127.0.0.1:3: by address".into()),
            (3, "* private from bob: by address".into())
        ]
    );
    assert_eq!(
        feed(&mut room, b"/msg carol hi", 1, t),
        to(&[1], "* no one here is called carol")
    );
    assert_eq!(
        feed(&mut room, b"/msg bob", 1, t),
        to(&[1], "* usage: /msg WHO TEXT")
    );
    assert_eq!(
        feed(&mut room, b"/msg bob hi me", 2, t),
        to(&[2], "* that is you")
    );
}

#[test]
fn help_unknown_and_double_slash() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    assert_eq!(
        feed(&mut room, b"/help", 1, t),
        to(&[1], &format!("* {}", Notice::Help))
    );
    assert_eq!(
        feed(&mut room, b"/dance now", 1, t),
        to(&[1], "* unknown command /dance; try /help")
    );
    assert_eq!(
        feed(&mut room, b"//like this", 1, t),
        to(&[1, 2], "127.0.0.1:1 /like this")
    );
}

#[test]
fn a_timed_out_name_comes_back_with_its_address() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"@im@", 2, t + Duration::from_secs(8));
    let mut out = Outbox::new();
    room.handle_timeout(t + TIMEOUT + Duration::from_secs(1), &mut out);
    assert_eq!(room.len(), 1);
    let back = t + TIMEOUT + Duration::from_secs(2);
    let sent = feed(&mut room, b"still here?", 1, back);
    assert_eq!(
        sent,
        vec![
            (
                1,
                "* you joined as alice (2 here; /help for commands; no message limit)".into()
            ),
            (1, "alice still here?".into()),
            (2, "* alice joined".into()),
            (2, "alice still here?".into()),
        ]
    );
    assert_eq!(
        feed(&mut room, b"/nick ALICE", 2, back),
        to(&[2], "* the name ALICE is taken")
    );
}

#[test]
fn leaving_and_coming_back_refills_nothing() {
    let t = Instant::now();
    let mut room = rated(1.0, 2, t);
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"/who", 1, t);
    feed(&mut room, b"/who", 1, t);
    feed(&mut room, b"quit", 1, t);
    assert!(
        feed(&mut room, b"@im@", 1, t).is_empty(),
        "no second welcome at once"
    );
    assert_eq!(
        feed(&mut room, b"/who", 1, t),
        to(&[1], "* slow down: 1 message dropped"),
        "the allowance was spent before leaving"
    );
    let later = t + Duration::from_secs(2);
    feed(&mut room, b"quit", 1, later);
    let sent = feed(&mut room, b"@im@", 1, later + NOTICE_INTERVAL);
    assert!(
        sent[0].1.starts_with("* you joined as "),
        "a welcome a second later: {sent:?}"
    );
}

#[test]
fn a_parked_name_is_not_restored_once_taken_or_expired() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"/nick carol", 3, t);
    let mut out = Outbox::new();
    let later = t + Duration::from_secs(8);
    feed(&mut room, b"@im@", 2, later);
    room.handle_timeout(t + TIMEOUT + Duration::from_secs(1), &mut out);
    assert_eq!(room.len(), 1);
    let back = t + TIMEOUT + Duration::from_secs(2);
    feed(&mut room, b"/nick alice", 2, back);
    let sent = feed(&mut room, b"@im@", 1, back);
    assert!(
        sent.iter().any(|(_, l)| l == "* 127.0.0.1:1 joined"),
        "{sent:?}"
    );
    let sent = feed(&mut room, b"@im@", 3, back + REMEMBER_DEPARTED_FOR);
    assert!(
        sent.iter().any(|(_, l)| l == "* 127.0.0.1:3 joined"),
        "{sent:?}"
    );
}

#[test]
fn kick_removes_tells_everyone_and_bans_for_a_while() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"/nick bob", 2, t);
    let mut out = Outbox::new();
    assert_eq!(room.kick("Bob", t, &mut out), Some("bob".into()));
    assert_eq!(
        sorted(&out),
        vec![
            (1, "* bob was removed".into()),
            (2, "* you were removed by the server".into())
        ]
    );
    assert!(feed(&mut room, b"@im@", 2, t + Duration::from_secs(5)).is_empty());
    assert_eq!(room.len(), 1);
    feed(&mut room, b"@im@", 2, t + KICK_BAN);
    assert_eq!(room.len(), 2, "the ban expires");
    assert_eq!(room.kick("nobody", t, &mut out), None);
}

#[test]
fn say_is_a_server_notice_to_everyone() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    let mut out = Outbox::new();
    room.say("maintenance at 5\x1b", &mut out);
    assert_eq!(sorted(&out), to(&[1, 2], "* server: maintenance at 5"));
}

#[test]
fn shutdown_says_goodbye_with_an_empty_datagram_or_to_netcat_a_line() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"@im@\n", 2, t);
    let mut out = Outbox::new();
    room.shutdown(&mut out);
    // netcat stops reading at an empty datagram: it would hear nothing after a restart.
    assert_eq!(
        sorted(&out),
        vec![
            (1, String::new()),
            (2, "* the server is going away\n".to_string()),
            (3, String::new()),
        ]
    );
    assert!(room.is_empty());
}

#[test]
fn a_full_room_refuses_newcomers_with_a_notice_now_and_then() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_clients: 2,
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"@im@", 2, t);
    assert_eq!(
        feed(&mut room, b"@im@", 3, t),
        to(&[3], "* room is full (2 clients)")
    );
    assert!(
        feed(&mut room, b"hello?", 3, t).is_empty(),
        "one notice per second"
    );
    assert!(feed(&mut room, b"hello?", 3, t + Duration::from_millis(900)).is_empty());
    let later = t + Duration::from_millis(2100);
    assert_eq!(
        feed(&mut room, b"hi\n", 3, later),
        to(&[3], "* room is full (2 clients)\n")
    );
    assert_eq!(room.len(), 2);
    assert_eq!(room.stats().refused_full, 4);
    // Once someone leaves, there is room again.
    feed(&mut room, b"quit", 1, later);
    feed(&mut room, b"@im@", 3, later);
    assert_eq!(room.len(), 2);
}

#[test]
fn strangers_are_remembered_in_bounded_memory() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_clients: 1,
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    let mut notified = 0;
    let mut out = Outbox::new();
    for i in 0..(STRANGER_MEMORY as u32 + 1000) {
        let from = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7));
        room.handle_datagram(b"@im@", from, t, &mut out);
        notified += out.len();
        out.clear();
    }
    assert_eq!(
        notified, STRANGER_MEMORY,
        "past the memory, strangers get nothing"
    );
    // A new second, a new generation: notices flow again, but not to the last ones.
    let from = SocketAddr::from(([10, 0, 0, 5], 7));
    room.handle_datagram(b"@im@", from, t + NOTICE_INTERVAL, &mut out);
    assert!(
        out.is_empty(),
        "told less than a second ago is still remembered"
    );
    let new = SocketAddr::from(([10, 9, 9, 9], 7));
    room.handle_datagram(b"@im@", new, t + NOTICE_INTERVAL, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn the_rate_limit_drops_and_says_so_once_a_second() {
    let t = Instant::now();
    let mut room = rated(5.0, 3, t);
    feed(&mut room, b"@im@", 1, t);
    for i in 0..3 {
        assert_eq!(feed(&mut room, b"x", 1, t).len(), 1, "burst message {i}");
    }
    assert_eq!(
        feed(&mut room, b"x", 1, t),
        to(&[1], "* slow down: 1 message dropped")
    );
    assert!(feed(&mut room, b"x", 1, t).is_empty());
    assert!(
        feed(&mut room, b"/who", 1, t).is_empty(),
        "commands count too"
    );
    for _ in 0..100 {
        assert!(
            feed(&mut room, b"@im@", 1, t).is_empty(),
            "heartbeats are free"
        );
    }
    // 0.19 s later still no token (5 a second), and no second notice yet.
    assert!(feed(&mut room, b"x", 1, t + Duration::from_millis(190)).is_empty());
    // 1 s later the bucket is full again (3), and messages go through.
    let later = t + Duration::from_secs(1);
    assert_eq!(feed(&mut room, b"y", 1, later), to(&[1], "127.0.0.1:1 y"));
    for _ in 0..2 {
        assert_eq!(feed(&mut room, b"y", 1, later).len(), 1);
    }
    assert_eq!(
        feed(&mut room, b"y", 1, later),
        to(&[1], "* slow down: 4 messages dropped"),
        "the count covers everything since the last notice"
    );
    assert_eq!(room.stats().dropped_rate, 5);
}

#[test]
fn rate_zero_means_no_limit() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    for _ in 0..1000 {
        assert_eq!(feed(&mut room, b"x", 1, t).len(), 1);
    }
}

#[test]
fn too_long_notices_are_limited_to_one_a_second() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    assert_eq!(feed(&mut room, &[b'x'; 65], 1, t).len(), 1);
    assert!(feed(&mut room, &[b'x'; 65], 1, t).is_empty());
    assert_eq!(
        feed(&mut room, &[b'x'; 65], 1, t + NOTICE_INTERVAL).len(),
        1
    );
    assert_eq!(room.stats().too_long, 3);
}

#[test]
fn presence_notices_have_a_room_wide_budget_in_deliveries() {
    // A room of 1 000, then 300 forged join/quit pairs in one second: every notice goes
    // to a thousand members, so the budget allows about three, not three hundred.
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_clients: 2000,
            ..config()
        },
        t,
    );
    let mut out = Outbox::new();
    for port in 1..=1000 {
        room.handle_datagram(b"@im@", addr(port), t, &mut out);
    }
    out.clear();
    let later = t + Duration::from_secs(5);
    let mut presence_deliveries = 0;
    for i in 0..300u16 {
        let from = SocketAddr::from(([10, 0, 0, 1], 20_000 + i));
        let at = later + Duration::from_millis(u64::from(i) * 3);
        room.handle_datagram(b"@im@", from, at, &mut out);
        room.handle_datagram(b"quit", from, at, &mut out);
        presence_deliveries += out
            .to_vec()
            .iter()
            .filter(|(to, sent)| to.port() <= 1000 && !sent.starts_with(b"* you joined"))
            .count();
        out.clear();
    }
    // The burst, plus the rate over the 0.9 s the churn lasted.
    let allowed = (PRESENCE_BURST + PRESENCE_RATE * 0.9) as usize + 1000;
    assert!(
        presence_deliveries <= allowed,
        "{presence_deliveries} deliveries of presence notices"
    );
    assert_eq!(room.len(), 1000, "everyone still came and went");
    assert!(room.stats().presence_skipped >= 590);
    // In a small room the same budget is many notices.
    let mut small = room_with(&[1, 2, 3], t);
    for port in 4..50 {
        let sent = feed(&mut small, b"@im@", port, t);
        assert!(
            sent.iter().any(|(to, _)| *to == 1),
            "join of {port} not told"
        );
    }
}

#[test]
fn stats_count_datagrams_and_broadcasts() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"hi", 1, t);
    feed(&mut room, b"/me waves", 1, t);
    feed(&mut room, b"/who", 1, t);
    let stats = room.stats();
    assert_eq!((stats.datagrams, stats.broadcasts), (5, 2));
}

#[test]
fn members_are_listed_in_join_order_with_idle_time_since_their_last_line() {
    let t = Instant::now();
    let mut room = room_with(&[5, 3, 9], t);
    feed(&mut room, b"hi", 5, t + Duration::from_secs(2));
    // Issue 19, item 1: a heartbeat is not activity.
    feed(&mut room, b"@im@", 3, t + Duration::from_secs(3));
    let members = room.members(t + Duration::from_secs(4));
    let listed: Vec<_> = members
        .iter()
        .map(|m| (m.addr.port(), m.idle.as_secs()))
        .collect();
    assert_eq!(listed, vec![(5, 2), (3, 4), (9, 4)]);
}

// Regression tests for the defects found by attacking the room (issue 7).

#[test]
fn a_full_memory_of_departed_members_cannot_refill_an_allowance() {
    // After DEPARTED_MAX + 76 join/quit pairs from other ports, one address cycles ten
    // lines, `quit` and `@im@` for 5 s under --rate 1 --burst 2: once the memory was
    // full, its departure was not remembered and every rejoin refilled its bucket
    // (22 160 lines relayed in 5 s; welcomes at every rejoin).
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            rate_per_sec: 1.0,
            burst: 2,
            max_clients: 10_000,
            ..config()
        },
        t,
    );
    let mut out = Outbox::new();
    for port in 0..(DEPARTED_MAX as u16 + 76) {
        let from = SocketAddr::from(([127, 0, 0, 2], 10_000 + port));
        room.handle_datagram(b"@im@", from, t, &mut out);
        room.handle_datagram(b"quit", from, t, &mut out);
    }
    out.clear();
    let attacker = addr(666);
    let (mut relayed, mut welcomes) = (0, 0);
    for step in 0..500u32 {
        let now = t + Duration::from_millis(u64::from(step) * 10);
        for _ in 0..10 {
            room.handle_datagram(b"spam", attacker, now, &mut out);
        }
        room.handle_datagram(b"quit", attacker, now, &mut out);
        room.handle_datagram(b"@im@", attacker, now, &mut out);
        for (to, sent) in out.to_vec() {
            if to == attacker && sent.starts_with(b"* you joined as ") {
                welcomes += 1;
            }
            if to == attacker && sent.ends_with(b" spam") {
                relayed += 1;
            }
        }
        out.clear();
    }
    // The burst, then one a second for 5 s; a welcome at most once a second.
    assert!(relayed <= 2 + 5, "{relayed} lines relayed");
    assert!(welcomes <= 5, "{welcomes} welcomes");
}

#[test]
fn that_is_reserved_and_me_sees_through_invisible_and_lookalike_characters() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    assert_eq!(
        feed(&mut room, b"/nick that", 1, t),
        to(&[1], "* the name that is reserved")
    );
    for action in [
        "l\u{200b}eft",     // zero-width space
        "timed\u{a0}out",   // no-break space
        "timed\u{2009}out", // thin space
        "le\u{ad}ft",       // soft hyphen
        "l\u{435}ft",       // Cyrillic е
        "is\u{2060} now alice",
        "\u{feff}joined",
    ] {
        assert_eq!(
            feed(&mut room, format!("/me {action}").as_bytes(), 1, t),
            to(
                &[1],
                "* that reads like a server notice; say it another way"
            ),
            "{action:?}"
        );
    }
}

#[test]
fn names_are_unique_under_their_skeleton() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"/nick alice", 1, t);
    assert_eq!(
        feed(&mut room, b"/nick aIice", 2, t),
        to(&[2], "* the name aIice is too like alice, who is here")
    );
    assert_eq!(
        feed(&mut room, b"/nick a1ice", 3, t),
        to(&[3], "* the name a1ice is too like alice, who is here")
    );
    assert_eq!(
        feed(&mut room, b"/nick ALICE", 3, t),
        to(&[3], "* the name ALICE is taken")
    );
    feed(&mut room, b"/nick b0b", 2, t);
    assert_eq!(
        feed(&mut room, b"/nick BOB", 3, t),
        to(&[3], "* the name BOB is too like b0b, who is here")
    );
    assert_eq!(
        feed(&mut room, b"/msg ALICE hi", 2, t)[1],
        (2, "* private to alice: hi".into()),
        "found under the skeleton too"
    );
}

/// Two rooms wired to each other and to one chatty member each, stepped for `secs`
/// seconds after `forge` is delivered; returns the datagrams A sent B and B sent A in
/// each second.
fn two_servers(forge: (&[u8], bool), secs: u64) -> Vec<(usize, usize)> {
    let t = Instant::now();
    let a_addr = SocketAddr::from(([10, 0, 0, 1], 9999));
    let b_addr = SocketAddr::from(([10, 0, 0, 2], 9999));
    let alice = SocketAddr::from(([10, 0, 0, 11], 5000));
    let bob = SocketAddr::from(([10, 0, 0, 12], 5000));
    let mut a = Room::new(
        Config {
            local_addr: Some(a_addr),
            ..config()
        },
        t,
    );
    let mut b = Room::new(
        Config {
            local_addr: Some(b_addr),
            ..config()
        },
        t,
    );
    let mut out = Outbox::new();
    // (destination room is A, datagram, source)
    let mut wire: Vec<(bool, Vec<u8>, SocketAddr)> = Vec::new();
    let (datagram, to_a) = forge;
    wire.push((to_a, datagram.to_vec(), if to_a { b_addr } else { a_addr }));
    let mut per_second = Vec::new();
    for second in 0..secs {
        let mut counts = (0, 0);
        for tenth in 0..10 {
            let now = t + Duration::from_millis(second * 1000 + tenth * 100);
            if tenth == 0 {
                // The members chat and heartbeat once a second.
                wire.push((true, b"hello from alice".to_vec(), alice));
                wire.push((false, b"hello from bob".to_vec(), bob));
            }
            // Deliver everything in flight; what the rooms send goes back in flight.
            for _ in 0..50 {
                if wire.is_empty() {
                    break;
                }
                for (to_a, datagram, from) in std::mem::take(&mut wire) {
                    let (room, me) = if to_a {
                        (&mut a, a_addr)
                    } else {
                        (&mut b, b_addr)
                    };
                    room.handle_datagram(&datagram, from, now, &mut out);
                    room.handle_timeout(now, &mut out);
                    for (to, sent) in out.to_vec() {
                        if to == a_addr || to == b_addr {
                            if me == a_addr {
                                counts.0 += 1;
                            } else {
                                counts.1 += 1;
                            }
                            wire.push((to == a_addr, sent.to_vec(), me));
                        }
                    }
                    out.clear();
                }
            }
            for room in [&mut a, &mut b] {
                room.handle_timeout(now, &mut out);
                out.clear();
            }
        }
        per_second.push(counts);
    }
    per_second
}

/// B never sends to A, and A stops sending to B once B has timed out there.
fn assert_no_exchange(seconds: &[(usize, usize)]) {
    for (second, &(a_to_b, b_to_a)) in seconds.iter().enumerate() {
        assert_eq!(b_to_a, 0, "B answered A in second {second}: {seconds:?}");
        if second as u64 > TIMEOUT.as_secs() + 1 {
            assert_eq!(
                a_to_b, 0,
                "A still sends to B in second {second}: {seconds:?}"
            );
        }
    }
}

#[test]
fn a_forged_heartbeat_starts_no_exchange_between_two_servers() {
    // A forged `@im@` to A with B's address as its source: A welcomes B and relays its
    // room to B; B must not answer, or the two relay each other's notices forever.
    let seconds = two_servers((b"@im@", true), 30);
    assert_no_exchange(&seconds);
}

#[test]
fn a_forged_chat_line_starts_no_exchange_between_two_servers() {
    // Chat from "B" makes B a member of A: A welcomes B and relays its room to B until
    // B times out there; B answers nothing, so B's room never reaches A.
    let seconds = two_servers((b"hi", true), 30);
    assert_no_exchange(&seconds);
}

#[test]
fn a_server_never_becomes_its_own_member() {
    let t = Instant::now();
    for (local, forged) in [
        ("0.0.0.0:9999", "127.0.0.2:9999"),
        ("0.0.0.0:9999", "127.0.0.1:9999"),
        ("127.0.0.1:9999", "127.0.0.1:9999"),
        ("[::]:9999", "[::ffff:127.0.0.1]:9999"),
        ("[::]:9999", "[::1]:9999"),
        ("192.168.1.5:9999", "192.168.1.5:9999"),
        // Bound to a wildcard it cannot know its LAN address: its port is enough.
        ("0.0.0.0:9999", "192.168.1.5:9999"),
        ("[::]:9999", "[2001:db8::5]:9999"),
    ] {
        let local: SocketAddr = local.parse().unwrap();
        let forged: SocketAddr = forged.parse().unwrap();
        let mut room = Room::new(
            Config {
                local_addr: Some(local),
                ..config()
            },
            t,
        );
        let mut out = Outbox::new();
        room.handle_datagram(b"@im@", forged, t, &mut out);
        assert!(out.is_empty() && room.is_empty(), "{local} took {forged}");
        assert_eq!(room.stats().from_servers, 1);
    }
    // Bound to one address, its port elsewhere is someone else.
    let mut room = Room::new(
        Config {
            local_addr: Some("192.168.1.5:9999".parse().unwrap()),
            ..config()
        },
        t,
    );
    let mut out = Outbox::new();
    room.handle_datagram(b"@im@", "10.1.2.3:9999".parse().unwrap(), t, &mut out);
    assert_eq!(room.len(), 1);
}

#[test]
fn whatever_the_room_accepts_fits_one_datagram_from_the_longest_address() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_message_bytes: usize::MAX,
            ..config()
        },
        t,
    );
    assert_eq!(room.config().max_message_bytes, proto::MAX_MESSAGE_LIMIT);
    // As long as an address is written, and no multicast one (those are never peers).
    let longest: SocketAddr = "[feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535"
        .parse()
        .unwrap();
    let other: SocketAddr = "[feff:ffff:ffff:ffff:ffff:ffff:ffff:fffe%4294967295]:65535"
        .parse()
        .unwrap();
    let mut out = Outbox::new();
    room.handle_datagram(b"@im@\n", longest, t, &mut out);
    // The other is in a session: what it is sent carries the frame's header too.
    out.clear();
    room.handle_datagram(frame::HELLO, other, t, &mut out);
    let Some(Framed::Cookie(cookie)) = out.to_vec().first().map(|(_, d)| frame::read(d)) else {
        panic!("no cookie");
    };
    let mut echo = Vec::new();
    frame::write_echo(&mut echo, cookie, Token(*b"12345678"));
    room.handle_datagram(&echo, other, t, &mut out);
    assert_eq!(room.sessions(), 1);
    let limit = proto::MAX_MESSAGE_LIMIT;
    let text = "x".repeat(limit);
    let me = format!("/me {}", "y".repeat(limit - 4));
    let msg_prefix = format!("/msg {other} ");
    let msg = format!("{msg_prefix}{}", "z".repeat(limit - msg_prefix.len()));
    for line in [&text, &me, &msg] {
        out.clear();
        let datagram = format!("{line}\n");
        room.handle_datagram(datagram.as_bytes(), longest, t, &mut out);
        assert!(!out.is_empty(), "{} bytes were refused", line.len());
        let sent = out.to_vec();
        assert!(
            sent.iter().any(|(to, _)| *to == other),
            "the session got it"
        );
        for (_, sent) in sent {
            assert!(sent.len() <= proto::MAX_DATAGRAM, "{} bytes", sent.len());
            assert!(!sent.starts_with(b"* message too long"));
        }
    }
    out.clear();
    let over = "x".repeat(limit + 1);
    room.handle_datagram(over.as_bytes(), longest, t, &mut out);
    assert_eq!(sorted(&out).len(), 1, "one notice, nothing relayed");
}

#[test]
fn an_endless_timeout_never_panics_and_never_evicts() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            timeout: Duration::MAX,
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"hi", 1, t + Duration::from_secs(1));
    let mut out = Outbox::new();
    room.handle_timeout(t + Duration::from_secs(1 << 30), &mut out);
    assert_eq!(room.len(), 1);
    assert_eq!(room.next_deadline(), None);
}

#[test]
fn the_next_deadline_is_the_next_eviction_or_untold_drop() {
    let t = Instant::now();
    let mut room = rated(1.0, 1, t);
    assert_eq!(room.next_deadline(), None, "an empty room sleeps");
    feed(&mut room, b"@im@", 1, t);
    let eviction = t + TIMEOUT + Duration::from_millis(1);
    assert_eq!(room.next_deadline(), Some(eviction));
    feed(&mut room, b"x", 1, t);
    feed(&mut room, b"x", 1, t);
    feed(&mut room, b"x", 1, t);
    assert_eq!(
        room.next_deadline(),
        Some(t + NOTICE_INTERVAL),
        "an untold drop"
    );
    let mut out = Outbox::new();
    room.handle_timeout(t + NOTICE_INTERVAL, &mut out);
    assert_eq!(sorted(&out), to(&[1], "* slow down: 1 message dropped"));
    assert_eq!(room.next_deadline(), Some(eviction));
}

#[test]
fn a_person_pasting_a_notice_is_relayed_not_taken_for_a_server() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            local_addr: Some("127.0.0.1:9999".parse().unwrap()),
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    for pasted in [
        "* server: the pizza is here",
        "* you are now alice",
        "* the name bob is taken",
        "* you joined as 127.0.0.1:1 (1 here; /help for commands)",
    ] {
        assert_eq!(
            feed(&mut room, pasted.as_bytes(), 1, t),
            to(&[1], &format!("127.0.0.1:1 {pasted}")),
            "{pasted}"
        );
    }
    assert_eq!(room.stats().from_servers, 0);
    // A welcome naming the server's own port is a server's.
    assert!(feed(
        &mut room,
        b"* you joined as 10.0.0.1:9999 (3 here; /help for commands; no message limit)",
        1,
        t
    )
    .is_empty());
    assert!(room.is_empty());
    let back = t + IGNORE_SERVERS_AT_LEAST;
    assert!(
        feed(&mut room, b"hello?", 1, back - Duration::from_millis(1)).is_empty(),
        "ignored for a minute"
    );
    assert!(!feed(&mut room, b"hello?", 1, back).is_empty());
}

#[test]
fn drops_told_at_once_are_not_told_again_as_zero() {
    // A drop told at once, a second one left waiting, a third whose notice is due
    // tells both: the waiting one must not come back as "0 messages dropped".
    let t = Instant::now();
    let mut room = rated(0.1, 1, t);
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"x", 1, t);
    assert_eq!(
        feed(&mut room, b"x", 1, t),
        to(&[1], "* slow down: 1 message dropped")
    );
    assert!(
        feed(&mut room, b"x", 1, t).is_empty(),
        "waits for its notice"
    );
    let later = t + NOTICE_INTERVAL;
    assert_eq!(
        feed(&mut room, b"x", 1, later),
        to(&[1], "* slow down: 2 messages dropped")
    );
    let mut out = Outbox::new();
    room.handle_timeout(later + 2 * NOTICE_INTERVAL, &mut out);
    assert!(out.is_empty(), "{:?}", sorted(&out));
}

// Issue 18, item 5: only real peers become members. A source no peer can have (port 0,
// unspecified, broadcast, multicast) is never answered and never joins.
#[test]
fn impossible_sources_are_never_answered_nor_members() {
    let t = Instant::now();
    let mut room = room();
    for from in [
        "127.0.0.1:0",
        "0.0.0.0:5000",
        "255.255.255.255:5000",
        "127.255.255.255:5000",
        "224.0.0.1:5000",
        "239.1.2.3:5000",
        "[ff02::1]:5000",
        "[::]:5000",
        "[::ffff:255.255.255.255]:5000",
    ] {
        let from: SocketAddr = from.parse().unwrap();
        for datagram in [&b"@im@"[..], b"hello", b"@IM@"] {
            let mut out = Outbox::new();
            room.handle_datagram(datagram, from, t, &mut out);
            assert!(out.to_vec().is_empty(), "{from} was answered");
        }
    }
    assert_eq!(room.len(), 0);
    assert_eq!(room.stats().impossible_sources, 27);
    // Real peers still join, on loopback and elsewhere.
    for from in [
        "127.0.0.1:5000",
        "127.0.0.2:1",
        "192.168.1.255:5000",
        "[::1]:5000",
    ] {
        let mut out = Outbox::new();
        room.handle_datagram(b"@im@", from.parse().unwrap(), t, &mut out);
    }
    assert_eq!(room.len(), 4);
}

// Issue 18, item 3: one host cannot take every seat. Past `max_per_host` from one host
// (an IPv4 address, or an IPv6 /64), a newcomer is refused and told why; others come
// in; loopback is no host of its own.
#[test]
fn one_host_takes_no_more_than_its_seats() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_per_host: 3,
            ..config()
        },
        t,
    );
    let at = |host: &str, port: u16| -> SocketAddr { format!("{host}:{port}").parse().unwrap() };
    for port in 1..=3 {
        let mut out = Outbox::new();
        room.handle_datagram(b"@im@", at("10.0.0.7", port), t, &mut out);
    }
    let mut out = Outbox::new();
    room.handle_datagram(b"@im@", at("10.0.0.7", 4), t, &mut out);
    assert_eq!(
        out.to_vec(),
        [(
            at("10.0.0.7", 4),
            b"* room is full for your host (3 clients from one host)".to_vec()
        )]
    );
    assert_eq!(room.len(), 3);
    assert_eq!(room.stats().refused_host_full, 1);
    // Another host, one in the same IPv6 /64, loopback: as before.
    for from in [
        at("10.0.0.8", 1),
        at("[2001:db8::1]", 1),
        at("[2001:db8::2]", 1),
        at("[2001:db8::3]", 1),
    ] {
        let mut out = Outbox::new();
        room.handle_datagram(b"@im@", from, t, &mut out);
    }
    assert_eq!(room.len(), 7);
    let mut out = Outbox::new();
    room.handle_datagram(b"@im@", at("[2001:db8::ffff]", 9), t, &mut out);
    assert_eq!(room.len(), 7, "a fourth from one /64 is refused");
    for port in 1..=5 {
        let mut out = Outbox::new();
        room.handle_datagram(b"@im@", at("127.0.0.1", port), t, &mut out);
    }
    assert_eq!(room.len(), 12, "loopback is no host of its own");
    // A seat freed is a seat again.
    let mut out = Outbox::new();
    room.handle_datagram(b"quit", at("10.0.0.7", 1), t, &mut out);
    room.handle_datagram(b"@im@", at("10.0.0.7", 4), t, &mut out);
    assert_eq!(room.len(), 12);
}

// Issue 19: the manners of a good chat, for every kind of client (here in text, as
// netcat and the Python client see them).

#[test]
fn away_and_back_show_in_who_and_answer_a_private_message() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"/nick bob", 2, t);
    assert_eq!(
        feed(&mut room, b"/away lunch\n", 2, t),
        to(
            &[2],
            "* you are away: lunch; a line or /back brings you back\n"
        )
    );
    assert_eq!(
        feed(&mut room, b"/who", 1, t),
        to(&[1], "* 2 here: alice, bob (away 0s: lunch)")
    );
    assert_eq!(
        feed(&mut room, b"/msg bob are you there?", 1, t),
        vec![
            (1, "* bob is away: lunch".into()),
            (1, "* private to bob: are you there?".into()),
            (2, "* private from alice: are you there?\n".into()),
        ]
    );
    let who = room.members(t + Duration::from_secs(90));
    assert!(matches!(&who[1].presence, Presence::Away { message, .. } if message == "lunch"));
    // Any line brings a member back; it is told.
    assert_eq!(
        feed(&mut room, b"back now\n", 2, t),
        vec![
            (1, "bob back now".into()),
            (2, "* you are back\n".into()),
            (2, "bob back now\n".into()),
        ]
    );
    assert_eq!(
        feed(&mut room, b"/who", 1, t),
        to(&[1], "* 2 here: alice, bob")
    );
    feed(&mut room, b"/away", 2, t);
    assert_eq!(
        feed(&mut room, b"/who", 1, t),
        to(&[1], "* 2 here: alice, bob (away 0s)")
    );
    assert_eq!(feed(&mut room, b"/back", 2, t), to(&[2], "* you are back"));
    assert_eq!(room.members(t)[1].presence, Presence::Here);
}

#[test]
fn reply_answers_whoever_whispered_last() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"/nick bob", 2, t);
    assert_eq!(
        feed(&mut room, b"/r hi", 2, t),
        to(&[2], "* no one has sent you a private message to reply to")
    );
    feed(&mut room, b"/msg bob psst", 1, t);
    feed(&mut room, b"/msg bob hey", 3, t);
    assert_eq!(
        feed(&mut room, b"/reply who is this?", 2, t),
        vec![
            (2, "* private to 127.0.0.1:3: who is this?".into()),
            (3, "* private from bob: who is this?".into()),
        ]
    );
    assert_eq!(
        feed(&mut room, b"/r", 2, t),
        to(&[2], "* usage: /reply TEXT (or /r TEXT)")
    );
    // The one to answer left: said plainly.
    feed(&mut room, b"quit", 3, t);
    assert_eq!(
        feed(&mut room, b"/r still there?", 2, t),
        to(&[2], "* no one here is called 127.0.0.1:3")
    );
}

#[test]
fn ignore_hides_lines_actions_and_whispers_and_says_so_once_a_minute() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"/nick bob", 2, t);
    assert_eq!(
        feed(&mut room, b"/ignore", 1, t),
        to(&[1], "* you ignore no one")
    );
    assert_eq!(
        feed(&mut room, b"/ignore B0B", 1, t),
        to(
            &[1],
            "* you now ignore bob: their lines and private messages are hidden"
        )
    );
    assert_eq!(
        feed(&mut room, b"/ignore alice", 1, t),
        to(&[1], "* that is you")
    );
    assert_eq!(
        feed(&mut room, b"hello all", 2, t),
        vec![
            (
                1,
                "* hidden from you: 1 message from people you ignore (/ignore lists them)".into()
            ),
            (2, "bob hello all".into()),
            (3, "bob hello all".into()),
        ]
    );
    let later = t + Duration::from_secs(1);
    assert_eq!(
        feed(&mut room, b"/me waves", 2, later),
        to(&[2, 3], "* bob waves"),
        "told at most once a minute"
    );
    assert_eq!(
        feed(&mut room, b"/msg alice psst", 2, later),
        to(&[2], "* private to alice: psst"),
        "the ignored cannot tell"
    );
    assert_eq!(
        feed(&mut room, b"again", 2, t + HIDDEN_NOTICE_INTERVAL),
        vec![
            (
                1,
                "* hidden from you: 3 messages from people you ignore (/ignore lists them)".into()
            ),
            (2, "bob again".into()),
            (3, "bob again".into()),
        ]
    );
    // Others' lines still reach alice; presence notices too.
    assert_eq!(feed(&mut room, b"hi", 3, later).len(), 3);
    assert_eq!(
        feed(&mut room, b"/ignore", 1, t),
        to(&[1], "* you ignore: bob")
    );
    assert_eq!(
        feed(&mut room, b"/unignore bob", 1, t),
        to(&[1], "* you no longer ignore bob")
    );
    assert_eq!(
        feed(&mut room, b"/unignore bob", 1, t),
        to(&[1], "* you do not ignore bob")
    );
    assert_eq!(feed(&mut room, b"back to normal", 2, later).len(), 3);
}

#[test]
fn quit_with_a_message_tells_the_others_why() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"/nick alice", 1, t);
    assert_eq!(
        feed(&mut room, b"/quit bye all\n", 1, t),
        to(&[2, 3], "* alice left (bye all)")
    );
    assert_eq!(
        feed(&mut room, b"/exit", 2, t),
        to(&[3], "* 127.0.0.1:2 left")
    );
    assert_eq!(room.len(), 1);
}

#[test]
fn lines_of_only_spaces_are_not_relayed() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    assert!(feed(&mut room, b"   \n", 1, t).is_empty());
    assert!(feed(&mut room, "\t \u{3000} \n".as_bytes(), 1, t).is_empty());
    assert_eq!(feed(&mut room, b"  indented\n", 1, t).len(), 2);
}

#[test]
fn a_netcat_user_evicted_for_silence_is_told_once() {
    let t = Instant::now();
    let mut room = room_with(&[2], t);
    feed(&mut room, b"hello\n", 1, t);
    feed(&mut room, b"@im@", 2, t + Duration::from_secs(5));
    let mut out = Outbox::new();
    room.handle_timeout(t + TIMEOUT + Duration::from_millis(1), &mut out);
    assert_eq!(
        sorted(&out),
        vec![
            (
                1,
                "* you timed out after 10 s without a line; send anything to come back\n".into()
            ),
            (2, "* 127.0.0.1:1 timed out".into()),
        ],
        "the netcat user is told; the others (not line mode) as before"
    );
    assert_eq!(room.len(), 1);
    // The classic client that heartbeats and never wrote a newline is no netcat user.
    let mut out = Outbox::new();
    room.handle_timeout(t + Duration::from_secs(5) + TIMEOUT * 2, &mut out);
    assert!(room.is_empty());
    assert!(!sorted(&out).iter().any(|(port, _)| *port == 2));
}

#[test]
fn under_verify_the_timeout_notice_is_paid_by_what_the_member_said() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            verify: true,
            ..config()
        },
        t,
    );
    // Two proven line-mode members: one said little, one said enough.
    for (port, line) in [
        (1u16, &b"k\n"[..]),
        (2, &b"a line long enough to pay for it\n"[..]),
    ] {
        let mut out = Outbox::new();
        let code = room.cookies.code(addr(port), t);
        room.handle_datagram(
            format!("/join {code}\n").as_bytes(),
            addr(port),
            t,
            &mut out,
        );
        room.handle_datagram(line, addr(port), t, &mut out);
    }
    assert_eq!(room.len(), 2);
    let mut out = Outbox::new();
    room.handle_timeout(t + TIMEOUT + Duration::from_millis(1), &mut out);
    let told: Vec<u16> = sorted(&out)
        .into_iter()
        .filter(|(_, text)| text.starts_with("* you timed out"))
        .map(|(port, _)| port)
        .collect();
    assert_eq!(
        told,
        vec![2],
        "3 bytes said cannot pay for a 72-byte notice"
    );
}

#[test]
fn the_topic_is_set_told_to_everyone_and_to_newcomers_after_their_welcome() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"/nick alice", 1, t);
    assert_eq!(
        feed(&mut room, b"/topic", 2, t),
        to(&[2], "* no topic is set; /topic TEXT sets one")
    );
    assert_eq!(
        feed(&mut room, b"/topic release on Friday ", 1, t),
        to(&[1, 2], "* alice set the topic: release on Friday")
    );
    assert_eq!(
        feed(&mut room, b"/topic", 2, t),
        to(&[2], "* topic: release on Friday (set by alice)")
    );
    let joined = feed(&mut room, b"@im@", 3, t);
    let to_newcomer: Vec<&str> = joined
        .iter()
        .filter(|(port, _)| *port == 3)
        .map(|(_, text)| text.as_str())
        .collect();
    assert_eq!(to_newcomer.len(), 2);
    assert!(to_newcomer[1].starts_with("* you joined as 127.0.0.1:3"));
    assert_eq!(to_newcomer[0], "* topic: release on Friday (set by alice)");
    let mut out = Outbox::new();
    room.handle_datagram(b"@im@", addr(4), t, &mut out);
    let first = out.to_vec().into_iter().find(|(to, _)| *to == addr(4));
    assert!(
        first.is_some_and(|(_, text)| text.starts_with(b"* you joined")),
        "the welcome comes first, the topic after it"
    );
    let mut out = Outbox::new();
    room.set_topic("maintenance at 5", "server", &mut out);
    assert_eq!(
        sorted(&out),
        to(&[1, 2, 3, 4], "* server set the topic: maintenance at 5")
    );
    assert_eq!(room.topic(), Some(("maintenance at 5", "server")));
}

// Found in review: /reply answers the very member who whispered, not whoever took its
// name since.
#[test]
fn reply_never_reaches_whoever_took_the_whisperers_name() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2, 3], t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"/nick bob", 2, t);
    feed(&mut room, b"/msg bob psst", 1, t);
    feed(&mut room, b"/nick alice2", 1, t);
    feed(&mut room, b"/nick a1ice", 3, t);
    assert_eq!(
        feed(&mut room, b"/r my secret answer", 2, t),
        vec![
            (1, "* private from bob: my secret answer".into()),
            (2, "* private to alice2: my secret answer".into()),
        ],
        "alice, now alice2, gets it; a1ice does not"
    );
    feed(&mut room, b"quit", 1, t);
    feed(&mut room, b"@im@", 1, t);
    assert_eq!(
        feed(&mut room, b"/r still there?", 2, t),
        to(&[2], "* no one here is called alice"),
        "the same address joining again is someone else"
    );
}

// Found in review: a goodbye with a message is a leave, not a line the rate drops.
#[test]
fn quit_with_a_message_is_never_dropped_for_the_rate() {
    let t = Instant::now();
    let mut room = rated(5.0, 10, t);
    for port in [1, 2] {
        feed(&mut room, b"@im@", port, t);
    }
    for _ in 0..30 {
        feed(&mut room, b"a paste", 1, t);
    }
    assert_eq!(
        feed(&mut room, b"/quit bye", 1, t),
        to(&[2], "* 127.0.0.1:1 left (bye)")
    );
    assert_eq!(room.len(), 1);
    assert!(
        feed(&mut room, b"/quit", 9, t).is_empty(),
        "a stranger's /quit joins nothing to leave, as a bare quit"
    );
    assert_eq!(room.len(), 1);
}

// Found in review: ignoring goes by address too, so a new name does not shake it off;
// and nobody's own lines are hidden from them.
#[test]
fn an_ignored_member_stays_ignored_under_a_new_name_and_own_lines_are_never_hidden() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"/nick bob", 2, t);
    feed(&mut room, b"/ignore bob", 1, t);
    feed(&mut room, b"/nick bobby", 2, t);
    let sent = feed(&mut room, b"it is me again", 2, t);
    assert!(
        !sent.contains(&(1, "bobby it is me again".into())),
        "{sent:?}"
    );
    feed(&mut room, b"/ignore carol", 1, t);
    feed(&mut room, b"/nick carol", 1, t);
    assert_eq!(
        feed(&mut room, b"my own line", 1, t),
        to(&[1, 2], "carol my own line"),
        "alice, now carol, still sees her own line"
    );
}

// Found in a trial: what a member asked of the room comes back with it after a timeout
// (netcat times out after every 10 s of silence), like its name.
#[test]
fn ignores_come_back_with_a_member_that_timed_out() {
    let t = Instant::now();
    let mut room = room_with(&[2], t);
    feed(&mut room, b"/nick bob", 2, t);
    feed(&mut room, b"/nick nc\n", 1, t);
    feed(&mut room, b"/ignore bob\n", 1, t);
    let later = t + Duration::from_secs(5);
    feed(&mut room, b"@im@", 2, later);
    let mut out = Outbox::new();
    room.handle_timeout(t + TIMEOUT + Duration::from_millis(1), &mut out);
    assert_eq!(room.len(), 1, "nc timed out");
    let back = t + TIMEOUT + Duration::from_secs(2);
    feed(&mut room, b"back\n", 1, back);
    assert_eq!(
        feed(&mut room, b"/ignore\n", 1, back),
        to(&[1], "* you ignore: bob\n")
    );
    let sent = feed(&mut room, b"still hidden?", 2, back);
    assert!(
        !sent
            .iter()
            .any(|(port, text)| *port == 1 && text.starts_with("bob")),
        "{sent:?}"
    );
}

// Found in a trial: past the most one may ignore, /ignore says so and forgets no one.
#[test]
fn ignoring_more_than_the_most_is_refused_and_said() {
    let t = Instant::now();
    let mut room = room_with(&[1], t);
    for n in 0..MAX_IGNORED {
        feed(&mut room, format!("/ignore person{n}").as_bytes(), 1, t);
    }
    assert_eq!(
        feed(&mut room, b"/ignore one-more", 1, t),
        to(
            &[1],
            "* you cannot ignore more than 32; /unignore someone first"
        )
    );
    let listing = feed(&mut room, b"/ignore", 1, t);
    assert!(listing[0].1.starts_with("* you ignore: person0, person1"));
}

// Found in a trial: an away message cannot make /who list members who are not there,
// and it is kept short, as it is repeated to everyone who writes.
#[test]
fn an_away_message_is_short_and_adds_no_one_to_who() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            max_message_bytes: 1024,
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"@im@", 2, t);
    feed(&mut room, b"/nick alice", 1, t);
    feed(&mut room, b"/away brb), mallory, trent (zz", 1, t);
    assert_eq!(
        feed(&mut room, b"/who", 2, t),
        to(
            &[2],
            "* 2 here: alice (away 0s: brb); mallory; trent (zz), 127.0.0.1:2"
        )
    );
    let long = format!("/away {}", "x".repeat(500));
    let answer = feed(&mut room, long.as_bytes(), 1, t);
    assert!(
        answer[0].1.len() < AWAY_MAX_BYTES + 80,
        "{}",
        answer[0].1.len()
    );
}

// Found in a trial: an action or a private message brings a member back, as a line does.
#[test]
fn an_action_or_a_whisper_brings_a_member_back() {
    let t = Instant::now();
    let mut room = room_with(&[1, 2], t);
    feed(&mut room, b"/away lunch", 1, t);
    let sent = feed(&mut room, b"/me stretches", 1, t);
    assert!(sent.contains(&(1, "* you are back".into())), "{sent:?}");
    feed(&mut room, b"/away again", 1, t);
    let sent = feed(&mut room, b"/msg 127.0.0.1:2 hi", 1, t);
    assert!(sent.contains(&(1, "* you are back".into())), "{sent:?}");
    assert_eq!(room.members(t)[0].presence, Presence::Here);
}

// Found in a trial: what was hidden within the minute after a notice is told when the
// minute is over, even if nothing more is hidden.
#[test]
fn hidden_lines_are_told_when_the_minute_is_over() {
    let t = Instant::now();
    let mut room = Room::new(
        Config {
            timeout: Duration::from_secs(600),
            ..config()
        },
        t,
    );
    feed(&mut room, b"@im@", 1, t);
    feed(&mut room, b"@im@", 2, t);
    feed(&mut room, b"/ignore 127.0.0.1:2", 1, t);
    feed(&mut room, b"one", 2, t);
    feed(&mut room, b"two", 2, t + Duration::from_secs(1));
    feed(&mut room, b"three", 2, t + Duration::from_secs(2));
    let due = room.next_deadline().expect("the untold count is due");
    assert!(due <= t + HIDDEN_NOTICE_INTERVAL, "{:?}", due - t);
    let mut out = Outbox::new();
    room.handle_timeout(t + HIDDEN_NOTICE_INTERVAL, &mut out);
    assert_eq!(
        sorted(&out),
        to(
            &[1],
            "* hidden from you: 2 messages from people you ignore (/ignore lists them)"
        )
    );
    let mut out = Outbox::new();
    room.handle_timeout(t + HIDDEN_NOTICE_INTERVAL * 3, &mut out);
    assert!(out.is_empty(), "told once");
}
