//! End-to-end tests of what makes the room pleasant: presence notices, names and
//! /commands, line-mode (netcat) clients, control stripping, the console's kick and say,
//! IPv6, and the client's --name, --bell and --log.

mod common;

use std::net::UdpSocket;
use std::process::{Command, Stdio};

use common::{Peer, Proc, TestServer};

#[test]
fn joins_leaves_and_timeouts_are_announced_to_the_others() {
    let server = TestServer::start(&["--timeout", "2"]);
    let watcher = server.joined_peer();
    let quitter = server.joined_peer();
    watcher.expect(&format!("* {} joined", quitter.addr()));
    watcher.send(b"@im@");
    quitter.send(b"quit");
    watcher.expect(&format!("* {} left", quitter.addr()));
    watcher.send(b"@im@");
    let sleeper = server.joined_peer();
    watcher.expect(&format!("* {} joined", sleeper.addr()));
    // The watcher keeps its heartbeat going while the sleeper falls silent.
    let deadline = std::time::Instant::now() + common::DEADLINE;
    watcher
        .socket
        .set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    let timed_out = format!("* {} timed out", sleeper.addr());
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        watcher.send(b"@im@");
        let mut buf = [0u8; 256];
        if let Ok((len, _)) = watcher.socket.recv_from(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..len]).into_owned());
            if seen.last() == Some(&timed_out) {
                break;
            }
        }
    }
    assert_eq!(seen, vec![timed_out], "{}", server.proc.report());
    // The joiner itself is never told of its own join.
    quitter.expect_nothing();
}

#[test]
fn nick_takes_valid_unique_names_in_any_case() {
    let server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    a.recv(); // b joined
    a.send(b"/nick alice");
    a.expect("* you are now alice");
    b.expect(&format!("* {} is now alice", a.addr()));
    b.send(b"/nick ALICE");
    b.expect("* the name ALICE is taken");
    b.send(b"/nick no spaces");
    let rule = "use 1-16 ASCII letters, digits, _ or -, starting with a letter";
    b.expect(&format!("* cannot take the name no spaces: {rule}"));
    b.send(b"/nick seventeen_chars_x");
    b.expect(&format!("* cannot take the name seventeen_chars_x: {rule}"));
    b.send(b"/nick You");
    b.expect("* the name You is reserved");
    b.send(b"/nick Bob-2");
    b.expect("* you are now Bob-2");
    a.expect(&format!("* {} is now Bob-2", b.addr()));
    a.send(b"hello Bob-2");
    b.expect("alice hello Bob-2");
    a.expect("alice hello Bob-2");
    a.send(b"/nick Alice");
    a.expect("* you are now Alice");
    b.expect("* alice is now Alice");
}

#[test]
fn who_me_help_unknown_and_double_slash() {
    let server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    a.recv(); // b joined
    b.send(b"/nick bob");
    b.recv();
    a.recv();
    a.send(b"/who");
    a.expect(&format!("* 2 here: {}, bob", a.addr()));
    b.send(b"/me waves");
    a.expect("* bob waves");
    b.expect("* bob waves");
    a.send(b"/help");
    let help = a.recv_text();
    assert!(
        help.starts_with("* commands: /nick NAME, /who, /me ACTION"),
        "{help}"
    );
    a.send(b"/shrug");
    a.expect("* unknown command /shrug; try /help");
    a.send(b"//shrug");
    a.expect(&format!("{} /shrug", a.addr()));
    b.expect(&format!("{} /shrug", a.addr()));
    // Commands and their answers reach no one else.
    b.expect_nothing();
}

