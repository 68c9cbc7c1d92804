//! Abuse benchmark: the figures README's "Limits and security" quotes, measured again
//! against the real server (release build) on loopback.
//!
//! 1. **Forged heartbeats.** Three members chat (each a line every 100 ms, in sessions,
//!    as our client would); a victim on 127.0.0.2 reads but never answers, and a forger
//!    sends `@im@` from its address every second to a server with `--timeout 2` (the
//!    attack of a forged heartbeat every 5 s against the default 10 s, five times
//!    faster: the victim gets a fifth of the room's traffic per heartbeat, and under
//!    `--verify` its code, at most every 5 s, is paid for by fewer heartbeats).
//!    Figure: bytes the victim received / bytes forged, without and with `--verify`.
//! 2. **Forged joins.** 200 forged sources (sockets on 127.0.0.2–20) each send one
//!    `@im@` while three members chat; bytes all of them received / bytes forged, and how
//!    many members the server has at the end (its console's `stats`).
//! 3. **A mixed forged flood** under `--verify`: from 18 addresses, 200 datagrams a
//!    second each of heartbeats, chat, `/who`, `/nick x`, `/msg a b`, `/join` guesses,
//!    broken frames and junk, while three members chat; bytes received / bytes sent.
//! 4. **A hostile frame flood**: 50 000 datagrams (truncated frames, session frames
//!    with random tokens, echoes of random cookies, 65 507-byte frames) as fast as one
//!    thread sends them; the server's resident memory before and after (and its peak),
//!    the echo time of a member saying a line every 20 ms meanwhile, and datagrams sent
//!    per second.
//! 5. **One host saturating the room**: 600 members on 127.0.0.2 (classic, each its
//!    own socket) each say a line every 250 ms, within the default rate limit, which
//!    asks for more fan-out than the server can give; an honest member in a session on
//!    127.0.0.3 says a line every 250 ms and times its own echo: p50/p99/max and lines
//!    lost, and the lines a second the server fanned out. This figure runs with the
//!    default rate.
//!
//! Figures 1 to 4 run the server with `--rate 0`, so the room's traffic is what its
//! members say.
//!
//! Run: `cargo bench --bench abuse` (about 30 s). Environment: `ABUSE_SECS=3` how long
//! figures 2 and 3 chat (figure 1 forges for twice as long); `ABUSE_FORGE_SECS=1` how
//! often figure 1 forges a heartbeat (the server's timeout is twice that:
//! `ABUSE_FORGE_SECS=5 ABUSE_SECS=15 ABUSE_FIGURES=1` is the attack at full length);
//! `ABUSE_FLOOD=50000` datagrams in figure 4; `ABUSE_FIGURES=1,2,3,4,5` which figures
//! to run (figure 5 lasts twice `ABUSE_SECS`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use udpchat::proto::frame::{self, Framed, Token};

const SERVER: &str = env!("CARGO_BIN_EXE_udpchat-server");
/// Real members in every room.
const MEMBERS: usize = 3;
/// How often each member says a line.
const CHAT_EVERY: Duration = Duration::from_millis(100);
/// Forged sources in figure 2.
const FORGED_JOINS: usize = 200;
/// Addresses the forged flood of figure 3 comes from (127.0.0.2 onwards).
const MIXED_ADDRESSES: usize = 18;
/// Datagrams a second from each address in figure 3.
const MIXED_PER_SEC: f64 = 200.0;
/// How often the member of figure 4 says a line and times its echo.
const ECHO_EVERY: Duration = Duration::from_millis(20);
/// Members of the saturating host in figure 5.
const SATURATING_MEMBERS: usize = 600;
/// How often each of them, and the honest member, says a line: 4 a second, under the
/// default limit of 5.
const SATURATING_EVERY: Duration = Duration::from_millis(250);
/// An echo not back this long after the flood ends is counted lost.
const ECHO_GIVE_UP: Duration = Duration::from_secs(1);
/// The largest UDP payload over IPv4.
const BIG_FRAME: usize = 65_507;
/// Sockets the hostile flood is sent from.
const FLOOD_SOURCES: usize = 8;
/// How long datagrams still in flight are read after an attack ends.
const SETTLE: Duration = Duration::from_millis(300);
/// How long any wait for the server (start-up, a session, `stats`) lasts before the
/// bench gives up with a message.
const DEADLINE: Duration = Duration::from_secs(10);

/// What the environment asks for.
struct Knobs {
    /// How long figures 2 and 3 run; figure 1 twice as long.
    secs: f64,
    /// How often the forger of figure 1 sends a heartbeat from the victim's address;
    /// the server's timeout is twice that.
    forge_secs: f64,
    /// Datagrams in the hostile flood.
    flood: usize,
    /// Which figures to run, 1 to 4.
    figures: Vec<u8>,
}

