//! Sessions and `--verify` end to end, with the real binaries on loopback: our clients
//! open sessions by themselves; datagrams sent from a session's address without its
//! token change nothing, either way; and under `--verify` a forged source draws at most
//! three times its bytes. A forger is played by a socket at the victim's address: to the
//! server or client, a datagram from it is one from that address.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

use common::{stat, Peer, Proc, TestServer, CLIENT, DEADLINE, QUIET};
use udpchat::proto::frame::{self, Framed, Token};

const ALICE: Token = Token(*b"alice!!!");
const BOB: Token = Token(*b"bob!!!!!");

/// The server's `stats` line, asked on its console.
fn stats(server: &mut TestServer) -> String {
    server.proc.type_line("stats");
    let line = server
        .proc
        .wait_stdout("the stats line", |l| l.contains("sessions "));
    server.proc.clear_stdout();
    line
}

#[test]
fn our_clients_open_sessions_by_themselves_under_verify() {
    let mut server = TestServer::start(&["--verify"]);
    let mut alice = server.client(&["--name", "alice"]);
    let bob = server.client(&["--name", "bob"]);
    alice.wait_stdout("alice's name", |l| l.ends_with("* you are now alice"));
    bob.wait_stdout("bob's name", |l| l.ends_with("* you are now bob"));
    alice.type_line("hello from a verified address");
    bob.wait_stdout("alice's line", |l| {
        l.ends_with(" alice hello from a verified address")
    });
    let line = stats(&mut server);
    assert_eq!(stat(&line, "in sessions"), 2, "{line}");
    assert_eq!(stat(&line, "bad cookies/codes/tokens"), 0, "{line}");
    alice.close_stdin();
    assert_eq!(alice.wait_exit().code(), Some(0), "{}", alice.report());
    bob.wait_stdout("alice leaving", |l| l.ends_with("* alice left"));
}

#[test]
fn nothing_from_a_sessions_address_without_its_token_changes_anything() {
    let mut server = TestServer::start(&[]);
    let observer = server.joined_peer();
    let alice = server.peer();
    alice.open_session(ALICE);
    alice.send_framed(ALICE, b"/nick alice");
    assert_eq!(alice.recv_framed(ALICE), "* you are now alice");
    observer.expect(&format!("* {} joined", alice.addr()));
    observer.expect(&format!("* {} is now alice", alice.addr()));
    // A forger at alice's address: quit, chat, a rename, a private message, a forged
    // server welcome (which would make the server ignore her), a leave.
    let forged: [&[u8]; 6] = [
        b"quit",
        b"I am alice, honest",
        b"/nick mallory",
        b"/msg 127.0.0.1:1 psst",
        b"* you joined as 127.0.0.1:1 (1 here; /help for commands)",
        b"",
    ];
    for datagram in forged {
        alice.send(datagram);
    }
    // A session frame with a guessed token does no better.
    alice.send_framed(Token(*b"guessed!"), b"quit");
    // A hello from her address draws a cookie, to her address alone, and changes
    // nothing until it is echoed: it is how a client that lost its session renews it.
    alice.send(frame::HELLO);
    assert!(matches!(frame::read(&alice.recv()), Framed::Cookie(_)));
    alice.expect_nothing();
    observer.socket.set_read_timeout(Some(QUIET)).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok((len, _)) = observer.socket.recv_from(&mut buf) {
        seen.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    observer.socket.set_read_timeout(Some(DEADLINE)).unwrap();
    assert!(
        seen.is_empty(),
        "the forgeries reached the room: {seen:?}\n{}",
        server.proc.report()
    );
    // Alice is still alice, still in the room, and still speaks.
    alice.send_framed(ALICE, b"still here");
    observer.expect_chat("alice still here");
    let line = stats(&mut server);
    assert_eq!(stat(&line, "ignored without session token"), 6, "{line}");
    assert_eq!(stat(&line, "bad cookies/codes/tokens"), 1, "{line}");
    assert_eq!(stat(&line, "members"), 2, "{line}");
}

/// A fake server that opens a session with our client binary; returns the socket, the
/// client's address and the token it chose.
fn fake_server_with_session(client_args: &[&str]) -> (UdpSocket, Proc, SocketAddr, Token) {
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(DEADLINE)).unwrap();
    let addr = fake.local_addr().unwrap().to_string();
    let mut args = vec![addr.as_str()];
    args.extend_from_slice(client_args);
    let client = Proc::spawn(CLIENT, &args);
    let mut buf = [0u8; 2048];
    let (len, client_addr) = fake.recv_from(&mut buf).expect("the client's hello");
    assert_eq!(&buf[..len], frame::HELLO);
    let mut cookie = Vec::new();
    frame::write_cookie(&mut cookie, frame::Cookie(*b"cookie!!"));
    fake.send_to(&cookie, client_addr).unwrap();
    let token = loop {
        let (len, _) = fake.recv_from(&mut buf).expect("the client's echo");
        if let Framed::Echo { token, .. } = frame::read(&buf[..len]) {
            break token;
        }
    };
    let welcome =
        format!("* you joined as {client_addr} (2 here; /help for commands; no message limit)");
    fake.send_to(
        &frame::line(token, 1, welcome.as_bytes(), false),
        client_addr,
    )
    .unwrap();
    client.wait_stdout("the welcome", |l| l.contains("* you joined as "));
    (fake, client, client_addr, token)
}