#[test]
fn msg_reaches_only_its_target_by_name_or_address() {
    let server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    let c = server.joined_peer();
    b.send(b"/nick bob");
    b.expect(&format!("* {} joined", c.addr()));
    b.expect("* you are now bob");
    for _ in 0..3 {
        a.recv(); // b joined, c joined, b renamed
    }
    c.expect(&format!("* {} is now bob", b.addr()));
    a.send(b"/msg BOB meet at 5");
    a.expect("* private to bob: meet at 5");
    b.expect(&format!("* private from {}: meet at 5", a.addr()));
    b.send(format!("/msg {} ok", a.addr()).as_bytes());
    b.expect(&format!("* private to {}: ok", a.addr()));
    a.expect("* private from bob: ok");
    a.send(b"/msg carol hi");
    a.expect("* no one here is called carol");
    a.send(b"/msg bob");
    a.expect("* usage: /msg WHO TEXT");
    c.expect_nothing();
}

#[test]
fn line_mode_clients_get_line_ends_and_controls_are_stripped() {
    let server = TestServer::start(&[]);
    let plain = server.joined_peer();
    let netcat = server.peer();
    netcat.send(b"hi\n");
    netcat.expect_welcome();
    netcat.expect(&format!("{} hi\n", netcat.addr()));
    plain.expect(&format!("* {} joined", netcat.addr()));
    plain.expect(&format!("{} hi", netcat.addr()));
    plain.send(b"\x1b[31mred\x1b[0m \x07bell\rback");
    netcat.expect(&format!("{} red bell back\n", plain.addr()));
    plain.expect(&format!("{} red bell back", plain.addr()));
    netcat.send(b"/who\n");
    netcat.expect(&format!("* 2 here: {}, {}\n", plain.addr(), netcat.addr()));
}

#[test]
fn console_kick_and_say() {
    let mut server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    a.recv(); // b joined
    b.send(b"/nick bob");
    b.recv();
    a.recv();
    server.proc.type_line("say back in 5 minutes");
    a.expect("* server: back in 5 minutes");
    b.expect("* server: back in 5 minutes");
    server.proc.type_line("kick BOB");
    b.expect("* you were removed by the server");
    a.expect("* bob was removed");
    server
        .proc
        .wait_stdout("confirming", |l| l == "removed bob");
    // Its heartbeats do not bring it straight back.
    b.send(b"@im@");
    b.send(b"let me in");
    b.expect_nothing();
    server.proc.type_line(&format!("kick {}", a.addr()));
    a.expect("* you were removed by the server");
    server.proc.type_line("kick nobody");
    server
        .proc
        .wait_stdout("refusing", |l| l == "no one here is called nobody");
}

#[test]
fn ipv6_loopback_works_end_to_end() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let server = TestServer::start_on("[::1]:0", &[]);
    assert!(server.addr.is_ipv6());
    let raw = server.joined_peer();
    let mut client = server.client(&["--name", "six"]);
    let joined = raw.recv_text();
    assert!(joined.starts_with("* [::1]:"), "{joined}");
    raw.expect(&format!(
        "{} is now six",
        joined.strip_suffix(" joined").unwrap()
    ));
    client.type_line("hello over v6");
    raw.expect("six hello over v6");
    client.wait_stdout("with its own line", |l| l.ends_with(" six hello over v6"));
}

#[test]
fn a_wildcard_ipv6_bind_serves_ipv4_clients_too() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: only Linux makes [::] dual-stack by default");
        return;
    }
    if UdpSocket::bind("[::]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6");
        return;
    }
    // Open, as the classic protocol: raw peers join without proving their address.
    let server = TestServer::start_on("[::]:0", &["--open"]);
    let v4 = Peer::new(format!("127.0.0.1:{}", server.addr.port()).parse().unwrap());
    v4.send(b"over v4");
    let welcome = v4.recv_text();
    assert!(welcome.starts_with("* you joined as "), "{welcome}");
    let line = v4.recv_text();
    assert!(
        line.ends_with(&format!(":{} over v4", v4.addr().port())),
        "{line}"
    );
    let v6 = Peer::new(format!("[::1]:{}", server.addr.port()).parse().unwrap());
    v6.send(b"over v6");
    v6.expect_welcome();
    v6.expect(&format!("{} over v6", v6.addr()));
}

