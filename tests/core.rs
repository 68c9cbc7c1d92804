//! End-to-end tests of the core protocol against the real binaries, with raw sockets
//! speaking as the original Python client does, and with the client binary over pipes.

mod common;

use common::{closed_port, Proc, TestServer, CLIENT, SERVER};

#[test]
fn a_message_fans_out_to_every_member_including_the_sender() {
    let server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    let c = server.peer();
    c.send(b"hello there\n");
    let line = format!("{} hello there", c.addr());
    a.expect_chat(&line);
    b.expect_chat(&line);
    // The sender ended its line, so it is in line mode and gets lines that end too.
    c.expect_chat(&format!("{line}\n"));
    server.wait_log(&line);
}

#[test]
fn heartbeats_and_empty_lines_are_never_broadcast() {
    let server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    b.send(b"@IM@");
    b.send(b"\r\n");
    b.send(b"after");
    a.expect(&format!("* {} joined", b.addr()));
    a.expect(&format!("{} after", b.addr()));
}

#[test]
fn quit_and_an_empty_datagram_leave_the_room() {
    let server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    let c = server.joined_peer();
    a.send(b"QUIT\n");
    server.wait_log(&format!("{} left", a.addr()));
    b.send(b"");
    server.wait_log(&format!("{} left", b.addr()));
    c.send(b"anyone?");
    c.expect_chat(&format!("{} anyone?", c.addr()));
    b.expect(&format!("* {} joined", c.addr()));
    b.expect(&format!("* {} left", a.addr()));
    b.expect_nothing();
    a.expect(&format!("* {} joined", b.addr()));
    a.expect(&format!("* {} joined", c.addr()));
    a.expect_nothing();
}

#[test]
fn a_silent_client_is_evicted_after_the_timeout() {
    let server = TestServer::start(&["--timeout", "0.5"]);
    let silent = server.joined_peer();
    server.wait_log(&format!("{} timed out", silent.addr()));
    let talker = server.peer();
    talker.send(b"still here?");
    talker.expect_welcome();
    talker.expect(&format!("{} still here?", talker.addr()));
    silent.expect_nothing();
}

#[test]
fn oversize_text_gets_a_notice_and_is_not_broadcast() {
    let server = TestServer::start(&[]);
    let listener = server.joined_peer();
    let sender = server.peer();
    // The largest UDP payload over IPv4: the notice must count all of it.
    sender.send(&vec![b'x'; 65_507]);
    sender.expect_welcome();
    sender.expect("* message too long (65507 bytes, limit 1024)");
    // Limit notices to one address are at most one a second: a second sender.
    let sender2 = server.peer();
    sender2.send(&vec![b'y'; 1025]);
    sender2.expect_welcome();
    sender2.expect("* message too long (1025 bytes, limit 1024)");
    listener.expect(&format!("* {} joined", sender.addr()));
    listener.expect(&format!("* {} joined", sender2.addr()));
    listener.expect_nothing();
    // Exactly the limit passes.
    let exact = "z".repeat(1024);
    sender.send(exact.as_bytes());
    listener.expect(&format!("{} {exact}", sender.addr()));
}

#[test]
fn non_utf8_bytes_are_decoded_lossily() {
    let mut server = TestServer::start(&[]);
    let a = server.joined_peer();
    a.send(b"caf\xc3\xa9 \xff\xfe!");
    a.expect(&format!("{} café \u{fffd}\u{fffd}!", a.addr()));
    assert!(server.proc.is_running());
}

#[test]
fn console_quit_tells_clients_and_a_client_without_reconnect_exits_1() {
    let mut server = TestServer::start(&[]);
    let raw = server.joined_peer();
    let mut client = server.client(&["--no-reconnect"]);
    server.proc.wait_stderr_count(" joined", 2);
    server.proc.type_line("quit");
    // After the notice of the client's join comes the goodbye: an empty datagram.
    raw.expect_chat("");
    let status = client.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", client.report());
    let down = format!("udpchat-client: server {} is down", server.addr);
    assert!(client.stderr_lines().contains(&down), "{}", client.report());
    let status = server.proc.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", server.proc.report());
}