/// The server as a child process, killed on drop.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    /// Lines the server prints on its console.
    console_lines: mpsc::Receiver<String>,
    /// Lines of its log.
    log_lines: mpsc::Receiver<String>,
    /// The threads draining its stdout and stderr; they end when it does.
    drains: Vec<thread::JoinHandle<()>>,
}

/// Three members in sessions, saying a line each every [`CHAT_EVERY`].
struct Room {
    server: SocketAddr,
    sockets: Vec<UdpSocket>,
    tokens: Vec<Token>,
    /// When each member says its next line; `None` while the room is quiet.
    next_line: Vec<Option<Instant>>,
    lines_said: u64,
    /// Bytes of the chat lines said (the text, as a classic member would be sent it
    /// without the sender's address).
    text_bytes: u64,
    buf: Vec<u8>,
}

/// Bytes (and datagrams) some sockets sent the server, and received from it.
#[derive(Debug, Default, Clone, Copy)]
struct Amplification {
    sent_bytes: u64,
    sent_datagrams: u64,
    received_bytes: u64,
    received_datagrams: u64,
    /// Received datagrams that tell a join code.
    received_codes: u64,
}

/// What figure 2 measured, in one mode.
struct Joins {
    traffic: Amplification,
    /// Members at the end, from `stats`.
    members: Option<u64>,
    /// Lines the room said meanwhile.
    lines_said: u64,
}

/// What figure 3 measured.
struct Mixed {
    traffic: Amplification,
    seconds: f64,
    stats: String,
}

/// What figure 4 measured.
struct Flood {
    sent: u64,
    refused: u64,
    sent_bytes: u64,
    datagrams_per_sec: f64,
    seconds: f64,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    rss_peak_kib: Option<u64>,
    echo_p50_ms: f64,
    echo_max_ms: f64,
    echoes: usize,
    echoes_lost: usize,
    stats: String,
}

/// A small deterministic generator (xorshift64*), so a run can be replayed.
struct Rng(u64);

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
            .unwrap_or_else(|e| panic!("cannot start {SERVER}: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let stdout = child.stdout.take().expect("piped stdout");
        let (log_sender, log_lines) = mpsc::channel();
        let (console_sender, console_lines) = mpsc::channel();
        let drains = vec![
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _ = log_sender.send(line);
                }
            }),
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = console_sender.send(line);
                }
            }),
        ];
        // Built before the wait, so a server that never listens is killed on the panic.
        let mut server = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            console_lines,
            log_lines,
            drains,
        };
        let deadline = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        server.addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match server.log_lines.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => panic!(
                    "{SERVER} {extra:?} did not say where it listens within {DEADLINE:?}; \
                     its log:\n{}",
                    seen.join("\n")
                ),
            };
            let addr = line
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|addr| addr.parse().ok());
            match addr {
                Some(addr) => break addr,
                None => seen.push(line),
            }
        };
        server
    }

    /// Types `stats` on the server's console and returns the line it prints.
    fn stats(&mut self) -> Option<String> {
        let stdin = self.child.stdin.as_mut()?;
        writeln!(stdin, "stats").ok()?;
        stdin.flush().ok()?;
        let deadline = Instant::now() + DEADLINE;
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

impl Room {
    /// Three members, each in a session with `server` (hello, cookie, echo), which
    /// works with and without `--verify`. Quiet until [`Room::start_chatting`].
    fn open(server: SocketAddr) -> Room {
        let mut sockets = Vec::new();
        let mut tokens = Vec::new();
        for i in 0..MEMBERS {
            let socket = bind("127.0.0.1:0");
            let token = Token((0xab05_e000_0000_0000u64 + i as u64).to_le_bytes());
            if let Err(e) = open_session(&socket, server, token) {
                panic!("member {i} could not open a session with {server}: {e}");
            }
            socket
                .set_nonblocking(true)
                .unwrap_or_else(|e| panic!("cannot make a socket non-blocking: {e}"));
            sockets.push(socket);
            tokens.push(token);
        }
        Room {
            server,
            sockets,
            tokens,
            next_line: vec![None; MEMBERS],
            lines_said: 0,
            text_bytes: 0,
            buf: vec![0; 65_536],
        }
    }

    /// Members start saying lines from `now`, spread over one interval.
    fn start_chatting(&mut self, now: Instant) {
        for (i, next) in self.next_line.iter_mut().enumerate() {
            *next = Some(now + CHAT_EVERY * i as u32 / MEMBERS as u32);
        }
    }

    fn stop_chatting(&mut self) {
        self.next_line.fill(None);
    }

    /// Says the lines that are due and reads (and drops) what the members were sent.
    /// Returns whether it did anything.
    fn tick(&mut self, now: Instant) -> bool {
        let mut busy = false;
        for i in 0..MEMBERS {
            if let Some(next) = self.next_line[i].filter(|&next| now >= next) {
                let text = format!("line {}, nothing to see here", self.lines_said);
                let datagram = frame::session(self.tokens[i], text.as_bytes());
                if self.sockets[i].send_to(&datagram, self.server).is_ok() {
                    self.lines_said += 1;
                    self.text_bytes += text.len() as u64;
                }
                self.next_line[i] = Some(next + CHAT_EVERY);
                busy = true;
            }
            while self.sockets[i].recv_from(&mut self.buf).is_ok() {
                busy = true;
            }
        }
        busy
    }

    /// The mean length of a chat line, in bytes of text.
    fn mean_text_bytes(&self) -> f64 {
        self.text_bytes as f64 / self.lines_said.max(1) as f64
    }
}

impl Amplification {
    fn sent(&mut self, bytes: usize) {
        self.sent_bytes += bytes as u64;
        self.sent_datagrams += 1;
    }

    /// Reads everything waiting on `socket` from `server`, without blocking, and counts
    /// it. Returns whether anything came.
    fn receive(&mut self, socket: &UdpSocket, server: SocketAddr, buf: &mut [u8]) -> bool {
        let mut any = false;
        while let Ok((len, from)) = socket.recv_from(buf) {
            if from == server {
                self.received_bytes += len as u64;
                self.received_datagrams += 1;
                if buf[..len].starts_with(b"* to join, type /join ")
                    || buf[..len].starts_with(b"/join ")
                {
                    self.received_codes += 1;
                }
                any = true;
            }
        }
        any
    }

    /// Received bytes per byte sent.
    fn factor(&self) -> f64 {
        self.received_bytes as f64 / self.sent_bytes.max(1) as f64
    }
}

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

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn token(&mut self) -> [u8; 8] {
        self.next().to_le_bytes()
    }
}

