//! Fan-out benchmark: the real server against the floor of its own design.
//!
//! The floor is a reflector written here: one thread that receives a datagram, formats
//! `"addr text"` once and sends it to every member, with no other logic. For N receiving
//! clients, one sender keeps WINDOW messages in flight; a message is complete when all
//! N + 1 clients (the sender too) have it. Reported for the server with classic clients,
//! for the server with every client in a session (each datagram framed with its own
//! token, both ways), and for the floor, in the same run (their order rotating from one
//! N to the next): deliveries per second, loss, full-fan-out latency p50/p99, and CPU
//! time per delivery of the server process and of the reflector thread. The measuring loop's own CPU share is printed too: near 100 %, the
//! harness rather than the target sets the pace, and CPU per delivery is the figure to
//! compare.
//!
//! Then the idle cost: 10 000 clients heartbeating every 5 s, classic and then in
//! sessions; the server's CPU share and resident memory (needs `ulimit -n` above
//! 10 000).
//!
//! Then a sustained run: N = 1 000 for 12 s while every client also heartbeats, all of
//! them together every 3 s (as clients that joined at the same moment would): loss,
//! evictions of live clients (the server's `stats`), and CPU per delivery, server and
//! floor side by side.
//!
//! Run: `cargo bench --bench fanout`. Environment: `FANOUT_SECS=5` for longer rounds,
//! `FANOUT_SIZES=10,100` for other N (empty for none), `FANOUT_SUSTAIN_SECS=0` to skip
//! the sustained run (`FANOUT_SUSTAIN_N` for another N), `FANOUT_IDLE=0` to skip the
//! idle part. The table is also written to `target/fanout.csv`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use udpchat::client::inbound::Inbound;
use udpchat::proto::frame::{self, Framed, Token};

const SERVER: &str = env!("CARGO_BIN_EXE_udpchat-server");
const WINDOW: usize = 8;
const SIZES: &str = "1,10,100,1000";
/// A message not complete after this long is counted as lost where it is missing:
/// longer than a session gives a gap before it gives it up.
const LOST_AFTER: Duration = Duration::from_secs(2);
/// The share of numbered lines each session client drops on receipt in the lossy run.
const LOSS: f64 = 0.05;
/// How often the clients of the lossy run heartbeat.
const LOSSY_HEARTBEAT: Duration = Duration::from_millis(250);
const IDLE_CLIENTS: usize = 10_000;
/// How often the clients of the sustained run heartbeat, all at once.
const SUSTAIN_HEARTBEAT: Duration = Duration::from_secs(3);
/// The server's timeout in the sustained run: more than one heartbeat interval, less
/// than two.
const SUSTAIN_TIMEOUT: &str = "4";

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    deliveries_per_sec: f64,
    deliveries: u64,
    lost: u64,
    p50_us: f64,
    p99_us: f64,
    /// CPU time of the target (server process, reflector thread) per delivery.
    target_cpu_us: f64,
    /// CPU share of the thread running the load, in percent of one core.
    harness_cpu_pct: f64,
    /// Datagrams the clients sent the target: messages and heartbeats.
    sent: u64,
    /// Milliseconds from a repair request to the line it asked for: p50, max.
    repair_p50_ms: f64,
    repair_max_ms: f64,
}

/// Where a target's CPU time is read: `/proc/<pid>/stat` or `/proc/self/task/<tid>/stat`.
type CpuSource = String;

/// The server as a child process, killed on drop.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    /// Lines the server prints on its console.
    console_lines: std::sync::mpsc::Receiver<String>,
    /// The threads draining its stdout and stderr; they end when it does.
    drains: Vec<thread::JoinHandle<()>>,
}

