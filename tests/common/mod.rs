//! Test helpers: child processes that cannot outlive a test, and raw UDP peers that
//! speak the protocol as the original Python client does. Loopback only; every wait
//! has a deadline.

#![allow(dead_code)] // Each test file uses its own subset.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use udpchat::proto::frame::{self, Framed, Token};

/// How long any wait-for-a-condition lasts before the test fails: a guard against a
/// hang, not a measure of speed, so generous enough for a loaded machine.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// How long a negative check ("nothing arrives") listens.
pub const QUIET: Duration = Duration::from_millis(300);

pub const SERVER: &str = env!("CARGO_BIN_EXE_udpchat-server");
pub const CLIENT: &str = env!("CARGO_BIN_EXE_udpchat-client");

/// A child process, killed and reaped on drop, with stdout and stderr collected by threads.
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// The threads collecting stdout and stderr; they end when the child closes them.
    collectors: Vec<thread::JoinHandle<()>>,
    /// Stdout while it is not collected (see [`Proc::spawn_with`]): left unread, it
    /// fills, as a terminal paused with Ctrl-S would.
    uncollected_stdout: Option<ChildStdout>,
}

/// A server whose stdout and stderr are never read once it said where it listens: a
/// paused terminal, or an unread pipe. Killed on drop.
pub struct StalledServer {
    child: Child,
    pub addr: SocketAddr,
    pub stdin: Option<ChildStdin>,
    /// Held open and unread.
    _stdout: ChildStdout,
    _stderr: BufReader<std::process::ChildStderr>,
}

/// A running `udpchat-server` on a free loopback port.
pub struct TestServer {
    pub proc: Proc,
    pub addr: SocketAddr,
}

/// A raw UDP client, as the Python client or `nc -u` would be.
pub struct Peer {
    pub socket: UdpSocket,
    server: SocketAddr,
    /// The server's log, shown when a check fails.
    server_log: Option<Arc<Mutex<Vec<String>>>>,
}

impl Proc {
    /// Starts `program` with `RUST_LOG=debug`, collecting its output.
    pub fn spawn(program: &str, args: &[&str]) -> Proc {
        Proc::spawn_with(program, args, Some("debug"), true)
    }

    /// Starts `program` with `RUST_LOG` set to `rust_log` (unset for `None`, so the
    /// program's default level holds), collecting stdout only if `collect_stdout`.
    pub fn spawn_with(
        program: &str,
        args: &[&str],
        rust_log: Option<&str>,
        collect_stdout: bool,
    ) -> Proc {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match rust_log {
            Some(level) => command.env("RUST_LOG", level),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let (stderr, err_thread) = collect_lines(child.stderr.take().expect("piped stderr"));
        let name = std::path::Path::new(program)
            .file_name()
            .map_or(program.to_string(), |n| n.to_string_lossy().into_owned());
        let mut proc = Proc {
            name: format!("{name} {}", args.join(" ")),
            stdin: child.stdin.take(),
            uncollected_stdout: child.stdout.take(),
            child,
            stdout: Arc::new(Mutex::new(Vec::new())),
            stderr,
            collectors: vec![err_thread],
        };
        if collect_stdout {
            proc.collect_stdout();
        }
        proc
    }

    /// Starts collecting stdout, if it was left unread so far.
    pub fn collect_stdout(&mut self) {
        if let Some(pipe) = self.uncollected_stdout.take() {
            let (lines, collector) = collect_lines(pipe);
            self.stdout = lines;
            self.collectors.push(collector);
        }
    }

    /// Writes one line to the child's stdin.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to child stdin");
        stdin.flush().expect("flush child stdin");
    }

    /// Forgets the stdout lines collected so far.
    pub fn clear_stdout(&self) {
        self.stdout.lock().unwrap().clear();
    }

    /// Closes the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits until a stdout line satisfies `pred`, and returns it.
    pub fn wait_stdout(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_lines(&self.stdout, "stdout", what, |lines| {
            lines.iter().find(|l| pred(l)).cloned()
        })
    }

    /// Waits until a stderr line satisfies `pred`, and returns it.
    pub fn wait_stderr(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_lines(&self.stderr, "stderr", what, |lines| {
            lines.iter().find(|l| pred(l)).cloned()
        })
    }