#[test]
fn console_who_lists_members_and_eof_does_not_stop_the_server() {
    let mut server = TestServer::start(&[]);
    let a = server.joined_peer();
    server.proc.type_line("who");
    server
        .proc
        .wait_stdout("with the member", |l| l.contains(&a.addr().to_string()));
    server.proc.wait_stdout("with the count", |l| l == "1 here");
    server.proc.type_line("help me");
    server
        .proc
        .wait_stdout("of help", |l| l.starts_with("commands:"));
    server.proc.close_stdin();
    server.wait_log("console input closed");
    a.send(b"still serving");
    a.expect(&format!("{} still serving", a.addr()));
    assert!(server.proc.is_running());
}

#[test]
fn client_exits_1_when_no_server_is_there() {
    let addr = closed_port().to_string();
    let mut client = Proc::spawn(CLIENT, &[&addr]);
    let status = client.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", client.report());
    let down = format!("udpchat-client: server {addr} is down");
    assert!(client.stderr_lines().contains(&down), "{}", client.report());
}

#[test]
fn a_named_client_also_exits_1_when_no_server_is_there() {
    // Its /nick right after the heartbeat may be the send that learns the port is closed.
    let addr = closed_port().to_string();
    let mut client = Proc::spawn(CLIENT, &[&addr, "--name", "ghost", "--heartbeat", "30"]);
    let status = client.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", client.report());
}

#[test]
fn bad_bind_addresses_get_one_clear_line() {
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().to_string();
    // The system's own words for a port in use (they differ from one to the next).
    let in_use = std::net::UdpSocket::bind(&taken)
        .expect_err("the port is taken")
        .to_string();
    let in_use = in_use
        .split(" (os error")
        .next()
        .unwrap_or(&in_use)
        .to_string();
    for (bind, reason) in [
        ("nonsense", "cannot bind nonsense:9999: "),
        // A port without its host.
        (
            "9999",
            "cannot bind 9999: invalid socket address (write host:port",
        ),
        (taken.as_str(), in_use.as_str()),
    ] {
        let mut server = Proc::spawn(SERVER, &["--bind", bind]);
        let status = server.wait_exit();
        assert_eq!(status.code(), Some(2), "{}", server.report());
        let stderr = server.stderr_lines();
        assert_eq!(stderr.len(), 1, "{}", server.report());
        assert!(
            stderr[0].starts_with("udpchat-server: cannot bind "),
            "{stderr:?}"
        );
        assert!(stderr[0].contains(reason), "{stderr:?}");
    }
}

#[test]
fn a_bind_address_without_a_port_takes_the_default_one_as_the_client_does() {
    // Port 9999 may be taken on this machine: either way the server names it.
    let mut binds = vec![("127.0.0.1", "127.0.0.1:9999")];
    if std::net::UdpSocket::bind("[::1]:0").is_ok() {
        binds.extend([("::1", "[::1]:9999"), ("[::1]", "[::1]:9999")]);
    }
    for (bind, full) in binds {
        let server = Proc::spawn(SERVER, &["--bind", bind]);
        let line = server.wait_stderr("saying where it listens, or why not", |l| {
            l.contains("listening on ") || l.starts_with("udpchat-server: cannot bind ")
        });
        if line.starts_with("udpchat-server: cannot bind ") {
            assert!(
                line.starts_with(&format!("udpchat-server: cannot bind {full}: ")),
                "{}",
                server.report()
            );
        } else {
            assert!(
                line.contains(&format!("listening on {full}")),
                "{}",
                server.report()
            );
        }
    }
}

