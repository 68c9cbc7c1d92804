//! The real server under abuse: a flood of random datagrams, and thousands of invented
//! source addresses. Afterwards it must be alive, bounded, and still a chat room.

mod common;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{
    relays_a_probe, resident_kib, Peer, Proc, StalledServer, TestServer, CLIENT, DEADLINE,
};

/// Held by the tests that load the machine, so they do not run at the same time: on
/// two cores, two floods at once measure the scheduler, not the server.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`HEAVY`], whether or not a test that held it failed.
fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One flood datagram: random bytes of any length, short valid UTF-8 with controls, or
/// the protocol's own words.
fn flood_datagram(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => (0..rng.below(65_508)).map(|_| rng.next() as u8).collect(),
        1 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        2 => {
            let alphabet = [
                "a", "é", "\x1b[2J", "\x07", "\r", "\n", "/", " ", "✓", "\u{9b}",
            ];
            let n = rng.below(100);
            (0..n)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect::<String>()
                .into_bytes()
        }
        _ => {
            let words: [&[u8]; 6] = [b"@im@", b"quit", b"", b"/nick x", b"/who", b"/msg x y"];
            words[rng.below(words.len())].to_vec()
        }
    }
}

/// Sends `text` from `peer` until both `peer` and `other` (kept joined) have received
/// it, skipping whatever else arrives: the proof that the room still relays chat. It
/// sends again because the flood may still fill the server's receive buffer, where any
/// datagram can be dropped.
fn chat_round_trip(peer: &Peer, other: &Peer, text: &str) {
    let want = format!("{} {text}", peer.addr());
    let mut got = [false, false];
    let start = Instant::now();
    let mut buf = vec![0u8; 65_536];
    for receiver in [peer, other] {
        receiver
            .socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
    }
    while got != [true, true] {
        assert!(
            start.elapsed() < DEADLINE,
            "{want:?} did not make it round: {got:?}"
        );
        other.send(b"@im@");
        peer.send(text.as_bytes());
        for (i, receiver) in [peer, other].into_iter().enumerate() {
            while start.elapsed() < DEADLINE {
                let Ok((len, _)) = receiver.socket.recv_from(&mut buf) else {
                    break;
                };
                got[i] |= &buf[..len] == want.as_bytes();
            }
        }
    }
    for receiver in [peer, other] {
        receiver.socket.set_read_timeout(Some(DEADLINE)).unwrap();
    }
}