    /// Waits until at least `n` stderr lines contain `text`.
    pub fn wait_stderr_count(&self, text: &str, n: usize) {
        let what = format!("{n} times containing {text:?}");
        self.wait_lines(&self.stderr, "stderr", &what, |lines| {
            let count = lines.iter().filter(|l| l.contains(text)).count();
            (count >= n).then(String::new)
        });
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the child to exit, failing the test after the deadline.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // The child is gone, so its pipes are closed: the collectors finish
                    // reading what it wrote last.
                    for collector in self.collectors.drain(..) {
                        let _ = collector.join();
                    }
                    return status;
                }
                Ok(None) if start.elapsed() < DEADLINE => thread::sleep(Duration::from_millis(10)),
                Ok(None) => panic!(
                    "{} did not exit within {DEADLINE:?}\n{}",
                    self.name,
                    self.report()
                ),
                Err(e) => panic!("cannot wait for {}: {e}", self.name),
            }
        }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the child wrote, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "--- {} stdout:\n{}\n--- stderr:\n{}",
            self.name,
            self.stdout_lines().join("\n"),
            self.stderr_lines().join("\n")
        )
    }

    fn wait_lines(
        &self,
        lines: &Mutex<Vec<String>>,
        stream: &str,
        what: &str,
        found: impl Fn(&[String]) -> Option<String>,
    ) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = found(&lines.lock().unwrap()) {
                return line;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "no {stream} line {what} within {DEADLINE:?}\n{}",
                    self.report()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Its pipes are closed now, so the collectors finish.
        for collector in self.collectors.drain(..) {
            let _ = collector.join();
        }
    }
}

impl StalledServer {
    /// Starts a server on `127.0.0.1:0` with `RUST_LOG=rust_log`, reads its stderr up to
    /// the line saying where it listens, then reads nothing more.
    pub fn start(args: &[&str], rust_log: &str) -> StalledServer {
        let mut child = Command::new(SERVER)
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        // Read the first line on a thread, so a server that never says it cannot hang us.
        let (sender, first) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut line = String::new();
            let _ = stderr.read_line(&mut line);
            let _ = sender.send(line);
            stderr
        });
        let line = first.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the server did not say where it listens")
        });
        let stderr = reader.join().expect("the reader thread");
        let addr = listening_addr(&line);
        StalledServer {
            stdin: child.stdin.take(),
            child,
            addr,
            _stdout: stdout,
            _stderr: stderr,
        }
    }

    /// Writes one line to the server's console.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the console");
    }
}