#[test]
fn the_start_up_line_says_in_words_whether_addresses_are_verified() {
    for (args, words) in [
        (&[][..], "; open: any address joins with its first datagram"),
        (
            &["--verify"][..],
            "; verifying: an address joins once it proves it receives there",
        ),
    ] {
        let server = TestServer::start(args);
        server.wait_log(words);
    }
    // Both at once is a usage error.
    let mut both = Proc::spawn(SERVER, &["--bind", "127.0.0.1:0", "--verify", "--open"]);
    assert_eq!(both.wait_exit().code(), Some(2), "{}", both.report());
}

#[test]
fn bad_options_are_refused_with_usage_status() {
    let mut server = Proc::spawn(SERVER, &["--timeout", "0"]);
    assert_eq!(server.wait_exit().code(), Some(2), "{}", server.report());
    let mut client = Proc::spawn(CLIENT, &["127.0.0.1:9", "--heartbeat", "soon"]);
    assert_eq!(client.wait_exit().code(), Some(2), "{}", client.report());
}

#[test]
fn each_program_names_itself_in_its_version() {
    for (program, name) in [(SERVER, "udpchat-server"), (CLIENT, "udpchat-client")] {
        let mut proc = Proc::spawn(program, &["--version"]);
        assert_eq!(proc.wait_exit().code(), Some(0), "{}", proc.report());
        let want = format!("{name} {}", env!("CARGO_PKG_VERSION"));
        assert_eq!(proc.stdout_lines(), [want], "{}", proc.report());
    }
}

#[test]
fn two_client_binaries_chat_and_quit() {
    let server = TestServer::start(&[]);
    let mut alice = server.client(&[]);
    let mut bob = server.client(&[]);
    server.proc.wait_stderr_count(" joined", 2);
    alice.type_line("hello bob");
    let got = bob.wait_stdout("with alice's line", |l| l.ends_with(" hello bob"));
    // "HH:MM:SS 127.0.0.1:PORT hello bob"
    let parts: Vec<&str> = got.splitn(3, ' ').collect();
    assert_eq!(parts[0].len(), 8, "{got}");
    assert_eq!(parts[0].as_bytes()[2], b':', "{got}");
    assert!(parts[1].starts_with("127.0.0.1:"), "{got}");
    alice.wait_stdout("with its own line", |l| l.ends_with(" hello bob"));

    alice.type_line("QUIT");
    assert_eq!(alice.wait_exit().code(), Some(0), "{}", alice.report());
    server.wait_log(&format!("{} left", parts[1]));
    bob.close_stdin();
    assert_eq!(bob.wait_exit().code(), Some(0), "{}", bob.report());
    server.proc.wait_stderr_count(" left", 2);
}

#[test]
fn the_client_neutralises_terminal_controls_from_any_server() {
    // A bare socket plays a server that relays bytes as they are, as the Python one does.
    let fake_server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    fake_server
        .set_read_timeout(Some(common::DEADLINE))
        .unwrap();
    let addr = fake_server.local_addr().unwrap().to_string();
    let client = Proc::spawn(CLIENT, &[&addr]);
    let mut buf = [0u8; 64];
    let (len, client_addr) = fake_server
        .recv_from(&mut buf)
        .expect("the client's heartbeat");
    assert_eq!(
        &buf[..len],
        b"@IM@",
        "the first datagram, at once, is a hello: to a classic server, a heartbeat"
    );
    // Escape sequences, BEL, C1, a right-to-left override and a zero-width space go
    // by the same policy the server applies before it relays anything.
    fake_server
        .send_to(
            "1.2.3.4:5 \x1b[2Jgot\u{202e}cha\x07\u{9b}\u{200b}!".as_bytes(),
            client_addr,
        )
        .unwrap();
    let line = client.wait_stdout("with the line", |l| l.contains("got"));
    assert!(line.ends_with(" 1.2.3.4:5 gotcha!"), "{line:?}");
}