/// Asks the console for `stats` and returns the printed line.
fn stats(server: &mut TestServer, seen: usize) -> String {
    server.proc.type_line("stats");
    let start = Instant::now();
    loop {
        let lines: Vec<String> = server
            .proc
            .stdout_lines()
            .into_iter()
            .filter(|l| l.starts_with("members "))
            .collect();
        if lines.len() > seen {
            return lines[seen].clone();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no stats\n{}",
            server.proc.report()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_flood_of_random_datagrams_leaves_the_room_working() {
    let _heavy = heavy();
    let started = Instant::now();
    let mut server = TestServer::start(&[]);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let sources: Vec<UdpSocket> = (0..50)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind a flood source"))
        .collect();
    let mut sent_bytes = 0;
    for _ in 0..2000 {
        let datagram = flood_datagram(&mut rng);
        let source = &sources[rng.below(sources.len())];
        // The kernel may refuse a send when its buffer is full; a flood does not care.
        if source.send_to(&datagram, server.addr).is_ok() {
            sent_bytes += datagram.len();
        }
    }
    assert!(
        sent_bytes > 10_000_000,
        "the flood was real: {sent_bytes} bytes"
    );
    let alice = server.peer();
    let bob = server.peer();
    chat_round_trip(&alice, &bob, "still standing?");
    chat_round_trip(&bob, &alice, "yes");
    assert!(server.proc.is_running(), "{}", server.proc.report());
    let line = stats(&mut server, 0);
    eprintln!("after the flood ({sent_bytes} bytes sent): {line}");
    // The drops are summed up in the log, not logged one by one.
    server.wait_log("dropping: ");
    let summaries = server
        .proc
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("dropping: "))
        .count();
    let allowed = 1 + started.elapsed().as_secs() as usize / 10;
    assert!(
        summaries <= allowed,
        "{summaries} summaries: at most one per 10 s\n{}",
        server.proc.report()
    );
}

#[test]
fn thousands_of_invented_addresses_fill_the_room_and_no_further() {
    let _heavy = heavy();
    const MAX_CLIENTS: usize = 200;
    let max = MAX_CLIENTS.to_string();
    let mut server = TestServer::start(&["--max-clients", &max]);
    let alice = server.joined_peer();
    let bob = server.joined_peer();
    let rss_before = resident_kib(server.proc.id());

    // 5 000 distinct source ports each say @im@; at most 500 sockets are open at once.
    let mut ports = HashSet::new();
    while ports.len() < 5000 {
        let batch: Vec<UdpSocket> = (0..500)
            .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind a spoofed source"))
            .collect();
        for socket in &batch {
            let port = socket.local_addr().expect("address").port();
            if ports.len() < 5000 && ports.insert(port) {
                socket.send_to(b"@im@", server.addr).expect("send");
            }
        }
    }
    // One more newcomer hears why it is not let in: perhaps not at once, if the flood
    // filled the memory of strangers told this second, but within a second or two.
    let late = server.peer();
    late.socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let want = format!("* room is full ({MAX_CLIENTS} clients)");
    let start = Instant::now();
    let mut buf = [0u8; 128];
    loop {
        assert!(start.elapsed() < DEADLINE, "the newcomer was never told");
        late.send(b"@im@");
        if let Ok((len, _)) = late.socket.recv_from(&mut buf) {
            assert_eq!(String::from_utf8_lossy(&buf[..len]), want);
            break;
        }
    }
    let line = stats(&mut server, 0);
    eprintln!("after 5000 joins: {line}");
    assert!(
        line.starts_with(&format!("members {MAX_CLIENTS},")),
        "{line}\n{}",
        server.proc.report()
    );
    chat_round_trip(&alice, &bob, "we are still here");
    chat_round_trip(&bob, &alice, "so we are");
    if let (Some(before), Some(after)) = (rss_before, resident_kib(server.proc.id())) {
        eprintln!("server resident memory: {before} KiB before, {after} KiB after");
        assert!(
            after < before + 4096,
            "memory grew from {before} KiB to {after} KiB"
        );
    }
}

/// Sends `n` datagrams of `payload` from `socket` to `to`, in a bounded loop; the kernel
/// may refuse some when its buffer is full, which a flood does not mind.
fn flood(socket: &UdpSocket, to: std::net::SocketAddr, payload: &[u8], n: usize) {
    for _ in 0..n {
        let _ = socket.send_to(payload, to);
    }
}

#[test]
fn an_unread_stderr_does_not_stop_the_room() {
    let _heavy = heavy();
    // At debug every chat line is logged: 5 000 of them fill a pipe no one reads. Before
    // the logger handed records to a thread of its own, the room's thread blocked in the
    // write and relayed nothing more.
    let server = StalledServer::start(&["--rate", "0"], "debug");
    let talker = Peer::new(server.addr);
    let line = "x".repeat(150);
    flood(&talker.socket, server.addr, line.as_bytes(), 5000);
    relays_a_probe(server.addr, "still relaying?");
}

#[test]
fn an_unread_stdout_does_not_stop_the_room() {
    // 1 000 answers to `stats` fill a stdout no one reads (a terminal paused with
    // Ctrl-S); the console waits, the room must not.
    let mut server = StalledServer::start(&[], "info");
    for _ in 0..1000 {
        server.type_line("stats");
    }
    relays_a_probe(server.addr, "still relaying?");
    server.type_line("say hello");
    relays_a_probe(server.addr, "and still?");
}

#[test]
fn forged_churn_does_not_control_the_logs_volume() {
    let _heavy = heavy();
    // 3 000 join/quit pairs from as many addresses: at the default level the log gets
    // a summary, not a line per join and leave (there were about 6 000).
    let server = TestServer::start_logging("127.0.0.1:0", &[], None);
    let mut sent = 0;
    while sent < 3000 {
        let batch: Vec<UdpSocket> = (0..500)
            .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind a forged source"))
            .collect();
        for socket in &batch {
            let _ = socket.send_to(b"@im@", server.addr);
            let _ = socket.send_to(b"quit", server.addr);
        }
        sent += batch.len();
    }
    relays_a_probe(server.addr, "after the churn");
    let mut server = server;
    // The log is written in order: once this line is there, everything before it is.
    server.proc.type_line("say flush");
    server.wait_log("said: flush");
    let lines = server.proc.stderr_lines();
    assert!(
        lines.len() <= 30,
        "{} log lines for 3 000 forged join/quit pairs:\n{}",
        lines.len(),
        lines.join("\n")
    );
}

#[test]
fn a_flooding_server_cannot_grow_the_clients_memory() {
    let _heavy = heavy();
    // A hostile server sends 65 000-byte datagrams while the client's output is stalled
    // (stdout unread). The client queues a bounded number, drops the rest and says so;
    // the goodbye still ends it. Unbounded, it grew to gigabytes.
    let fake = UdpSocket::bind("127.0.0.1:0").expect("bind the fake server");
    fake.set_read_timeout(Some(DEADLINE)).unwrap();
    let addr = fake.local_addr().unwrap().to_string();
    let mut client = Proc::spawn_with(CLIENT, &[&addr, "--no-reconnect"], Some("warn"), false);
    let mut buf = [0u8; 64];
    let (_, client_addr) = fake.recv_from(&mut buf).expect("the client's heartbeat");
    let payload = vec![b'x'; 65_000];
    flood(&fake, client_addr, &payload, 20_000);
    let rss = resident_kib(client.id());
    eprintln!("client resident memory after the flood: {rss:?} KiB");
    if let Some(kib) = rss {
        assert!(kib < 48 * 1024, "the client holds {kib} KiB");
    }
    client.collect_stdout();
    fake.send_to(b"", client_addr).expect("send the goodbye");
    let status = client.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", client.report());
    let stdout = client.stdout_lines();
    assert!(
        stdout.iter().any(|l| l.contains(" lines dropped here")),
        "{} lines, none saying what was dropped",
        stdout.len()
    );
}