impl Drop for StalledServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0` with extra arguments and waits until it listens.
    pub fn start(args: &[&str]) -> TestServer {
        TestServer::start_on("127.0.0.1:0", args)
    }

    pub fn start_on(bind: &str, args: &[&str]) -> TestServer {
        TestServer::start_logging(bind, args, Some("debug"))
    }

    /// Starts a server on `bind` with `RUST_LOG` set to `rust_log` (`None`: the
    /// server's default level) and waits until it listens.
    pub fn start_logging(bind: &str, args: &[&str], rust_log: Option<&str>) -> TestServer {
        let mut all = vec!["--bind", bind];
        all.extend_from_slice(args);
        let proc = Proc::spawn_with(SERVER, &all, rust_log, true);
        let line = proc.wait_stderr("saying where it listens", |l| l.contains("listening on "));
        let addr = listening_addr(&line);
        TestServer { proc, addr }
    }

    /// A raw peer talking to this server.
    pub fn peer(&self) -> Peer {
        let mut peer = Peer::new(self.addr);
        peer.server_log = Some(Arc::clone(&self.proc.stderr));
        peer
    }

    /// A raw peer that has joined with a heartbeat and been welcomed.
    pub fn joined_peer(&self) -> Peer {
        let peer = self.peer();
        peer.send(b"@im@");
        peer.expect_welcome();
        peer
    }

    /// Waits for a server log line containing `text`.
    pub fn wait_log(&self, text: &str) -> String {
        self.proc
            .wait_stderr(&format!("containing {text:?}"), |l| l.contains(text))
    }

    /// Starts a client binary connected to this server.
    pub fn client(&self, args: &[&str]) -> Proc {
        let server = self.addr.to_string();
        let mut all = vec![server.as_str()];
        all.extend_from_slice(args);
        Proc::spawn(CLIENT, &all)
    }
}

impl Peer {
    pub fn new(server: SocketAddr) -> Peer {
        let local: SocketAddr = if server.is_ipv6() {
            "[::1]:0".parse().unwrap()
        } else {
            "127.0.0.1:0".parse().unwrap()
        };
        Peer::bound(local, server)
    }

    /// A peer bound to `local` (another loopback address, say, to play a victim).
    pub fn bound(local: SocketAddr, server: SocketAddr) -> Peer {
        let socket = UdpSocket::bind(local).expect("bind a loopback peer");
        socket
            .set_read_timeout(Some(DEADLINE))
            .expect("set read timeout");
        Peer {
            socket,
            server,
            server_log: None,
        }
    }

    /// The server's log so far, for failure messages.
    fn log(&self) -> String {
        match &self.server_log {
            Some(lines) => format!("--- server log:\n{}", lines.lock().unwrap().join("\n")),
            None => String::new(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("peer address")
    }

    pub fn send(&self, datagram: &[u8]) {
        self.socket
            .send_to(datagram, self.server)
            .expect("send to server");
    }

    /// The next datagram from the server, or a failure after the deadline.
    pub fn recv(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 65_536];
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((len, from)) if from == self.server => return buf[..len].to_vec(),
                Ok(_) => continue,
                Err(e) => panic!(
                    "peer {} got nothing from the server: {e}\n{}",
                    self.addr(),
                    self.log()
                ),
            }
        }
    }

    /// The next datagram as text.
    pub fn recv_text(&self) -> String {
        String::from_utf8(self.recv()).expect("server sent UTF-8")
    }

    /// Receives and checks the next datagram.
    pub fn expect(&self, want: &str) {
        let got = self.recv();
        assert_eq!(
            String::from_utf8_lossy(&got),
            want,
            "peer {} received the wrong datagram\n{}",
            self.addr(),
            self.log()
        );
    }

    /// Receives the server's welcome to a newcomer, `* you joined as <addr> (…)`.
    pub fn expect_welcome(&self) {
        let got = self.recv_text();
        let want = format!("* you joined as {} (", self.addr());
        assert!(
            got.starts_with(&want),
            "expected a welcome, got {got:?}\n{}",
            self.log()
        );
    }

    /// Receives until the first datagram that is not a server notice (`* …`), and checks it.
    pub fn expect_chat(&self, want: &str) {
        loop {
            let got = self.recv();
            if !got.starts_with(b"* ") {
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    want,
                    "peer {} received the wrong chat line\n{}",
                    self.addr(),
                    self.log()
                );
                return;
            }
        }
    }

    /// Opens a session as our client does (hello, cookie, echo with `token`) and
    /// returns the server's welcome in it.
    pub fn open_session(&self, token: Token) -> String {
        self.send(frame::HELLO);
        let cookie = match frame::read(&self.recv()) {
            Framed::Cookie(cookie) => cookie,
            other => panic!("expected a cookie, got {other:?}\n{}", self.log()),
        };
        let mut echo = Vec::new();
        frame::write_echo(&mut echo, cookie, token);
        self.send(&echo);
        let welcome = self.recv_framed(token);
        assert!(welcome.starts_with("* you joined as "), "{welcome:?}");
        welcome
    }

    /// Sends `body` in the session frame of `token`.
    pub fn send_framed(&self, token: Token, body: &[u8]) {
        self.send(&frame::session(token, body));
    }

    /// The line of the next datagram, which must be a frame of `token`'s session: a
    /// numbered line, or an unnumbered one (a goodbye); answers to heartbeats are
    /// skipped.
    pub fn recv_framed(&self, token: Token) -> String {
        loop {
            let got = self.recv();
            match frame::read(&got) {
                Framed::Session { token: t, body }
                | Framed::Line {
                    token: t,
                    line: body,
                    ..
                } if t == token => {
                    return String::from_utf8_lossy(body).into_owned();
                }
                Framed::Answer { token: t, .. } if t == token => {}
                _ => panic!(
                    "expected a frame of our session, got {:?}\n{}",
                    String::from_utf8_lossy(&got),
                    self.log()
                ),
            }
        }
    }

    /// Receives frames of `token`'s session until one is not a notice, and checks it.
    pub fn expect_framed_chat(&self, token: Token, want: &str) {
        loop {
            let got = self.recv_framed(token);
            if !got.starts_with("* ") && got != "@im@" {
                assert_eq!(got, want, "peer {}\n{}", self.addr(), self.log());
                return;
            }
        }
    }

    /// Checks that nothing arrives for a while.
    pub fn expect_nothing(&self) {
        self.socket.set_read_timeout(Some(QUIET)).unwrap();
        let mut buf = vec![0u8; 65_536];
        let got = self.socket.recv_from(&mut buf);
        self.socket.set_read_timeout(Some(DEADLINE)).unwrap();
        if let Ok((len, from)) = got {
            panic!(
                "peer {} expected nothing, got {:?} from {from}\n{}",
                self.addr(),
                String::from_utf8_lossy(&buf[..len]),
                self.log()
            );
        }
    }
}

/// The address in the server's `listening on ADDR (…)` line.
fn listening_addr(line: &str) -> SocketAddr {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the address in {line:?}"))
}

/// The number after `name ` in the server's `stats` line; fails the test if absent.
pub fn stat(line: &str, name: &str) -> u64 {
    line.split(", ")
        .find_map(|part| {
            let rest = part.strip_prefix(&format!("{name} "))?;
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {name:?} in {line:?}"))
}

/// A process's resident memory in KiB, where the system tells it.
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `text` from a fresh peer until the peer gets its own line back: the proof
/// that the room still relays chat. It sends again because a flood may still fill the
/// server's receive buffer, where any datagram can be dropped.
pub fn relays_a_probe(server: SocketAddr, text: &str) {
    let peer = Peer::new(server);
    peer.socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let want = format!("{} {text}", peer.addr());
    let start = Instant::now();
    let mut buf = vec![0u8; 65_536];
    loop {
        assert!(
            start.elapsed() < DEADLINE,
            "{want:?} was not relayed within {DEADLINE:?}"
        );
        peer.send(text.as_bytes());
        while let Ok((len, _)) = peer.socket.recv_from(&mut buf) {
            if &buf[..len] == want.as_bytes() {
                return;
            }
        }
    }
}

/// A port on loopback where nothing listens (bound, read, released).
pub fn closed_port() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("address")
}

fn collect_lines(
    stream: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<String>>>, thread::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let collector = thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches('\n')
                .to_string();
            sink.lock().unwrap().push(line);
            buf.clear();
        }
    });
    (lines, collector)
}

/// A relay between one client and a server that loses and reorders datagrams, as a
/// bad network would: each way, it drops `loss` of them at random and holds back one in
/// ten until the next one has passed (or 30 ms), from a fixed seed so a failure can be
/// replayed. Loopback only; its thread is stopped and joined on drop.
pub struct LossyRelay {
    /// Where the client should send: the relay's side facing it.
    pub addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl LossyRelay {
    pub fn start(server: SocketAddr, loss: f64, seed: u64) -> LossyRelay {
        LossyRelay::start_dropping(server, loss, seed, None)
    }

    /// A relay that also drops, once, the first datagram from the server that contains
    /// `needle` (and nothing else at random if `loss` is 0).
    pub fn dropping_once(server: SocketAddr, needle: &[u8]) -> LossyRelay {
        LossyRelay::start_dropping(server, 0.0, 1, Some(needle.to_vec()))
    }

    fn start_dropping(
        server: SocketAddr,
        loss: f64,
        seed: u64,
        mut needle: Option<Vec<u8>>,
    ) -> LossyRelay {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind the relay's front");
        let back = UdpSocket::bind("127.0.0.1:0").expect("bind the relay's back");
        back.connect(server)
            .expect("connect the relay to the server");
        for socket in [&front, &back] {
            socket.set_nonblocking(true).expect("non-blocking relay");
        }
        let addr = front.local_addr().expect("relay address");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut random = seed.max(1);
            let mut next_unit = move || {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                (random >> 11) as f64 / (1u64 << 53) as f64
            };
            let mut client: Option<SocketAddr> = None;
            // One datagram held back each way, with the time it was held.
            let mut held: [Option<(Vec<u8>, Instant)>; 2] = [None, None];
            let mut buf = vec![0u8; 65_536];
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let mut idle = true;
                for (way, slot) in held.iter_mut().enumerate() {
                    let got = if way == 0 {
                        front.recv_from(&mut buf).map(|(len, from)| {
                            client = Some(from);
                            len
                        })
                    } else {
                        back.recv(&mut buf)
                    };
                    let send = |bytes: &[u8]| {
                        let _ = if way == 0 {
                            back.send(bytes)
                        } else {
                            client.map_or(Ok(0), |to| front.send_to(bytes, to))
                        };
                    };
                    if let Ok(len) = got {
                        idle = false;
                        let wanted = needle.as_ref().is_some_and(|needle| {
                            way == 1 && buf[..len].windows(needle.len()).any(|w| w == needle)
                        });
                        if wanted {
                            needle = None;
                            continue;
                        }
                        if loss > 0.0 && next_unit() < loss {
                            continue;
                        }
                        let datagram = buf[..len].to_vec();
                        if slot.is_none() && next_unit() < 0.1 {
                            *slot = Some((datagram, Instant::now()));
                            continue;
                        }
                        send(&datagram);
                        if let Some((late, _)) = slot.take() {
                            send(&late);
                        }
                    } else if slot
                        .as_ref()
                        .is_some_and(|(_, at)| at.elapsed() > Duration::from_millis(30))
                    {
                        if let Some((late, _)) = slot.take() {
                            send(&late);
                        }
                    }
                }
                if idle {
                    thread::sleep(Duration::from_micros(200));
                }
            }
        });
        LossyRelay {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