#[test]
fn the_client_splits_long_lines_at_character_boundaries() {
    let server = TestServer::start(&[]);
    let raw = server.joined_peer();
    let mut client = server.client(&[]);
    server.proc.wait_stderr_count(" joined", 2);
    let mut long = "é".repeat(700); // 1400 bytes
    long.push('!');
    client.type_line(&long);
    raw.recv(); // the client's join notice
    let first = raw.recv_text();
    let second = raw.recv_text();
    let (who, a) = first.split_once(' ').unwrap();
    let (_, b) = second.split_once(' ').unwrap();
    assert_eq!(a.len(), 1024, "the first piece fills the limit");
    assert_eq!(format!("{a}{b}"), long);
    assert!(who.starts_with("127.0.0.1:"));
}

#[test]
fn a_console_command_takes_effect_at_once_in_an_idle_room() {
    // An empty room has nothing due, so the loop sleeps up to a minute: only the
    // console's wake-up datagram makes `stats` answer within the deadline.
    let server = TestServer::start(&[]);
    let mut server = server;
    server.proc.type_line("stats");
    server
        .proc
        .wait_stdout("with the stats", |l| l.starts_with("members 0,"));
    server.proc.type_line("who");
    server.proc.wait_stdout("with the count", |l| l == "0 here");
}

#[test]
fn the_message_limit_cannot_exceed_what_one_datagram_carries() {
    // A limit of 65 507 accepted text that, with its sender's label, no datagram could
    // carry: every send failed and no one was told.
    let mut server = Proc::spawn(SERVER, &["--bind", "127.0.0.1:0", "--max-message", "65507"]);
    assert_eq!(server.wait_exit().code(), Some(2), "{}", server.report());
    let max = udpchat::proto::MAX_MESSAGE_LIMIT.to_string();
    let server = TestServer::start(&["--max-message", &max, "--rate", "0"]);
    let listener = server.joined_peer();
    let sender = server.joined_peer();
    listener.expect(&format!("* {} joined", sender.addr()));
    let text = "m".repeat(udpchat::proto::MAX_MESSAGE_LIMIT);
    sender.send(text.as_bytes());
    listener.expect(&format!("{} {text}", sender.addr()));
    sender.send(format!("{text}!").as_bytes());
    sender.expect(&format!("{} {text}", sender.addr()));
    sender.expect(&format!(
        "* message too long ({} bytes, limit {max})",
        text.len() + 1
    ));
}

#[test]
fn a_client_survives_a_server_restart_and_its_next_line_arrives_under_its_name() {
    let mut server = TestServer::start(&[]);
    let bind = server.addr.to_string();
    let mut client = server.client(&["--name", "phoenix"]);
    client.wait_stdout("with its name", |l| l.ends_with("* you are now phoenix"));
    server.proc.type_line("quit");
    assert_eq!(server.proc.wait_exit().code(), Some(0));
    client.wait_stdout("saying the server went away", |l| {
        l.ends_with("-!- server went away; trying again — Ctrl-D to leave")
    });
    client.type_line("typed while it was away");
    let server = TestServer::start_on(&bind, &[]);
    let raw = server.joined_peer();
    client.wait_stdout("back in the room", |l| l.ends_with("-!- back in the room"));
    raw.expect_chat("phoenix typed while it was away");
    client.type_line("and after");
    raw.expect_chat("phoenix and after");
    assert!(client.is_running(), "{}", client.report());
}

#[test]
fn a_script_piping_a_hundred_lines_gets_a_hundred_lines_delivered() {
    // The room allows 20 a second, 5 at once: unpaced, most of the hundred would drop.
    let server = TestServer::start(&["--rate", "20", "--burst", "5"]);
    let raw = server.joined_peer();
    let mut client = server.client(&[]);
    for i in 0..100 {
        client.type_line(&format!("line {i}"));
    }
    client.close_stdin();
    let mut got = Vec::new();
    while got.len() < 100 {
        let line = raw.recv_text();
        if let Some((_, text)) = line.split_once(" line ") {
            got.push(text.parse::<u32>().expect("a line number"));
        }
    }
    assert_eq!(got, (0..100).collect::<Vec<_>>(), "all, in order, once");
    let status = client.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", client.report());
}