/// The reflector thread, stopped and joined on drop.
struct Reflector {
    addr: SocketAddr,
    /// The thread's id, for its CPU time.
    tid: u32,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl ServerProcess {
    fn start(extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(SERVER)
            .args(["--bind", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn,udpchat::server=info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start udpchat-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                _ => {
                    let _ = child.kill();
                    panic!("the server exited before listening");
                }
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        let log_drain = thread::spawn(move || for _ in lines {});
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, console_lines) = std::sync::mpsc::channel();
        let console_drain = thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        ServerProcess {
            child,
            addr,
            console_lines,
            drains: vec![log_drain, console_drain],
        }
    }

    /// Types `command` on the server's console; returns the `stats` line it prints.
    fn console(&mut self, command: &str) -> Option<String> {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut()?;
        writeln!(stdin, "{command}").ok()?;
        stdin.flush().ok()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.console_lines.recv_timeout(left).ok()?;
            if line.starts_with("members ") {
                return Some(line);
            }
        }
        None
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn cpu_source(&self) -> CpuSource {
        format!("/proc/{}/stat", self.pid())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for drain in self.drains.drain(..) {
            let _ = drain.join();
        }
    }
}

impl Reflector {
    fn start() -> Reflector {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind reflector");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (tid_sender, tid_receiver) = std::sync::mpsc::channel();
        let thread = thread::spawn(move || {
            let _ = tid_sender.send(own_thread_id());
            let mut members: Vec<SocketAddr> = Vec::new();
            let mut known: HashSet<SocketAddr> = HashSet::new();
            let mut buf = vec![0u8; 65_536];
            let mut line = Vec::with_capacity(2048);
            while !flag.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if known.insert(from) {
                    members.push(from);
                }
                if &buf[..len] == b"@im@" {
                    continue;
                }
                line.clear();
                write!(LineWriter(&mut line), "{from} ").unwrap();
                line.extend_from_slice(&buf[..len]);
                for member in &members {
                    let _ = socket.send_to(&line, member);
                }
            }
        });
        let tid = tid_receiver.recv().ok().flatten().unwrap_or(0);
        Reflector {
            addr,
            tid,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `write!` into a byte vector.
struct LineWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for LineWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The N receivers plus the sender, all joined to `target`.
struct Clients {
    sockets: Vec<UdpSocket>,
    target: SocketAddr,
    /// Each client's session token, when they joined in sessions.
    tokens: Option<Vec<Token>>,
    /// Sessions that lose some of what they receive and repair it as our client does.
    lossy: Option<Lossy>,
}

/// Loss on receipt, and each session's repair state.
struct Lossy {
    /// When each missing number was first asked for, by client.
    asked: HashMap<(usize, u64), Instant>,
    /// Milliseconds from a number's first request to its arrival.
    delays: Vec<f64>,
    share: f64,
    random: u64,
    /// Each client's, from the first line it receives in the run.
    inbound: Vec<Option<Inbound>>,
}

impl Clients {
    fn join(target: SocketAddr, n: usize) -> Clients {
        let sockets = client_sockets(n + 1);
        let clients = Clients {
            sockets,
            target,
            tokens: None,
            lossy: None,
        };
        // Join, then confirm with a message everyone must receive; retry the stragglers.
        for attempt in 0..10 {
            for socket in &clients.sockets {
                let _ = socket.send_to(b"@im@", target);
            }
            thread::sleep(Duration::from_millis(50 * (attempt + 1)));
            let probe = format!("probe{attempt}");
            clients.sender().send_to(probe.as_bytes(), target).unwrap();
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut got = vec![false; clients.sockets.len()];
            let mut buf = [0u8; 2048];
            while Instant::now() < deadline && got.iter().any(|g| !g) {
                for (i, socket) in clients.sockets.iter().enumerate() {
                    while let Ok((len, _)) = socket.recv_from(&mut buf) {
                        if buf[..len].ends_with(probe.as_bytes()) {
                            got[i] = true;
                        }
                    }
                }
            }
            if got.iter().all(|g| *g) {
                clients.drain(Duration::from_millis(100));
                return clients;
            }
        }
        panic!("{} clients could not all join {target}", n + 1);
    }

    /// N receivers plus the sender, each in a session with `target` (our server):
    /// hello, cookie, echo with its own token, welcome.
    fn open_sessions(target: SocketAddr, n: usize) -> Clients {
        let sockets = client_sockets(n + 1);
        let tokens: Vec<Token> = (0..sockets.len())
            .map(|i| Token((0x5e55_0000_0000_0000u64 + i as u64).to_le_bytes()))
            .collect();
        let mut open = vec![false; sockets.len()];
        let mut buf = [0u8; 2048];
        for attempt in 0..10 {
            for (i, socket) in sockets.iter().enumerate() {
                if !open[i] {
                    let _ = socket.send_to(frame::HELLO, target);
                }
            }
            let deadline = Instant::now() + Duration::from_millis(200 * (attempt + 1));
            while Instant::now() < deadline && open.iter().any(|o| !o) {
                for (i, socket) in sockets.iter().enumerate() {
                    while let Ok((len, _)) = socket.recv_from(&mut buf) {
                        match frame::read(&buf[..len]) {
                            Framed::Cookie(cookie) if !open[i] => {
                                let mut echo = Vec::new();
                                frame::write_echo(&mut echo, cookie, tokens[i]);
                                let _ = socket.send_to(&echo, target);
                            }
                            Framed::Line { token, .. } if token == tokens[i] => open[i] = true,
                            _ => {}
                        }
                    }
                }
            }
            if open.iter().all(|o| *o) {
                let clients = Clients {
                    sockets,
                    target,
                    tokens: Some(tokens),
                    lossy: None,
                };
                clients.drain(Duration::from_millis(200));
                return clients;
            }
        }
        panic!(
            "{} clients could not all open sessions with {target}",
            n + 1
        );
    }

    fn sender(&self) -> &UdpSocket {
        &self.sockets[0]
    }

    /// Sends `body` from client `i`, in its session's frame if it has one.
    fn send(&self, i: usize, body: &[u8]) -> std::io::Result<usize> {
        match &self.tokens {
            Some(tokens) => self.sockets[i].send_to(&frame::session(tokens[i], body), self.target),
            None => self.sockets[i].send_to(body, self.target),
        }
    }

    fn drain(&self, quiet: Duration) {
        let mut buf = [0u8; 2048];
        let mut last = Instant::now();
        while last.elapsed() < quiet {
            for socket in &self.sockets {
                while socket.recv_from(&mut buf).is_ok() {
                    last = Instant::now();
                }
            }
        }
    }

    /// Keeps WINDOW messages in flight for `duration` and measures; `cpu` is where the
    /// target's CPU time is read. With `heartbeat_every`, every client also sends `@im@`,
    /// all in one burst, that often.
    /// These sessions lose `share` of the numbered lines they receive, at random, and
    /// repair them as our client does.
    fn losing(mut self, share: f64) -> Clients {
        self.lossy = Some(Lossy {
            asked: HashMap::new(),
            delays: Vec::new(),
            share,
            random: 0x1057_5eed,
            inbound: (0..self.sockets.len()).map(|_| None).collect(),
        });
        self
    }

    fn load(
        &mut self,
        duration: Duration,
        cpu: &CpuSource,
        heartbeat_every: Option<Duration>,
    ) -> Figures {
        let fan_out = self.sockets.len() as u32;
        let mut pending: HashMap<u64, (Instant, u32)> = HashMap::new();
        let mut latencies_us: Vec<f64> = Vec::new();
        let (mut next_id, mut deliveries, mut lost) = (0u64, 0u64, 0u64);
        let mut buf = [0u8; 2048];
        let target_before = cpu_ticks(cpu);
        let harness_before = cpu_ticks("/proc/thread-self/stat");
        let start = Instant::now();
        let mut next_heartbeat = heartbeat_every.map(|every| start + every);
        let mut heartbeats = 0u64;
        // Taken when the sending window closes: deliveries after it (the drain) are
        // not counted in the rate.
        let mut at_close: Option<(u64, Option<u64>, Option<u64>)> = None;
        loop {
            if at_close.is_none() && start.elapsed() >= duration {
                at_close = Some((
                    deliveries,
                    cpu_ticks(cpu),
                    cpu_ticks("/proc/thread-self/stat"),
                ));
            }
            if at_close.is_some() && pending.is_empty() {
                break;
            }
            if let (Some(due), Some(every)) = (next_heartbeat, heartbeat_every) {
                if at_close.is_none() && Instant::now() >= due {
                    for i in 0..self.sockets.len() {
                        if self.send(i, b"@im@").is_ok() {
                            heartbeats += 1;
                        }
                    }
                    next_heartbeat = Some(due + every);
                }
            }
            while at_close.is_none() && pending.len() < WINDOW {
                let text = format!("m{next_id}");
                if self.send(0, text.as_bytes()).is_err() {
                    break;
                }
                pending.insert(next_id, (Instant::now(), 0));
                next_id += 1;
            }
            let mut arrived: Vec<Vec<u8>> = Vec::new();
            for (i, socket) in self.sockets.iter().enumerate() {
                loop {
                    let len = match socket.recv_from(&mut buf) {
                        Ok((len, _)) => len,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("receive: {e}"),
                    };
                    match self.lossy.as_mut() {
                        None => arrived.push(buf[..len].to_vec()),
                        Some(lossy) => lossy.receive(i, &buf[..len], &mut arrived),
                    }
                }
                if let (Some(lossy), Some(tokens)) = (self.lossy.as_mut(), &self.tokens) {
                    lossy.repair(i, socket, tokens[i], self.target, &mut arrived);
                }
                // Only copies of messages still awaited count: a straggler of one
                // already counted lost is not also a delivery.
                for datagram in arrived.drain(..) {
                    let Some(id) = message_id(&datagram) else {
                        continue;
                    };
                    if let Some((sent, got)) = pending.get_mut(&id) {
                        deliveries += 1;
                        *got += 1;
                        if *got == fan_out {
                            latencies_us.push(sent.elapsed().as_secs_f64() * 1e6);
                            pending.remove(&id);
                        }
                    }
                }
            }
            pending.retain(|_, (sent, got)| {
                let stale = sent.elapsed() > LOST_AFTER;
                if stale {
                    lost += u64::from(fan_out - *got);
                }
                !stale
            });
        }
        let mut repair_ms = Vec::new();
        if let Some(lossy) = &mut self.lossy {
            repair_ms = std::mem::take(&mut lossy.delays);
            repair_ms.sort_by(f64::total_cmp);
        }
        let (counted, target_after, harness_after) =
            at_close.expect("the window closed before the loop ended");
        let secs = duration.as_secs_f64();
        latencies_us.sort_by(f64::total_cmp);
        let ticks_to_us = |before: Option<u64>, after: Option<u64>| match (before, after) {
            // Linux counts in USER_HZ, which is 100 on every mainstream kernel.
            (Some(b), Some(a)) => (a - b) as f64 * 10_000.0,
            _ => f64::NAN,
        };
        Figures {
            deliveries_per_sec: counted as f64 / secs,
            deliveries: counted,
            lost,
            p50_us: percentile(&latencies_us, 0.50),
            p99_us: percentile(&latencies_us, 0.99),
            target_cpu_us: ticks_to_us(target_before, target_after) / counted.max(1) as f64,
            harness_cpu_pct: ticks_to_us(harness_before, harness_after) / (secs * 1e6) * 100.0,
            sent: next_id + heartbeats,
            repair_p50_ms: percentile(&repair_ms, 0.5),
            repair_max_ms: repair_ms.last().copied().unwrap_or(f64::NAN),
        }
    }
}

fn main() {
    let secs: f64 = std::env::var("FANOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let duration = Duration::from_secs_f64(secs);
    println!("fan-out: window {WINDOW}, {secs} s per run, clients = N receivers + 1 sender");
    let sizes: Vec<usize> = std::env::var("FANOUT_SIZES")
        .unwrap_or_else(|_| SIZES.to_string())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let mut rows = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        if i == 0 {
            print_header();
        }
        let server_args = ["--rate", "0", "--max-clients", "5000", "--timeout", "120"];
        let run = |target: usize| match target {
            0 => {
                let server = ServerProcess::start(&server_args);
                Clients::join(server.addr, n).load(duration, &server.cpu_source(), None)
            }
            1 => {
                let server = ServerProcess::start(&server_args);
                Clients::open_sessions(server.addr, n).load(duration, &server.cpu_source(), None)
            }
            _ => {
                let reflector = Reflector::start();
                let cpu = format!("/proc/self/task/{}/stat", reflector.tid);
                Clients::join(reflector.addr, n).load(duration, &cpu, None)
            }
        };
        // Rotate which goes first, so none always gets the warmer machine.
        let mut figures = [None; 3];
        for k in 0..3 {
            let target = (i + k) % 3;
            figures[target] = Some(run(target));
        }
        let [Some(on_server), Some(on_sessions), Some(on_reflector)] = figures else {
            unreachable!("every target ran");
        };
        rows.push((n, on_server, on_sessions, on_reflector));
        print_row(n, &on_server, &on_sessions, &on_reflector);
    }
    if !rows.is_empty() {
        write_csv(&rows);
    }

    let sustain_secs: f64 = std::env::var("FANOUT_SUSTAIN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12.0);
    if sustain_secs > 0.0 {
        let n = std::env::var("FANOUT_SUSTAIN_N")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000);
        sustained(n, Duration::from_secs_f64(sustain_secs));
    }

    if std::env::var("FANOUT_LOSSY").as_deref() != Ok("0") {
        lossy_sessions(duration);
    }

    if std::env::var("FANOUT_IDLE").as_deref() != Ok("0") {
        idle_cost(false);
        idle_cost(true);
    }
}

/// Sessions at N = 100 and 1 000, each dropping [`LOSS`] of the lines it receives and
/// repairing them as our client does: the time until every member has a message, p50
/// and p99, beside the same run without loss.
fn lossy_sessions(duration: Duration) {
    println!(
        "\nsessions losing {:.0} % of what they receive, repairing as our client does \
         (heartbeats every {:?}):",
        LOSS * 100.0,
        LOSSY_HEARTBEAT
    );
    println!(
        "    N |   loss | complete p50/p99 µs | given up | cpu µs per dl | repaired in p50/max ms"
    );
    for n in [100, 1000] {
        for share in [0.0, LOSS] {
            let server =
                ServerProcess::start(&["--rate", "0", "--max-clients", "5000", "--timeout", "120"]);
            // Heartbeats, whose answers name the latest number, find a lost last line:
            // with 8 messages in flight and no more sent until one is complete, every
            // message is the last for a while.
            let f = Clients::open_sessions(server.addr, n).losing(share).load(
                duration,
                &server.cpu_source(),
                Some(LOSSY_HEARTBEAT),
            );
            println!(
                "{n:>5} | {:>5.1}% | {:>8.0}/{:<10.0} | {:>8} | {:>13.2} | {:>6.2}/{:<6.2}",
                share * 100.0,
                f.p50_us,
                f.p99_us,
                f.lost,
                f.target_cpu_us,
                f.repair_p50_ms,
                f.repair_max_ms
            );
        }
    }
}

/// N clients for `duration`, heartbeating together every [`SUSTAIN_HEARTBEAT`] while one
/// keeps WINDOW messages in flight: server and floor side by side. The server's timeout
/// is [`SUSTAIN_TIMEOUT`]: a client that loses a single heartbeat is evicted, so
/// "evicted live" counts every member whose heartbeat was lost.
fn sustained(n: usize, duration: Duration) {
    println!(
        "\nsustained: N = {n}, {:.0} s, every client heartbeating together every {:?}, \
         server timeout {SUSTAIN_TIMEOUT} s",
        duration.as_secs_f64(),
        SUSTAIN_HEARTBEAT
    );
    let run_server = || {
        let mut server = ServerProcess::start(&[
            "--rate",
            "0",
            "--max-clients",
            "20000",
            "--timeout",
            SUSTAIN_TIMEOUT,
        ]);
        let mut clients = Clients::join(server.addr, n);
        let before = server.console("stats").unwrap_or_default();
        let figures = clients.load(duration, &server.cpu_source(), Some(SUSTAIN_HEARTBEAT));
        let after = server.console("stats").unwrap_or_default();
        (figures, before, after)
    };
    let run_floor = || {
        let reflector = Reflector::start();
        let cpu = format!("/proc/self/task/{}/stat", reflector.tid);
        Clients::join(reflector.addr, n).load(duration, &cpu, Some(SUSTAIN_HEARTBEAT))
    };
    // The floor first: the table above ran the server first at N = 1 000.
    let on_floor = run_floor();
    let (on_server, before, after) = run_server();
    let delta = |name: &str| match (stat(&after, name), stat(&before, name)) {
        (Some(a), Some(b)) => format!("{}", a - b),
        _ => "?".to_string(),
    };
    println!(
        "           | deliveries/s |  loss (of deliveries) | evicted live | cpu µs per dl | harness"
    );
    for (name, f, evicted) in [
        ("server", &on_server, delta("timed out")),
        ("floor", &on_floor, "-".to_string()),
    ] {
        let counted = f.deliveries + f.lost;
        println!(
            "    {name:>6} | {:>12.0} | {:>7} ({:>6.3} %)    | {:>12} | {:>13.2} | {:>3.0}%",
            f.deliveries_per_sec,
            f.lost,
            f.lost as f64 / counted.max(1) as f64 * 100.0,
            evicted,
            f.target_cpu_us,
            f.harness_cpu_pct
        );
    }
    println!(
        "    server: received {} of the {} datagrams the clients sent; sent {} for {} \
         broadcasts; drained while busy {}, queue drops {}, queued at most {} bytes",
        delta("received"),
        on_server.sent,
        delta("deliveries"),
        delta("broadcast"),
        delta("drained while busy"),
        delta("queue drops"),
        stat(&after, "queued at most").map_or("?".to_string(), |b| b.to_string())
    );
}

/// The number after `name ` in a `stats` line.
fn stat(line: &str, name: &str) -> Option<u64> {
    line.split(", ").find_map(|part| {
        part.strip_prefix(name)?
            .trim()
            .split(' ')
            .next()?
            .parse()
            .ok()
    })
}

fn print_header() {
    println!(
        "{:>5} | {:>9} {:>9} {:>9} | {:>3} {:>3} {:>3} | {:>11} {:>11} {:>11} | {:>6} {:>6} {:>6} {:>6} | {:>11}",
        "N",
        "server/s",
        "session/s",
        "floor/s",
        "",
        "loss",
        "",
        "server",
        "session",
        "floor",
        "",
        "cpu µs",
        "per dl",
        "",
        "harness cpu"
    );
    println!(
        "{:>5} | {:>9} {:>9} {:>9} | {:>3} {:>3} {:>3} | {:>11} {:>11} {:>11} | {:>6} {:>6} {:>6} {:>6} | {:>11}",
        "",
        "deliveries",
        "",
        "",
        "srv",
        "ses",
        "flr",
        "p50/p99 µs",
        "p50/p99 µs",
        "p50/p99 µs",
        "server",
        "sessn",
        "floor",
        "ses/sv",
        "srv/ses/flr"
    );
}

fn print_row(n: usize, server: &Figures, sessions: &Figures, reflector: &Figures) {
    println!(
        "{:>5} | {:>9.0} {:>9.0} {:>9.0} | {:>3} {:>3} {:>3} | {:>5.0}/{:<5.0} {:>5.0}/{:<5.0} {:>5.0}/{:<5.0} | {:>6.2} {:>6.2} {:>6.2} {:>6.3} | {:>3.0}/{:>3.0}/{:>3.0}%",
        n,
        server.deliveries_per_sec,
        sessions.deliveries_per_sec,
        reflector.deliveries_per_sec,
        server.lost,
        sessions.lost,
        reflector.lost,
        server.p50_us,
        server.p99_us,
        sessions.p50_us,
        sessions.p99_us,
        reflector.p50_us,
        reflector.p99_us,
        server.target_cpu_us,
        sessions.target_cpu_us,
        reflector.target_cpu_us,
        sessions.target_cpu_us / server.target_cpu_us,
        server.harness_cpu_pct,
        sessions.harness_cpu_pct,
        reflector.harness_cpu_pct,
    );
}

fn write_csv(rows: &[(usize, Figures, Figures, Figures)]) {
    let mut csv = String::from(
        "n,server_deliveries_per_sec,floor_deliveries_per_sec,ratio,server_deliveries,\
         floor_deliveries,server_lost,floor_lost,server_p50_us,server_p99_us,floor_p50_us,\
         floor_p99_us,server_cpu_us_per_delivery,floor_cpu_us_per_delivery,\
         harness_cpu_pct_server_run,harness_cpu_pct_floor_run,session_deliveries_per_sec,\
         session_lost,session_p50_us,session_p99_us,session_cpu_us_per_delivery\n",
    );
    for (n, s, ses, f) in rows {
        let _ = writeln!(
            csv,
            "{n},{:.0},{:.0},{:.3},{},{},{},{},{:.1},{:.1},{:.1},{:.1},{:.3},{:.3},{:.0},{:.0},\
             {:.0},{},{:.1},{:.1},{:.3}",
            s.deliveries_per_sec,
            f.deliveries_per_sec,
            s.deliveries_per_sec / f.deliveries_per_sec,
            s.deliveries,
            f.deliveries,
            s.lost,
            f.lost,
            s.p50_us,
            s.p99_us,
            f.p50_us,
            f.p99_us,
            s.target_cpu_us,
            f.target_cpu_us,
            s.harness_cpu_pct,
            f.harness_cpu_pct,
            ses.deliveries_per_sec,
            ses.lost,
            ses.p50_us,
            ses.p99_us,
            ses.target_cpu_us
        );
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target directory")
        .to_path_buf();
    let path = dir.join("fanout.csv");
    match std::fs::write(&path, csv) {
        Ok(()) => println!("written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

/// 10 000 joined clients heartbeating every 5 s: the server's CPU share and memory.
/// With `sessions`, each opens a session first and heartbeats in it (each heartbeat is
/// answered).
fn idle_cost(sessions: bool) {
    let mut server = ServerProcess::start(&["--max-clients", "20000"]);
    let kind = if sessions { "sessions" } else { "clients" };
    let sockets: Vec<UdpSocket> = match (0..IDLE_CLIENTS)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect()
    {
        Ok(sockets) => sockets,
        Err(e) => {
            println!(
                "idle: skipped, cannot open {IDLE_CLIENTS} sockets ({e}); \
                 raise the limit with `ulimit -n 20000`"
            );
            return;
        }
    };
    let tokens: Vec<Token> = (0..IDLE_CLIENTS)
        .map(|i| Token((0x1d1e_0000_0000_0000u64 + i as u64).to_le_bytes()))
        .collect();
    let heartbeats: Vec<Vec<u8>> = tokens
        .iter()
        .map(|&token| {
            if sessions {
                frame::session(token, b"@im@")
            } else {
                b"@im@".to_vec()
            }
        })
        .collect();
    if sessions {
        let mut buf = [0u8; 2048];
        for (socket, &token) in sockets.iter().zip(&tokens) {
            let _ = socket.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = socket.send_to(frame::HELLO, server.addr);
            if let Ok((len, _)) = socket.recv_from(&mut buf) {
                if let Framed::Cookie(cookie) = frame::read(&buf[..len]) {
                    let mut echo = Vec::new();
                    frame::write_echo(&mut echo, cookie, token);
                    let _ = socket.send_to(&echo, server.addr);
                }
            }
        }
    }
    let interval = Duration::from_secs(5);
    let gap = interval / IDLE_CLIENTS as u32;
    let heartbeat_round = |sockets: &[UdpSocket]| {
        let start = Instant::now();
        for (i, socket) in sockets.iter().enumerate() {
            let due = start + gap * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            let _ = socket.send_to(&heartbeats[i], server.addr);
        }
    };
    // First round joins everyone (spread over 5 s, as real clients would start).
    heartbeat_round(&sockets);
    // Let the join notices drain before measuring the steady state.
    thread::sleep(Duration::from_secs(2));
    let cpu_before = cpu_ticks(&server.cpu_source());
    let measured = Instant::now();
    for _ in 0..2 {
        heartbeat_round(&sockets);
    }
    let wall = measured.elapsed().as_secs_f64();
    let cpu_after = cpu_ticks(&server.cpu_source());
    let rss = resident_kib(server.pid());
    match server.console("stats") {
        Some(stats) => println!("idle ({kind}): server says {stats}"),
        None => println!("idle: the server did not answer `stats`"),
    }
    match (cpu_before, cpu_after, rss) {
        (Some(before), Some(after), Some(rss)) => {
            // Linux counts in USER_HZ, which is 100 on every mainstream kernel.
            let cpu_secs = (after - before) as f64 / 100.0;
            println!(
                "idle: {IDLE_CLIENTS} {kind} heartbeating every 5 s: server CPU {:.2} % of one \
                 core over {wall:.1} s, resident memory {:.1} MiB",
                100.0 * cpu_secs / wall,
                rss as f64 / 1024.0
            );
        }
        _ => println!("idle: cannot read /proc for the server's CPU and memory on this system"),
    }
}

impl Lossy {
    /// A datagram for client `i`: a numbered line is dropped at random, or put in
    /// order; the lines now in order go to `arrived`.
    fn receive(&mut self, i: usize, datagram: &[u8], arrived: &mut Vec<Vec<u8>>) {
        let now = Instant::now();
        match frame::read(datagram) {
            Framed::Line { seq, line, .. } => {
                if let Some(at) = self.asked.remove(&(i, seq)) {
                    self.delays.push(at.elapsed().as_secs_f64() * 1e3);
                }
                self.random ^= self.random << 13;
                self.random ^= self.random >> 7;
                self.random ^= self.random << 17;
                if ((self.random >> 11) as f64 / (1u64 << 53) as f64) < self.share {
                    return;
                }
                let inbound = self.inbound[i].get_or_insert_with(|| Inbound::starting_at(seq));
                for (line, _) in inbound.line(seq, line, false, now) {
                    arrived.push(line);
                }
            }
            Framed::Answer { latest, .. } => {
                if let Some(inbound) = self.inbound[i].as_mut() {
                    inbound.latest(latest, now);
                }
            }
            Framed::Lost { upto, .. } => {
                if let Some(inbound) = self.inbound[i].as_mut() {
                    arrived.extend(inbound.lost(upto, now).into_iter().map(|(line, _)| line));
                }
            }
            _ => {}
        }
    }

    /// Asks for what client `i` misses, and takes what it gave up on.
    fn repair(
        &mut self,
        i: usize,
        socket: &UdpSocket,
        token: Token,
        target: SocketAddr,
        arrived: &mut Vec<Vec<u8>>,
    ) {
        let now = Instant::now();
        let Some(inbound) = self.inbound[i].as_mut() else {
            return;
        };
        if inbound.next_deadline().is_none_or(|due| now < due) {
            return;
        }
        let due = inbound.due(now);
        if let Some((from, to)) = due.ask {
            for k in from..=to {
                self.asked.entry((i, k)).or_insert(now);
            }
            let mut repair = Vec::new();
            frame::write_repair(&mut repair, token, from, to);
            let _ = socket.send_to(&repair, target);
        }
        arrived.extend(due.lines.into_iter().map(|(line, _)| line));
    }
}

/// `count` non-blocking loopback sockets.
fn client_sockets(count: usize) -> Vec<UdpSocket> {
    (0..count)
        .map(|_| {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client");
            socket.set_nonblocking(true).unwrap();
            socket
        })
        .collect()
}

fn message_id(datagram: &[u8]) -> Option<u64> {
    let datagram = match frame::read(datagram) {
        Framed::Session { body, .. } | Framed::Line { line: body, .. } => body,
        _ => datagram,
    };
    let text = std::str::from_utf8(datagram).ok()?;
    text.rsplit(' ').next()?.strip_prefix('m')?.parse().ok()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

/// User plus system CPU time, in USER_HZ ticks, from a `/proc/.../stat` file.
fn cpu_ticks(stat_path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The calling thread's id, from `/proc/thread-self/stat`.
fn own_thread_id() -> Option<u32> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