#[test]
fn the_client_finds_the_server_by_host_name() {
    let server = TestServer::start(&[]);
    let raw = server.joined_peer();
    let target = format!("localhost:{}", server.addr.port());
    let mut client = Proc::spawn(common::CLIENT, &[&target]);
    let joined = raw.recv_text();
    assert!(
        joined.starts_with("* 127.0.0.1:"),
        "{joined}\n{}",
        client.report()
    );
    client.type_line("found you");
    raw.expect(&format!(
        "{} found you",
        &joined[2..joined.len() - " joined".len()]
    ));
}

#[test]
fn named_clients_chat_and_the_bell_rings_only_when_it_should() {
    let server = TestServer::start(&[]);
    let mut alice = server.client(&["--name", "alice", "--bell"]);
    server.wait_log("is now alice");
    let mut bob = server.client(&["--name", "bob"]);
    server.wait_log("is now bob");
    alice.wait_stdout("seeing bob arrive", |l| l.ends_with(" is now bob"));

    bob.type_line("hello everyone");
    bob.type_line("hey Alice, look");
    bob.type_line("/msg alice psst");
    alice.wait_stdout("with bob's private message", |l| l.ends_with("psst"));
    alice.type_line("I am alice");
    let last = alice.wait_stdout("with her own line", |l| l.ends_with("alice I am alice"));
    let lines = alice.stdout_lines();
    let find = |end: &str| {
        lines
            .iter()
            .find(|l| l.ends_with(end))
            .unwrap_or_else(|| panic!("no line ending {end:?}\n{}", alice.report()))
            .clone()
    };
    assert!(!find("bob hello everyone").starts_with('\x07'));
    assert!(find("bob hey Alice, look").starts_with('\x07'));
    assert!(find("* private from bob: psst").starts_with('\x07'));
    assert!(!last.starts_with('\x07'), "never for her own lines");
    assert!(
        !find(" is now bob").starts_with('\x07'),
        "never for other notices"
    );
    // Bob has no --bell: no BEL even when named.
    bob.type_line("bob here");
    let own = bob.wait_stdout("with his own line", |l| l.ends_with("bob bob here"));
    assert!(!own.contains('\x07'));
    assert!(bob.stdout_lines().iter().all(|l| !l.contains('\x07')));

    alice.type_line("quit");
    assert_eq!(alice.wait_exit().code(), Some(0));
    bob.wait_stdout("seeing alice leave", |l| l.ends_with("* alice left"));
}

#[test]
fn a_named_client_comes_back_under_its_name_after_an_eviction() {
    // Heartbeats slower than the timeout: evicted, then back, under the same name.
    let server = TestServer::start(&["--timeout", "1"]);
    let client = server.client(&["--name", "phoenix", "--heartbeat", "1.5"]);
    server.wait_log("phoenix timed out");
    server.wait_log("phoenix joined");
    client.wait_stdout("welcomed by name", |l| {
        l.contains("* you joined as phoenix (")
    });
    let renames = server
        .proc
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("is now phoenix"))
        .count();
    assert_eq!(
        renames,
        1,
        "the server kept the name\n{}",
        server.proc.report()
    );
}

#[test]
fn a_named_client_takes_its_name_again_after_a_server_restart() {
    // A bare socket plays the server, so the "restart" has no gap a heartbeat could hit.
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(common::DEADLINE)).unwrap();
    let addr = fake.local_addr().unwrap().to_string();
    let _client = Proc::spawn(
        common::CLIENT,
        &[&addr, "--name", "phoenix", "--heartbeat", "30"],
    );
    let mut buf = [0u8; 256];
    let mut next = || {
        let (len, from) = fake
            .recv_from(&mut buf)
            .expect("a datagram from the client");
        (String::from_utf8_lossy(&buf[..len]).into_owned(), from)
    };
    // A server without sessions (an older udpchat) welcomes the hello as a heartbeat.
    let (first, client) = next();
    assert_eq!(first, "@IM@");
    let welcome = format!("* you joined as {client} (1 here; /help for commands)");
    fake.send_to(welcome.as_bytes(), client).unwrap();
    assert_eq!(next().0, "/nick phoenix", "asked for at the welcome");
    fake.send_to(b"* you are now phoenix", client).unwrap();
    // The restarted server knows nothing: it welcomes the client's next datagram.
    fake.send_to(welcome.as_bytes(), client).unwrap();
    assert_eq!(next().0, "/nick phoenix", "asked for its name again");
}