fn main() {
    let knobs = knobs();
    let started = Instant::now();
    println!("udpchat abuse: `cargo bench --bench abuse`");
    println!(
        "the release server ({SERVER}) on 127.0.0.1, --rate 0; forged sources on 127.0.0.2 \
         and up; ABUSE_SECS={}, ABUSE_FORGE_SECS={}, ABUSE_FLOOD={}, ABUSE_FIGURES={}",
        knobs.secs,
        knobs.forge_secs,
        knobs.flood,
        knobs
            .figures
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    println!();
    println!("{:<50} | {:>16} | {:>16}", "figure", "default", "--verify");
    println!("{:-<50}-+-{:-<16}-+-{:-<16}", "", "", "");
    if knobs.figures.contains(&1) {
        figure_heartbeats(&knobs);
    }
    if knobs.figures.contains(&2) {
        figure_joins(&knobs);
    }
    if knobs.figures.contains(&3) {
        figure_mixed(&knobs);
    }
    if knobs.figures.contains(&4) {
        figure_flood(&knobs);
    }
    if knobs.figures.contains(&5) {
        figure_saturating_host(&knobs);
    }
    println!();
    println!("took {:.1} s", started.elapsed().as_secs_f64());
}

fn figure_heartbeats(knobs: &Knobs) {
    let window = Duration::from_secs_f64(2.0 * knobs.secs);
    eprintln!("figure 1: forged heartbeats, {window:?} in each mode ...");
    let forge_every = Duration::from_secs_f64(knobs.forge_secs);
    let (default, lines_per_sec, mean_text) = forged_heartbeats(window, forge_every, false);
    let (verify, _, _) = forged_heartbeats(window, forge_every, true);
    row(
        "1 forged heartbeats: victim got / forged",
        &times(default.factor()),
        &times(verify.factor()),
    );
    explain(&format!(
        "{} `@im@` forged from 127.0.0.2, one every {forge_every:?}, server --timeout \
         {}, while {MEMBERS} members said {lines_per_sec:.0} lines/s of {mean_text:.0} \
         bytes: {} bytes forged; the victim got {} bytes in {} datagrams (default), {} bytes \
         in {} (--verify)",
        default.sent_datagrams,
        2.0 * knobs.forge_secs,
        default.sent_bytes,
        default.received_bytes,
        default.received_datagrams,
        verify.received_bytes,
        verify.received_datagrams
    ));
}

fn figure_joins(knobs: &Knobs) {
    let chat = Duration::from_secs_f64(knobs.secs);
    eprintln!("figure 2: {FORGED_JOINS} forged joins, {chat:?} in each mode ...");
    let default = forged_joins(chat, false);
    let verify = forged_joins(chat, true);
    row(
        &format!("2 {FORGED_JOINS} forged joins: sources got / forged"),
        &times(default.traffic.factor()),
        &times(verify.traffic.factor()),
    );
    let members = |joins: &Joins| joins.members.map_or("?".to_string(), |n| n.to_string());
    row(
        &format!("  members at the end ({MEMBERS} real)"),
        &members(&default),
        &members(&verify),
    );
    explain(&format!(
        "one `@im@` from each of {FORGED_JOINS} sockets on 127.0.0.2-20 ({} bytes), then \
         {:.0} s of chat ({} lines): the sources got {} bytes in {} datagrams (default), {} \
         bytes in {} (--verify)",
        default.traffic.sent_bytes,
        chat.as_secs_f64(),
        default.lines_said,
        default.traffic.received_bytes,
        default.traffic.received_datagrams,
        verify.traffic.received_bytes,
        verify.traffic.received_datagrams
    ));
}

fn figure_mixed(knobs: &Knobs) {
    let duration = Duration::from_secs_f64(knobs.secs);
    eprintln!("figure 3: a mixed forged flood under --verify, {duration:?} ...");
    let mixed = mixed_flood(duration);
    row(
        "3 mixed forged flood: got / sent",
        "-",
        &times(mixed.traffic.factor()),
    );
    let stat_or = |name: &str| stat(&mixed.stats, name).map_or("?".to_string(), |n| n.to_string());
    explain(&format!(
        "{} datagrams ({} bytes; heartbeats, chat, /who, /nick, /msg, /join guesses, \
         broken frames, junk) from {MIXED_ADDRESSES} addresses over {:.1} s drew {} bytes in \
         {} datagrams ({} of them a join code); the server counted {} from addresses not \
         yet proven, {} bad cookies/codes/tokens, and had {} members",
        mixed.traffic.sent_datagrams,
        mixed.traffic.sent_bytes,
        mixed.seconds,
        mixed.traffic.received_bytes,
        mixed.traffic.received_datagrams,
        mixed.traffic.received_codes,
        stat_or("from addresses not yet proven"),
        stat_or("bad cookies/codes/tokens"),
        stat_or("members")
    ));
}

fn figure_flood(knobs: &Knobs) {
    eprintln!("figure 4: a hostile flood of {} datagrams ...", knobs.flood);
    let flood = hostile_flood(knobs.flood);
    row(
        &format!("4 hostile flood of {}: datagrams/s", knobs.flood),
        &format!("{:.0}", flood.datagrams_per_sec),
        "-",
    );
    let mib =
        |kib: Option<u64>| kib.map_or("?".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
    row(
        "  server memory before/after (peak), MiB",
        &format!(
            "{}/{} ({})",
            mib(flood.rss_before_kib),
            mib(flood.rss_after_kib),
            mib(flood.rss_peak_kib)
        ),
        "-",
    );
    row(
        "  a member's echo meanwhile, p50/max ms",
        &format!("{:.2}/{:.2}", flood.echo_p50_ms, flood.echo_max_ms),
        "-",
    );
    explain(&format!(
        "{} datagrams sent in {:.2} s ({:.0} MB; {} refused by the kernel) from \
         {FLOOD_SOURCES} sockets: truncated frames, session frames with random tokens, echoes of random \
         cookies, and 1 in 10 a {BIG_FRAME}-byte frame; the server received {}; resident \
         memory from /proc VmRSS (peak: VmHWM); {} echoes timed, {} lost (a line every \
         {ECHO_EVERY:?})",
        flood.sent,
        flood.seconds,
        flood.sent_bytes as f64 / 1e6,
        flood.refused,
        stat(&flood.stats, "received").map_or("?".to_string(), |n| n.to_string()),
        flood.echoes,
        flood.echoes_lost
    ));
}

fn figure_saturating_host(knobs: &Knobs) {
    let duration = Duration::from_secs_f64(2.0 * knobs.secs);
    eprintln!(
        "figure 5: {SATURATING_MEMBERS} members of one host chatting within their rate, \
         {duration:?} ..."
    );
    let run = saturating_host(duration);
    let ms = |sorted: &[f64], p: f64| format!("{:.1}", percentile(sorted, p));
    row(
        "5 one host saturating: honest echo p50/p99/max ms",
        &format!(
            "{}/{}/{}",
            ms(&run.echo.delays_ms, 0.5),
            ms(&run.echo.delays_ms, 0.99),
            ms(&run.echo.delays_ms, 1.0)
        ),
        "-",
    );
    row(
        "  honest lines lost",
        &format!(
            "{} of {}",
            run.echo.lost,
            run.echo.delays_ms.len() + run.echo.lost
        ),
        "-",
    );
    let stat_or = |name: &str| stat(&run.stats, name).map_or("?".to_string(), |n| n.to_string());
    explain(&format!(
        "{SATURATING_MEMBERS} classic members on 127.0.0.2 said {} lines in {:.1} s (each one \
         every {SATURATING_EVERY:?}, the default limit 5 a second), asking for {:.0} \
         deliveries a second; the server fanned out {} lines ({:.0} a second) in {} \
         deliveries, dropped {} from its queues; an honest member in a session on \
         127.0.0.3 said a line every {SATURATING_EVERY:?} and timed its echo",
        run.flood_lines,
        run.seconds,
        run.flood_lines as f64 * (SATURATING_MEMBERS + 1) as f64 / run.seconds,
        stat_or("broadcast"),
        stat(&run.stats, "broadcast").map_or(f64::NAN, |n| n as f64 / run.seconds),
        stat_or("deliveries"),
        stat_or("queue drops"),
    ));
}

/// Figure 1 in one mode: what the victim got, and the room's lines a second and mean
/// line length.
fn forged_heartbeats(
    window: Duration,
    forge_every: Duration,
    verify: bool,
) -> (Amplification, f64, f64) {
    let timeout = format!("{}", 2.0 * forge_every.as_secs_f64());
    let mut args = vec!["--rate", "0", "--timeout", &timeout];
    if verify {
        args.push("--verify");
    }
    let server = ServerProcess::start(&args);
    let mut room = Room::open(server.addr);
    let victim = bind("127.0.0.2:0");
    let mut buf = vec![0u8; 65_536];
    let mut traffic = Amplification::default();
    let start = Instant::now();
    let end = start + window;
    let mut next_forgery = start;
    room.start_chatting(start);
    run_until(&mut room, end, |now| {
        let mut busy = false;
        if now >= next_forgery {
            // The forger: a datagram with the victim's source address, played by the
            // victim's own socket.
            if victim.send_to(b"@im@", server.addr).is_ok() {
                traffic.sent(4);
            }
            next_forgery += forge_every;
            busy = true;
        }
        busy | traffic.receive(&victim, server.addr, &mut buf)
    });
    let lines_per_sec = room.lines_said as f64 / window.as_secs_f64();
    room.stop_chatting();
    run_until(&mut room, Instant::now() + SETTLE, |_| {
        traffic.receive(&victim, server.addr, &mut buf)
    });
    (traffic, lines_per_sec, room.mean_text_bytes())
}

/// Figure 2 in one mode.
fn forged_joins(chat: Duration, verify: bool) -> Joins {
    let mut args = vec!["--rate", "0"];
    if verify {
        args.push("--verify");
    }
    let mut server = ServerProcess::start(&args);
    let mut room = Room::open(server.addr);
    let sources: Vec<UdpSocket> = (0..FORGED_JOINS)
        .map(|i| bind(&format!("127.0.0.{}:0", 2 + i % 19)))
        .collect();
    let mut buf = vec![0u8; 65_536];
    let mut traffic = Amplification::default();
    for source in &sources {
        if source.send_to(b"@im@", server.addr).is_ok() {
            traffic.sent(4);
        }
    }
    let start = Instant::now();
    room.start_chatting(start);
    let mut receive_all = |traffic: &mut Amplification| {
        let mut busy = false;
        for source in &sources {
            busy |= traffic.receive(source, server.addr, &mut buf);
        }
        busy
    };
    run_until(&mut room, start + chat, |_| receive_all(&mut traffic));
    room.stop_chatting();
    run_until(&mut room, Instant::now() + SETTLE, |_| {
        receive_all(&mut traffic)
    });
    let members = server.stats().and_then(|line| stat(&line, "members"));
    Joins {
        traffic,
        members,
        lines_said: room.lines_said,
    }
}

/// Figure 3: under `--verify`, a paced mix of forged datagrams from many addresses.
fn mixed_flood(duration: Duration) -> Mixed {
    let mut server = ServerProcess::start(&["--rate", "0", "--verify"]);
    let mut room = Room::open(server.addr);
    let sources: Vec<UdpSocket> = (0..MIXED_ADDRESSES)
        .map(|i| bind(&format!("127.0.0.{}:0", 2 + i)))
        .collect();
    let mut rng = Rng(0xab05_e5ee_d000_0003);
    let mut buf = vec![0u8; 65_536];
    let mut traffic = Amplification::default();
    let rate = MIXED_PER_SEC * MIXED_ADDRESSES as f64;
    let start = Instant::now();
    room.start_chatting(start);
    let mut next_source = 0;
    run_until(&mut room, start + duration, |now| {
        let due = (now.duration_since(start).as_secs_f64() * rate) as u64;
        let mut busy = false;
        while traffic.sent_datagrams < due {
            let datagram = mixed_datagram(&mut rng);
            let source = &sources[next_source];
            next_source = (next_source + 1) % sources.len();
            // Counted even if the kernel refuses it: it is what the forger tried.
            let _ = source.send_to(&datagram, server.addr);
            traffic.sent(datagram.len());
            busy = true;
        }
        for source in &sources {
            busy |= traffic.receive(source, server.addr, &mut buf);
        }
        busy
    });
    let seconds = start.elapsed().as_secs_f64();
    room.stop_chatting();
    run_until(&mut room, Instant::now() + SETTLE, |_| {
        let mut busy = false;
        for source in &sources {
            busy |= traffic.receive(source, server.addr, &mut buf);
        }
        busy
    });
    Mixed {
        traffic,
        seconds,
        stats: server.stats().unwrap_or_default(),
    }
}

/// One datagram of figure 3's mix.
fn mixed_datagram(rng: &mut Rng) -> Vec<u8> {
    match rng.below(8) {
        0 => b"@im@".to_vec(),
        1 => format!("hello everyone, it is {}", rng.below(1000)).into_bytes(),
        2 => b"/who".to_vec(),
        3 => b"/nick x".to_vec(),
        4 => b"/msg a b".to_vec(),
        5 => format!("/join {}", frame::hex(&rng.token()[..6])).into_bytes(),
        6 => {
            // A frame mark and a kind letter, then anything.
            let kinds = b"CJSMHATLN?";
            let mut datagram = vec![frame::FRAME_MARK, kinds[rng.below(kinds.len())]];
            let len = rng.below(40);
            datagram.extend(rng.bytes(len));
            datagram
        }
        _ => {
            let len = 1 + rng.below(100);
            rng.bytes(len)
        }
    }
}

/// Figure 4: a hostile flood as fast as one thread sends it, while a member times its
/// echoes.
fn hostile_flood(count: usize) -> Flood {
    let mut server = ServerProcess::start(&["--rate", "0"]);
    let member = bind("127.0.0.1:0");
    let token = Token(*b"echo!!!!");
    if let Err(e) = open_session(&member, server.addr, token) {
        panic!(
            "the member could not open a session with {}: {e}",
            server.addr
        );
    }
    let mut rng = Rng(0xab05_e5ee_d000_0004);
    let pools = flood_pools(&mut rng);
    let sources: Vec<UdpSocket> = (0..FLOOD_SOURCES)
        .map(|i| {
            let socket = bind(&format!("127.0.0.{}:0", 2 + i));
            // A send blocks while the kernel's buffer is full; never for long.
            socket
                .set_write_timeout(Some(Duration::from_secs(1)))
                .unwrap_or_else(|e| panic!("cannot set a write timeout: {e}"));
            socket
        })
        .collect();
    let rss_before_kib = resident_kib(server.pid(), "VmRSS:");
    let flooding = Arc::new(AtomicBool::new(true));
    let echo = {
        let flooding = Arc::clone(&flooding);
        let addr = server.addr;
        thread::spawn(move || time_echoes(&member, addr, token, ECHO_EVERY, &flooding))
    };
    // Let the member say its first line before the flood starts.
    thread::sleep(ECHO_EVERY);
    let (mut sent, mut refused, mut sent_bytes) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    for i in 0..count {
        let pick = rng.next();
        // One in ten a frame of the largest size; the rest the three small kinds.
        let pool = match pick % 10 {
            0 => &pools[3],
            k => &pools[(k % 3) as usize],
        };
        let datagram = &pool[(pick >> 8) as usize % pool.len()];
        match sources[i % FLOOD_SOURCES].send_to(datagram, server.addr) {
            Ok(_) => {
                sent += 1;
                sent_bytes += datagram.len() as u64;
            }
            Err(_) => refused += 1,
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    flooding.store(false, Ordering::Relaxed);
    let mut echoes = echo.join().unwrap_or_else(|_| {
        panic!("the thread timing the member's echoes panicked");
    });
    let rss_after_kib = resident_kib(server.pid(), "VmRSS:");
    let rss_peak_kib = resident_kib(server.pid(), "VmHWM:");
    let stats = server.stats().unwrap_or_default();
    echoes.delays_ms.sort_by(f64::total_cmp);
    Flood {
        sent,
        refused,
        sent_bytes,
        datagrams_per_sec: sent as f64 / seconds,
        seconds,
        rss_before_kib,
        rss_after_kib,
        rss_peak_kib,
        echo_p50_ms: percentile(&echoes.delays_ms, 0.5),
        echo_max_ms: echoes.delays_ms.last().copied().unwrap_or(f64::NAN),
        echoes: echoes.delays_ms.len(),
        echoes_lost: echoes.lost,
        stats,
    }
}

/// What figure 5 measured.
struct Saturation {
    echo: Echoes,
    flood_lines: u64,
    seconds: f64,
    stats: String,
}

/// Figure 5: one host's members chat within their rate, more than the server can fan
/// out, while an honest member on another host times its echoes.
fn saturating_host(duration: Duration) -> Saturation {
    let mut server = ServerProcess::start(&["--timeout", "30"]);
    let member = bind("127.0.0.3:0");
    let token = Token(*b"honest!!");
    if let Err(e) = open_session(&member, server.addr, token) {
        panic!(
            "the honest member could not open a session with {}: {e}",
            server.addr
        );
    }
    let flood: Vec<UdpSocket> = (0..SATURATING_MEMBERS)
        .map(|_| bind("127.0.0.2:0"))
        .collect();
    // They join a few at a time, so the kernel's buffer (about 256 small datagrams)
    // never overflows: what is measured is the server, not a burst it never saw.
    for (i, socket) in flood.iter().enumerate() {
        if let Err(e) = socket.send_to(b"@im@", server.addr) {
            panic!("a flooding member cannot send: {e}");
        }
        if i % 50 == 49 {
            thread::sleep(Duration::from_millis(20));
        }
    }
    let members = server.stats().and_then(|line| stat(&line, "members"));
    if members != Some(SATURATING_MEMBERS as u64 + 1) {
        eprintln!(
            "  (the room has {members:?} members, not {})",
            SATURATING_MEMBERS + 1
        );
    }
    let flooding = Arc::new(AtomicBool::new(true));
    let echo = {
        let flooding = Arc::clone(&flooding);
        let addr = server.addr;
        thread::spawn(move || time_echoes(&member, addr, token, SATURATING_EVERY, &flooding))
    };
    // Each member's lines spread evenly over the interval; a send that finds the
    // kernel's buffer full is tried again next round.
    let start = Instant::now();
    let mut next: Vec<Instant> = (0..SATURATING_MEMBERS)
        .map(|i| start + SATURATING_EVERY * i as u32 / SATURATING_MEMBERS as u32)
        .collect();
    let mut flood_lines = 0u64;
    let until = start + duration;
    loop {
        let now = Instant::now();
        if now >= until {
            break;
        }
        for (socket, next) in flood.iter().zip(&mut next) {
            if now >= *next {
                let text = format!("flooding the room, line {flood_lines}");
                if socket.send_to(text.as_bytes(), server.addr).is_ok() {
                    flood_lines += 1;
                    *next += SATURATING_EVERY;
                }
            }
        }
        thread::sleep(Duration::from_millis(1));
    }
    let seconds = start.elapsed().as_secs_f64();
    flooding.store(false, Ordering::Relaxed);
    let mut echo = echo.join().unwrap_or_else(|_| {
        panic!("the thread timing the honest member's echoes panicked");
    });
    echo.delays_ms.sort_by(f64::total_cmp);
    let stats = server.stats().unwrap_or_default();
    Saturation {
        echo,
        flood_lines,
        seconds,
        stats,
    }
}

/// The flood's datagrams, by kind: truncated frames, session frames with random tokens,
/// echoes of random cookies, and a few frames of the largest size.
fn flood_pools(rng: &mut Rng) -> [Vec<Vec<u8>>; 4] {
    let truncated = (0..1024)
        .map(|_| {
            let kinds = b"CJSMHATLN";
            let mut datagram = vec![frame::FRAME_MARK, kinds[rng.below(kinds.len())]];
            let len = rng.below(frame::LINE_HEADER - 2);
            datagram.extend(rng.bytes(len));
            datagram.truncate(1 + rng.below(datagram.len()));
            datagram
        })
        .collect();
    let bodies: [&[u8]; 6] = [b"@im@", b"quit", b"", b"/nick mallory", b"/who", b"hi all"];
    let random_tokens = (0..1024)
        .map(|_| frame::session(Token(rng.token()), bodies[rng.below(bodies.len())]))
        .collect();
    let random_cookies = (0..1024)
        .map(|_| {
            let mut echo = Vec::new();
            frame::write_echo(&mut echo, frame::Cookie(rng.token()), Token(rng.token()));
            echo
        })
        .collect();
    let big = (0..8)
        .map(|_| {
            let mut datagram = frame::session(Token(rng.token()), b"");
            let len = BIG_FRAME - datagram.len();
            datagram.extend(rng.bytes(len));
            datagram
        })
        .collect();
    [truncated, random_tokens, random_cookies, big]
}

/// What the member of figure 4 saw.
struct Echoes {
    delays_ms: Vec<f64>,
    lost: usize,
}

/// Says a line every `every` while `flooding`, and times each one's echo; then waits up
/// to [`ECHO_GIVE_UP`] for the echoes still due.
fn time_echoes(
    member: &UdpSocket,
    server: SocketAddr,
    token: Token,
    every: Duration,
    flooding: &AtomicBool,
) -> Echoes {
    // Blocking reads that wait at most 2 ms, so a line is never said late by more.
    if let Err(e) = member
        .set_nonblocking(false)
        .and_then(|()| member.set_read_timeout(Some(Duration::from_millis(2))))
    {
        panic!("cannot set the member's read timeout: {e}");
    }
    let mut pending: HashMap<u64, Instant> = HashMap::new();
    let mut delays_ms = Vec::new();
    let mut next_line = Instant::now();
    let mut said = 0u64;
    let mut flood_ended: Option<Instant> = None;
    let mut buf = vec![0u8; 65_536];
    loop {
        let now = Instant::now();
        if flood_ended.is_none() && !flooding.load(Ordering::Relaxed) {
            flood_ended = Some(now);
        }
        match flood_ended {
            None if now >= next_line => {
                let text = format!("echo {said}");
                if member
                    .send_to(&frame::session(token, text.as_bytes()), server)
                    .is_ok()
                {
                    pending.insert(said, now);
                }
                said += 1;
                next_line += every;
            }
            Some(ended) if pending.is_empty() || ended.elapsed() > ECHO_GIVE_UP => break,
            _ => {}
        }
        match member.recv_from(&mut buf) {
            Ok((len, from)) if from == server => {
                if let Framed::Line { token: t, line, .. } = frame::read(&buf[..len]) {
                    let number = std::str::from_utf8(line)
                        .ok()
                        .and_then(|line| line.rsplit_once(" echo "))
                        .and_then(|(_, n)| n.parse::<u64>().ok());
                    if let Some(sent_at) = number
                        .filter(|_| t == token)
                        .and_then(|n| pending.remove(&n))
                    {
                        delays_ms.push(sent_at.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("the member cannot read its socket: {e}"),
        }
    }
    Echoes {
        delays_ms,
        lost: pending.len(),
    }
}

/// Keeps `room` chatting and calls `step` until `until`; sleeps a millisecond whenever
/// neither had anything to do, so nothing here blocks on a socket.
fn run_until(room: &mut Room, until: Instant, mut step: impl FnMut(Instant) -> bool) {
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        let busy = room.tick(now) | step(now);
        if !busy {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Opens a session on `socket` as our client does: hello, cookie, echo with `token`,
/// welcome. Tries again a few times, as a datagram may be lost.
fn open_session(socket: &UdpSocket, server: SocketAddr, token: Token) -> Result<(), String> {
    socket
        .set_nonblocking(false)
        .map_err(|e| format!("cannot make the socket blocking: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;
    let mut buf = vec![0u8; 65_536];
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        socket
            .send_to(frame::HELLO, server)
            .map_err(|e| format!("cannot send: {e}"))?;
        let mut echoed = false;
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            if from != server {
                continue;
            }
            match frame::read(&buf[..len]) {
                Framed::Cookie(cookie) if !echoed => {
                    let mut echo = Vec::new();
                    frame::write_echo(&mut echo, cookie, token);
                    socket
                        .send_to(&echo, server)
                        .map_err(|e| format!("cannot send: {e}"))?;
                    echoed = true;
                }
                Framed::Line { token: t, line, .. }
                    if t == token && line.starts_with(b"* you joined as ") =>
                {
                    return Ok(());
                }
                _ => {}
            }
        }
    }
    Err(format!("no welcome within {DEADLINE:?}"))
}

/// A UDP socket bound to `addr`, non-blocking (its reads never wait).
fn bind(addr: &str) -> UdpSocket {
    let socket = UdpSocket::bind(addr).unwrap_or_else(|e| {
        panic!("cannot bind {addr}: {e} (this bench needs the whole of 127.0.0.0/8 on loopback, as Linux has)")
    });
    socket
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("cannot make {addr} non-blocking: {e}"));
    socket
}

fn knobs() -> Knobs {
    let secs = env_or("ABUSE_SECS", 3.0_f64);
    assert!(
        secs.is_finite() && secs > 0.0,
        "ABUSE_SECS must be a number of seconds above 0, not {secs}"
    );
    let figures = match std::env::var("ABUSE_FIGURES") {
        Ok(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| match s.trim().parse::<u8>() {
                Ok(n @ 1..=5) => n,
                _ => panic!("ABUSE_FIGURES is a list of figures from 1 to 5, not {list:?}"),
            })
            .collect(),
        Err(_) => vec![1, 2, 3, 4, 5],
    };
    let forge_secs = env_or("ABUSE_FORGE_SECS", 1.0_f64);
    assert!(
        forge_secs.is_finite() && (0.05..=30.0).contains(&forge_secs),
        "ABUSE_FORGE_SECS must be a number of seconds from 0.05 to 30, not {forge_secs}"
    );
    Knobs {
        secs,
        forge_secs,
        flood: env_or("ABUSE_FLOOD", 50_000usize),
        figures,
    }
}

/// The environment variable `name` parsed, or `default` if unset.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("cannot read {name}={text:?}")),
        Err(_) => default,
    }
}

fn row(label: &str, default: &str, verify: &str) {
    println!("{label:<50} | {default:>16} | {verify:>16}");
}

fn explain(text: &str) {
    println!("    {text}");
}

fn times(factor: f64) -> String {
    if factor >= 10.0 {
        format!("{factor:.0}×")
    } else if factor >= 0.1 {
        format!("{factor:.2}×")
    } else {
        format!("{factor:.4}×")
    }
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `VmHWM:`), where the system has it.
fn resident_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
