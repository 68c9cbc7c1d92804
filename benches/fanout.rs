//! Fan-out benchmark: the real server against the floor of its own design.
//!
//! The floor is a reflector written here: one thread that receives a datagram, formats
//! `"addr text"` once and sends it to every member, with no other logic. For N receiving
//! clients, one sender keeps WINDOW messages in flight; a message is complete when all
//! N + 1 clients (the sender too) have it. Reported for both, in the same run:
//! deliveries per second, loss, and full-fan-out latency p50/p99.
//!
//! Then the idle cost: 10 000 clients heartbeating every 5 s; the server's CPU share
//! and resident memory.
//!
//! Run: `cargo bench --bench fanout`. Environment: `FANOUT_SECS=5` for longer rounds,
//! `FANOUT_SIZES=10,100` for other N (empty for none), `FANOUT_IDLE=0` to skip the idle
//! part. The table is also written to `target/fanout.csv`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_udpchat-server");
const WINDOW: usize = 8;
const SIZES: &str = "1,10,100,1000";
/// A message not complete after this long is counted as lost where it is missing.
const LOST_AFTER: Duration = Duration::from_millis(500);
const IDLE_CLIENTS: usize = 10_000;

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    deliveries_per_sec: f64,
    deliveries: u64,
    lost: u64,
    p50_us: f64,
    p99_us: f64,
}

/// The server as a child process, killed on drop.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

/// The reflector thread, stopped and joined on drop.
struct Reflector {
    addr: SocketAddr,
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
            .stdout(Stdio::null())
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
        thread::spawn(move || for _ in lines {});
        ServerProcess { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        let thread = thread::spawn(move || {
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
        Reflector {
            addr,
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
}

impl Clients {
    fn join(target: SocketAddr, n: usize) -> Clients {
        let sockets: Vec<UdpSocket> = (0..=n)
            .map(|_| {
                let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client");
                socket.set_nonblocking(true).unwrap();
                socket
            })
            .collect();
        let clients = Clients { sockets, target };
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

    fn sender(&self) -> &UdpSocket {
        &self.sockets[0]
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

    /// Keeps WINDOW messages in flight for `duration` and measures.
    fn load(&self, duration: Duration) -> Figures {
        let fan_out = self.sockets.len() as u32;
        let mut pending: HashMap<u64, (Instant, u32)> = HashMap::new();
        let mut latencies_us: Vec<f64> = Vec::new();
        let (mut next_id, mut deliveries, mut lost) = (0u64, 0u64, 0u64);
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        let mut measuring = true;
        loop {
            let elapsed = start.elapsed();
            if measuring && elapsed >= duration {
                measuring = false;
            }
            if !measuring && pending.is_empty() {
                break;
            }
            while measuring && pending.len() < WINDOW {
                let text = format!("m{next_id}");
                if self.sender().send_to(text.as_bytes(), self.target).is_err() {
                    break;
                }
                pending.insert(next_id, (Instant::now(), 0));
                next_id += 1;
            }
            for socket in &self.sockets {
                loop {
                    let len = match socket.recv_from(&mut buf) {
                        Ok((len, _)) => len,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("receive: {e}"),
                    };
                    let Some(id) = message_id(&buf[..len]) else {
                        continue;
                    };
                    deliveries += 1;
                    if let Some((sent, got)) = pending.get_mut(&id) {
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
        let elapsed = start.elapsed().as_secs_f64();
        latencies_us.sort_by(f64::total_cmp);
        Figures {
            deliveries_per_sec: deliveries as f64 / elapsed,
            deliveries,
            lost,
            p50_us: percentile(&latencies_us, 0.50),
            p99_us: percentile(&latencies_us, 0.99),
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
        let server =
            ServerProcess::start(&["--rate", "0", "--max-clients", "5000", "--timeout", "120"]);
        let on_server = Clients::join(server.addr, n).load(duration);
        drop(server);
        let reflector = Reflector::start();
        let on_reflector = Clients::join(reflector.addr, n).load(duration);
        drop(reflector);
        rows.push((n, on_server, on_reflector));
        print_row(n, &on_server, &on_reflector);
    }
    if !rows.is_empty() {
        write_csv(&rows);
    }

    if std::env::var("FANOUT_IDLE").as_deref() != Ok("0") {
        idle_cost();
    }
}

fn print_header() {
    println!(
        "{:>5} | {:>12} {:>12} {:>6} | {:>6} {:>6} | {:>15} {:>15} {:>6}",
        "N",
        "server del/s",
        "floor del/s",
        "ratio",
        "s.loss",
        "f.loss",
        "server p50/p99",
        "floor p50/p99",
        "p99 x"
    );
}

fn print_row(n: usize, server: &Figures, reflector: &Figures) {
    println!(
        "{:>5} | {:>12.0} {:>12.0} {:>6.2} | {:>6} {:>6} | {:>7.0}/{:<7.0} {:>7.0}/{:<7.0} {:>6.2}",
        n,
        server.deliveries_per_sec,
        reflector.deliveries_per_sec,
        server.deliveries_per_sec / reflector.deliveries_per_sec,
        server.lost,
        reflector.lost,
        server.p50_us,
        server.p99_us,
        reflector.p50_us,
        reflector.p99_us,
        server.p99_us / reflector.p99_us,
    );
}

fn write_csv(rows: &[(usize, Figures, Figures)]) {
    let mut csv = String::from(
        "n,server_deliveries_per_sec,floor_deliveries_per_sec,ratio,server_deliveries,\
         floor_deliveries,server_lost,floor_lost,server_p50_us,server_p99_us,floor_p50_us,\
         floor_p99_us\n",
    );
    for (n, s, f) in rows {
        let _ = writeln!(
            csv,
            "{n},{:.0},{:.0},{:.3},{},{},{},{},{:.1},{:.1},{:.1},{:.1}",
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
            f.p99_us
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
fn idle_cost() {
    let server = ServerProcess::start(&["--max-clients", "20000"]);
    let sockets: Vec<UdpSocket> = (0..IDLE_CLIENTS)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind idle client"))
        .collect();
    let interval = Duration::from_secs(5);
    let gap = interval / IDLE_CLIENTS as u32;
    let heartbeat_round = |sockets: &[UdpSocket]| {
        let start = Instant::now();
        for (i, socket) in sockets.iter().enumerate() {
            let due = start + gap * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            let _ = socket.send_to(b"@im@", server.addr);
        }
    };
    // First round joins everyone (spread over 5 s, as real clients would start).
    heartbeat_round(&sockets);
    // Let the join notices drain before measuring the steady state.
    thread::sleep(Duration::from_secs(2));
    let cpu_before = cpu_ticks(server.pid());
    let measured = Instant::now();
    for _ in 0..2 {
        heartbeat_round(&sockets);
    }
    let wall = measured.elapsed().as_secs_f64();
    let cpu_after = cpu_ticks(server.pid());
    let rss = resident_kib(server.pid());
    match (cpu_before, cpu_after, rss) {
        (Some(before), Some(after), Some(rss)) => {
            // Linux counts in USER_HZ, which is 100 on every mainstream kernel.
            let cpu_secs = (after - before) as f64 / 100.0;
            println!(
                "idle: {IDLE_CLIENTS} clients heartbeating every 5 s: server CPU {:.2} % of one \
                 core over {wall:.1} s, resident memory {:.1} MiB",
                100.0 * cpu_secs / wall,
                rss as f64 / 1024.0
            );
        }
        _ => println!("idle: cannot read /proc for the server's CPU and memory on this system"),
    }
}

fn message_id(datagram: &[u8]) -> Option<u64> {
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

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