#[test]
fn a_client_started_in_a_full_room_takes_its_name_once_let_in() {
    let server = TestServer::start(&["--max-clients", "1"]);
    let occupant = server.joined_peer();
    let mut client = server.client(&["--name", "hank", "--heartbeat", "0.3"]);
    client.wait_stdout("told the room is full", |l| {
        l.ends_with("* room is full (1 client)")
    });
    occupant.send(b"quit");
    server.wait_log("is now hank");
    client.wait_stdout("confirmed", |l| l.ends_with("* you are now hank"));
    client.close_stdin();
    assert_eq!(client.wait_exit().code(), Some(0));
}

#[test]
fn the_client_exits_when_kicked() {
    let mut server = TestServer::start(&[]);
    let mut client = server.client(&["--name", "carol"]);
    server.wait_log("is now carol");
    server.proc.type_line("kick carol");
    assert_eq!(client.wait_exit().code(), Some(1), "{}", client.report());
    assert!(client
        .stderr_lines()
        .contains(&"udpchat-client: the server removed you from the room".to_string()));
}

/// A fresh path for a test's transcript, in the target directory.
fn log_path(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Whether `line` starts with a full date and time, `2026-12-05 14:03:07 `.
fn dated(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 20
        && bytes[..20].iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 | 19 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
}

#[test]
fn the_log_has_every_line_shown_with_its_date_and_nothing_else() {
    let server = TestServer::start(&[]);
    let raw = server.joined_peer();
    raw.send(b"said before alice came");
    raw.expect_chat(&format!("{} said before alice came", raw.addr()));
    let path = log_path("line-mode");
    let log = path.to_string_lossy().into_owned();
    let mut alice = server.client(&["--name", "alice", "--log", &log]);
    alice.wait_stdout("her name", |l| l.ends_with("* you are now alice"));
    raw.send(b"welcome alice");
    alice.type_line("thanks");
    alice.wait_stdout("her own line", |l| l.ends_with(" alice thanks"));
    alice.type_line("quit");
    assert_eq!(alice.wait_exit().code(), Some(0), "{}", alice.report());

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let report = format!("--- the log:\n{text}\n{}", alice.report());
    assert!(lines[0].starts_with("--- log opened "), "{report}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("--- log closed ")),
        "{report}"
    );
    // Each line shown, in order, after its date and time in place of the screen's time
    // (or mark: a line from the room's history keeps `earlier:`).
    let shown: Vec<String> = alice
        .stdout_lines()
        .iter()
        .map(|line| match line.strip_prefix('(') {
            Some(earlier) => format!("earlier: {}", &earlier[earlier.find(") ").unwrap() + 2..]),
            None => line[9..].to_string(),
        })
        .collect();
    let logged: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|line| {
            assert!(dated(line), "{line:?} has no date\n{report}");
            &line[20..]
        })
        .collect();
    assert_eq!(logged, shown, "{report}");
    assert!(
        logged
            .iter()
            .any(|l| l.starts_with("earlier: ") && l.ends_with(" said before alice came")),
        "{report}"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_log_that_cannot_be_opened_stops_the_client_with_one_line() {
    let server = TestServer::start(&[]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let log = dir.to_string_lossy().into_owned();
    let mut client = server.client(&["--log", &log]);
    assert_eq!(client.wait_exit().code(), Some(2), "{}", client.report());
    let stderr = client.stderr_lines();
    assert_eq!(stderr.len(), 1, "{}", client.report());
    assert!(
        stderr[0].starts_with(&format!("udpchat-client: cannot open the log {log}: ")),
        "{}",
        client.report()
    );
    assert!(!stderr[0].contains("os error"), "{}", client.report());
}

/// Fails unless `nc` is installed. The test that needs it is ignored by default;
/// `.ci/run` installs netcat and runs it with `--include-ignored`, so a machine without
/// it fails there rather than skipping.
fn require_netcat() {
    let available = Command::new("nc")
        .arg("-h")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        available,
        "nc is not installed (apt-get install netcat-openbsd)"
    );
}

#[test]
#[ignore = "needs nc (netcat-openbsd): run with --include-ignored"]
fn real_netcat_chats_in_line_mode() {
    require_netcat();
    let server = TestServer::start(&[]);
    let raw = server.joined_peer();
    let port = server.addr.port().to_string();
    let mut nc = Proc::spawn("nc", &["-u", "127.0.0.1", &port]);
    nc.type_line("hello from netcat");
    let joined = raw.recv_text();
    let who = joined
        .strip_prefix("* ")
        .and_then(|rest| rest.strip_suffix(" joined"))
        .unwrap_or_else(|| panic!("expected a join notice, got {joined:?}"))
        .to_string();
    raw.expect(&format!("{who} hello from netcat"));
    raw.send(b"hi netcat");
    nc.wait_stdout("with the reply on its own line", |l| {
        l == format!("{} hi netcat", raw.addr())
    });
    nc.wait_stdout("with its own line", |l| {
        l == format!("{who} hello from netcat")
    });
}

#[test]
fn netcat_hears_the_server_go_in_a_line_and_comes_back_after_a_restart() {
    // A raw peer in line mode plays netcat, which stops reading at an empty datagram
    // (OpenBSD nc takes it for the end of the connection) and so would hear nothing
    // from the restarted server.
    let mut server = TestServer::start(&[]);
    let bind = server.addr.to_string();
    let nc = server.peer();
    nc.send(b"before\n");
    nc.expect_welcome();
    nc.expect(&format!("{} before\n", nc.addr()));
    server.proc.type_line("quit");
    assert_eq!(server.proc.wait_exit().code(), Some(0));
    nc.expect("* the server is going away\n");
    nc.expect_nothing();
    let server = TestServer::start_on(&bind, &[]);
    let raw = server.joined_peer();
    nc.send(b"after the restart\n");
    nc.expect_welcome();
    nc.expect(&format!("{} after the restart\n", nc.addr()));
    raw.expect_chat(&format!("{} after the restart", nc.addr()));
}

// Issue 19: the new commands work for a classic client in plain text, as netcat and the
// Python client use them, against the real server.
#[test]
fn away_topic_reply_ignore_and_quit_work_in_plain_text() {
    let server = TestServer::start(&[]);
    let a = server.joined_peer();
    let b = server.joined_peer();
    a.recv(); // b joined
    a.send(b"/nick alice");
    a.recv();
    b.recv();
    b.send(b"/nick bob");
    b.recv();
    a.recv();
    b.send(b"/away lunch");
    b.expect("* you are away: lunch; a line or /back brings you back");
    a.send(b"/who");
    // How long bob has been away depends on the machine's pace: only its form is known.
    let who = a.recv_text();
    assert!(
        who.starts_with("* 2 here: alice, bob (away ") && who.ends_with(": lunch)"),
        "{who}"
    );
    a.send(b"/msg bob ping");
    b.expect("* private from alice: ping");
    a.expect("* private to bob: ping");
    a.expect("* bob is away: lunch");
    b.send(b"/r pong");
    // Whispering is being back at the keyboard.
    b.expect("* you are back");
    b.expect("* private to alice: pong");
    a.expect("* private from bob: pong");
    b.send(b"/topic the plan");
    a.expect("* bob set the topic: the plan");
    b.expect("* bob set the topic: the plan");
    a.send(b"/ignore bob");
    a.expect("* you now ignore bob: their lines and private messages are hidden");
    b.send(b"can you hear me?");
    b.expect("bob can you hear me?");
    a.expect("* hidden from you: 1 message from people you ignore (/ignore lists them)");
    b.send(b"/quit bye all");
    a.expect("* bob left (bye all)");
}