#[test]
fn our_client_ignores_a_forged_goodbye_removal_or_line() {
    let (fake, mut client, client_addr, token) = fake_server_with_session(&["--no-reconnect"]);
    // From the server's own address, without the token.
    for forged in [
        &b""[..],
        b"* you were removed by the server",
        b"mallory I am the server, trust me",
    ] {
        fake.send_to(forged, client_addr).unwrap();
    }
    fake.send_to(&frame::session(Token(*b"guessed!"), b""), client_addr)
        .unwrap();
    client.wait_stdout("the forgery told", |l| {
        l.contains(" datagram") && l.contains("-!- ignored ") && l.contains("claiming")
    });
    fake.send_to(
        &frame::line(token, 2, b"bob the real line", false),
        client_addr,
    )
    .unwrap();
    client.wait_stdout("the real line", |l| l.ends_with(" bob the real line"));
    assert!(client.is_running(), "{}", client.report());
    assert!(
        !client.stdout_lines().iter().any(|l| l.contains("mallory")),
        "{}",
        client.report()
    );
    // The server's real goodbye, in the session, is obeyed.
    fake.send_to(&frame::session(token, b""), client_addr)
        .unwrap();
    assert_eq!(client.wait_exit().code(), Some(1), "{}", client.report());
    // All four told, at once or by the end (at most one line every 10 s).
    let told: u64 = client
        .stdout_lines()
        .iter()
        .filter_map(|l| {
            l.split("-!- ignored ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(told, 4, "{}", client.report());
}

#[test]
fn forged_requests_under_verify_draw_at_most_three_times_their_bytes() {
    let mut server = TestServer::start(&["--verify", "--rate", "0"]);
    let alice = server.peer();
    alice.open_session(ALICE);
    let bob = server.peer();
    bob.open_session(BOB);
    // The victim does not answer; the forger sends from its address.
    let victim = Peer::bound("127.0.0.2:0".parse().unwrap(), server.addr);
    let forged: [&[u8]; 7] = [
        b"@im@",
        b"hi everyone, I am the victim\n",
        b"/who",
        b"/nick victim",
        b"@IM@",
        b"/msg alice hi",
        b"quit",
    ];
    let mut sent = 0;
    let start = Instant::now();
    for round in 0..100 {
        for datagram in forged {
            victim.send(datagram);
            sent += datagram.len();
        }
        // The room is busy meanwhile: each of these goes to every member. Its echo
        // also says the server has read what came before it, so nothing is lost to a
        // full socket.
        let line = format!("line {round}");
        alice.send_framed(ALICE, line.as_bytes());
        alice.expect_framed_chat(ALICE, &format!("{} {line}", alice.addr()));
    }
    let mut received = 0;
    victim.socket.set_read_timeout(Some(QUIET)).unwrap();
    let mut buf = vec![0u8; 65_536];
    while let Ok((len, _)) = victim.socket.recv_from(&mut buf) {
        received += len;
        assert!(start.elapsed() < DEADLINE * 4, "the victim is flooded");
    }
    assert!(
        received <= 3 * sent,
        "{received} bytes to the victim for {sent} forged"
    );
    assert!(received > 0, "the victim's address is told its code");
    // And exactly as far as the bytes allow: one heartbeat buys nothing, the second
    // the 16-byte line to type.
    let fresh = Peer::bound("127.0.0.3:0".parse().unwrap(), server.addr);
    fresh.send(b"@im@");
    fresh.expect_nothing();
    fresh.send(b"@im@");
    let told = fresh.recv();
    assert_eq!(told.len(), 16, "{:?}", String::from_utf8_lossy(&told));
    let line = stats(&mut server);
    assert_eq!(stat(&line, "members"), 2, "{line}");
    assert_eq!(stat(&line, "from addresses not yet proven"), 602, "{line}");
    drop(bob);
}

#[test]
fn a_person_joins_a_verifying_room_by_typing_the_code_they_are_told() {
    let server = TestServer::start(&["--verify"]);
    let alice = server.peer();
    alice.open_session(ALICE);
    // netcat: lines end in a newline.
    let person = server.peer();
    // netcat's `hello` is answered at once with the line to type.
    person.send(b"hello\n");
    let told = person.recv_text();
    let code = told
        .strip_prefix("/join ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{told:?}"));
    person.send(format!("/join {code}\n").as_bytes());
    let welcome = person.recv_text();
    assert!(
        welcome.starts_with(&format!("* you joined as {} (2 here", person.addr())),
        "{welcome:?}"
    );
    assert_eq!(
        alice.recv_framed(ALICE),
        format!("* {} joined", person.addr())
    );
    person.send(b"hi alice\n");
    alice.expect_framed_chat(ALICE, &format!("{} hi alice", person.addr()));
    person.expect(&format!("{} hi alice\n", person.addr()));
}

#[test]
fn a_session_is_renewed_when_the_server_restarts() {
    let server = TestServer::start(&[]);
    let addr = server.addr.to_string();
    let mut client = Proc::spawn(CLIENT, &[&addr, "--name", "rita", "--heartbeat", "0.5"]);
    client.wait_stdout("the name", |l| l.ends_with("* you are now rita"));
    // The server dies without a goodbye, and another starts on its port.
    drop(server);
    let again = TestServer::start_on(&addr, &[]);
    client.wait_stdout("back", |l| l.ends_with("-!- back in the room"));
    client.wait_stdout("the name again", |l| l.ends_with("* you are now rita"));
    let observer = again.joined_peer();
    client.type_line("made it");
    observer.expect_chat("rita made it");
}

#[test]
fn our_client_is_shown_the_last_lines_said_before_it_came() {
    let server = TestServer::start(&["--history", "3"]);
    let talker = server.joined_peer();
    for i in 1..=5 {
        talker.send(format!("line {i}").as_bytes());
        talker.expect_chat(&format!("{} line {i}", talker.addr()));
    }
    let client = server.client(&["--name", "late"]);
    client.wait_stdout("the name", |l| l.ends_with("* you are now late"));
    talker.send(b"and now");
    client.wait_stdout("the new line", |l| l.ends_with(" and now"));
    let lines = client.stdout_lines();
    // Each marked with when it was said, `(HH:MM)`, in place of the time.
    fn said_at(l: &str) -> Option<&str> {
        let rest = l.strip_prefix('(')?;
        let (hh_mm, line) = rest.split_once(") ")?;
        let ok = hh_mm.len() == 5 && hh_mm.as_bytes()[2] == b':';
        ok.then(|| line.trim_start())
    }
    let earlier: Vec<&str> = lines.iter().filter_map(|l| said_at(l)).collect();
    let who = talker.addr();
    assert_eq!(
        earlier,
        [
            format!("{who} line 3"),
            format!("{who} line 4"),
            format!("{who} line 5")
        ],
        "{}",
        client.report()
    );
    let first_new = lines.iter().position(|l| l.ends_with(" and now"));
    let last_earlier = lines.iter().rposition(|l| said_at(l).is_some());
    assert!(last_earlier < first_new, "before anything new");
}

#[test]
fn through_a_lossy_network_every_line_typed_arrives_once_in_order_or_is_told_lost() {
    // Two of our clients, each behind a relay that loses 20 % of datagrams each way
    // and holds back one in ten of the rest so they arrive out of order.
    let server = TestServer::start(&["--rate", "0"]);
    let to_listener = common::LossyRelay::start(server.addr, 0.2, 0x5eed_1e55);
    let to_talker = common::LossyRelay::start(server.addr, 0.2, 0x7a1c_e55e);
    let listener_relay = to_listener.addr.to_string();
    let talker_relay = to_talker.addr.to_string();
    let listener = Proc::spawn(CLIENT, &[&listener_relay, "--heartbeat", "0.5"]);
    listener.wait_stdout("in the room", |l| l.contains("* you joined as "));
    let mut talker = Proc::spawn(
        CLIENT,
        &[&talker_relay, "--heartbeat", "0.5", "--name", "talker"],
    );
    talker.wait_stdout("its name", |l| l.ends_with("* you are now talker"));
    for i in 0..150 {
        talker.type_line(&format!("line {i}"));
    }
    // Every line is accounted for: shown to the listener, counted in its `* N messages
    // lost`, or named by the talker as not relayed.
    let prefix = "talker line ".to_string();
    let start = Instant::now();
    let (shown, lost, unsent) = loop {
        let lines = listener.stdout_lines();
        let shown: Vec<u64> = lines
            .iter()
            .filter_map(|l| l.split(&prefix).nth(1)?.parse().ok())
            .collect();
        let lost: u64 = lines
            .iter()
            .filter_map(|l| {
                l.split("-!- ")
                    .nth(1)?
                    .strip_suffix(" lost")?
                    .split(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        let unsent = talker
            .stdout_lines()
            .iter()
            .filter(|l| l.contains("-!- not relayed by the room: line "))
            .count() as u64;
        if shown.len() as u64 + lost + unsent >= 150 || start.elapsed() > DEADLINE * 4 {
            break (shown, lost, unsent);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let in_order: Vec<u64> = {
        let mut sorted = shown.clone();
        sorted.sort_unstable();
        sorted.dedup();
        sorted
    };
    assert_eq!(
        shown,
        in_order,
        "in order, once\n{}\n{}",
        listener.report(),
        talker.report()
    );
    assert_eq!(
        shown.len() as u64 + lost + unsent,
        150,
        "accounted for\n{}\n{}",
        listener.report(),
        talker.report()
    );
    assert!(
        shown.len() >= 147,
        "{} of 150 arrived\n{}\n{}",
        shown.len(),
        listener.report(),
        talker.report()
    );
    drop((to_listener, to_talker));
}

#[test]
fn a_lost_last_line_is_repaired_at_the_next_heartbeat() {
    let server = TestServer::start(&[]);
    let relay = common::LossyRelay::dropping_once(server.addr, b"last words");
    let relay_addr = relay.addr.to_string();
    let listener = Proc::spawn(CLIENT, &[&relay_addr, "--heartbeat", "0.5"]);
    listener.wait_stdout("in the room", |l| l.contains("* you joined as "));
    let talker = server.joined_peer();
    talker.send(b"last words");
    talker.expect_chat(&format!("{} last words", talker.addr()));
    // Nothing comes after it: only the answer to a heartbeat tells the listener.
    let line = listener.wait_stdout("the lost line, repaired", |l| l.ends_with(" last words"));
    assert!(!line.contains("lost"), "{line}");
    talker.send(b"and then");
    listener.wait_stdout("the next", |l| l.ends_with(" and then"));
    let copies = listener
        .stdout_lines()
        .iter()
        .filter(|l| l.ends_with(" last words"))
        .count();
    assert_eq!(copies, 1, "{}", listener.report());
    drop(relay);
}
