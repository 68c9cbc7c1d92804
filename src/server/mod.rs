//! The server's socket loop and its console.
//!
//! One thread owns the socket's receiving side and the [`Room`]; it waits on nothing but
//! the socket. While it sends a long fan-out it drains the socket every
//! [`DRAIN_EVERY`] sends into a [`Backlog`], so bursts that arrive meanwhile wait in
//! memory instead of overflowing the kernel's small buffer, each host's in a queue of
//! its own, the hosts taking turns. The console thread sends it commands through a channel and wakes it with
//! a datagram carrying a per-process random token; the answers come back on a channel,
//! and the console thread prints them, so a paused terminal stalls only the console.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::proto::Notice;
use crate::room::{Config, Outbox, Presence, Room};
use crate::sockerr::{self, Meaning};
use backlog::Backlog;

mod backlog;

/// A request from the console to the room's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCommand {
    /// Tell every member the server is going away, then stop.
    Quit,
    /// List the members and how long each has been idle.
    Who,
    /// Remove a member, named by its name or address.
    Kick(String),
    /// Broadcast `* server: TEXT`.
    Say(String),
    /// What the limits did.
    Stats,
    /// Set the room's topic (`Some`), shown as set by `server`, or tell it (`None`).
    Topic(Option<String>),
}

/// Receive buffer size: larger than any UDP payload, so nothing is silently truncated.
pub const RECV_BUFFER: usize = 65_536;
/// The longest the loop sleeps when nothing is due: it wakes for deadlines, traffic
/// and console commands, so this is only a safety net.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// What the console prints for anything it does not understand.
const CONSOLE_HELP: &str = "commands: who (list clients), kick ADDR|NAME (remove one), \
                            say TEXT (tell everyone), topic [TEXT] (set or tell the topic), \
                            stats (counters), quit (stop the server)";
/// The least time between two log lines summing up dropped datagrams.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);
/// How long the console waits for the room's answer before it gives up on it.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// How many sends (or datagrams handled from the backlog) between two drains of the
/// socket. The kernel holds about 256 small datagrams; 64 sends take about a quarter of
/// a millisecond, in which even a burst from a thousand clients at full speed brings
/// about a hundred. A drain of an empty socket costs one receive that finds nothing:
/// under 1 % of the sends it comes between. (The socket stays non-blocking from a
/// drain until the loop finds nothing to read, so drains cost no mode switch.)
pub const DRAIN_EVERY: u32 = 64;
/// The most datagrams one drain takes off the socket: more than the kernel holds.
const DRAIN_MAX: usize = 1024;
/// The most bytes waiting in the backlog: tens of thousands of heartbeats, or 64 of the
/// largest datagrams.
pub const BACKLOG_BYTES: usize = 4 << 20;

/// The recv loop with its room, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    socket: UdpSocket,
    room: Room,
    commands: Receiver<(ConsoleCommand, Sender<String>)>,
    /// What a console wake-up datagram holds: random, so no one else can send one.
    wake_token: [u8; 16],
    /// The read timeout now set on the socket.
    armed: Duration,
    /// Datagrams drained from the socket while the room was busy.
    backlog: Backlog,
    /// What a drain receives into.
    drain_buf: Vec<u8>,
    /// Where a session's datagram is put together to be sent.
    frame: Vec<u8>,
    /// Sends and backlog datagrams since the socket was last read.
    busy: u32,
    /// Whether the socket is non-blocking now: from a drain until it is found empty.
    nonblocking: bool,
    /// Datagrams handed to the kernel.
    deliveries: u64,
    /// Sends that failed.
    send_errors: u64,
    /// Drops already reported in the log's summary.
    drops_logged: u64,
    /// When the log may next carry a summary of drops: the first drop is reported at
    /// once, later ones at most every [`SUMMARY_INTERVAL`].
    next_summary: Instant,
}

/// Sends commands to a running [`Server`] from another thread.
#[derive(Debug)]
pub struct Handle {
    commands: Sender<(ConsoleCommand, Sender<String>)>,
    waker: UdpSocket,
    wake_addr: SocketAddr,
    wake_token: [u8; 16],
}

impl Server {
    /// Prepares a server on a bound socket; the [`Handle`] controls it from other threads.
    pub fn new(socket: UdpSocket, mut config: Config) -> io::Result<(Server, Handle)> {
        let local = socket.local_addr()?;
        config.local_addr = Some(local);
        if !config.verify && verifies_by_default(local) {
            warn!(
                "bound to {local} with --open: anyone who can forge a source address can \
                 make this server send a chat room's traffic to it (hundreds of bytes for \
                 each byte forged); without --open every address proves itself first"
            );
        }
        if cfg!(windows) && local.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
            warn!(
                "bound to {local}: on Windows that is IPv6 only, so IPv4 clients cannot \
                 reach this server; bind 0.0.0.0:{} for them",
                local.port()
            );
        }
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(MAX_SLEEP))?;
        let wake_token = random_token();
        let (sender, commands) = mpsc::channel();
        let wake_addr = loopback_of(local);
        // A socket of its own: the server's may be non-blocking while it is busy, and
        // a wake-up must wait for room rather than be lost.
        let waker_ip: IpAddr = if wake_addr.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        };
        let handle = Handle {
            commands: sender,
            waker: UdpSocket::bind((waker_ip, 0))?,
            wake_addr,
            wake_token,
        };
        let now = Instant::now();
        let server = Server {
            socket,
            room: Room::new(config, now),
            commands,
            wake_token,
            armed: MAX_SLEEP,
            backlog: Backlog::new(BACKLOG_BYTES, now),
            drain_buf: vec![0u8; RECV_BUFFER],
            frame: Vec::with_capacity(RECV_BUFFER),
            busy: 0,
            nonblocking: false,
            deliveries: 0,
            send_errors: 0,
            drops_logged: 0,
            next_summary: now,
        };
        Ok((server, handle))
    }

    /// Serves until a [`ConsoleCommand::Quit`] arrives. Returns an error only if the socket
    /// fails in a way that receiving again cannot cure.
    pub fn run(mut self) -> io::Result<()> {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut out = Outbox::new();
        let config = self.room.config();
        info!(
            "listening on {} (timeout {:?}, max message {} bytes, max clients {}, rate {}/s, \
             burst {}); {}",
            self.socket.local_addr()?,
            config.timeout,
            config.max_message_bytes,
            config.max_clients,
            config.rate_per_sec,
            config.burst,
            if config.verify {
                "verifying: an address joins once it proves it receives there"
            } else {
                "open: any address joins with its first datagram"
            }
        );
        loop {
            let now = match self.backlog.pop() {
                Some(waiting) => {
                    self.handle(&waiting.datagram, waiting.from, waiting.at, &mut out);
                    // Its host's turn is paid in the deliveries it caused.
                    self.backlog.charge(out.len());
                    self.backlog.recycle(waiting.datagram);
                    self.count_busy(1);
                    waiting.at
                }
                None => {
                    let received = self.receive(&mut buf);
                    let now = Instant::now();
                    self.busy = 0;
                    match received {
                        Ok((len, from)) => self.handle(&buf[..len], from, now, &mut out),
                        Err(e) => match sockerr::classify(&e) {
                            Meaning::Timeout => {}
                            // A departed client's closed port (a reset, on Windows), an
                            // unreachable host: about one client, not the room.
                            Meaning::PortClosed | Meaning::Unreachable | Meaning::Transient => {
                                debug!("receive: {e}")
                            }
                            Meaning::Failure => return Err(e),
                        },
                    }
                    now
                }
            };
            let stop = self.run_commands(now, &mut out);
            self.send_all(&mut out);
            if stop {
                // The last totals, however recent the last summary.
                self.next_summary = now;
                self.log_drops(now);
                info!("stopped");
                return Ok(());
            }
            // Time, as far as the room can know it, is the earliest the oldest datagram
            // still waiting (in the backlog or the socket) can have arrived: a member
            // whose heartbeat waits is not evicted before its heartbeat is read. When
            // something is due, what the kernel holds is taken off first, for the same
            // reason (the clock is read before, so the drain finds all that came by then).
            let clock = Instant::now();
            if self.backlog.is_empty() && self.room.next_deadline().is_some_and(|d| d <= clock) {
                self.drain();
            }
            let horizon = self.backlog.horizon(clock);
            self.room.handle_timeout(horizon, &mut out);
            self.send_all(&mut out);
            let summary_due = self.log_drops(clock);
            if self.backlog.is_empty() {
                self.arm(clock, summary_due)?;
            }
        }
    }

    /// Hands one datagram to the room, unless it is the console's wake-up.
    fn handle(&mut self, datagram: &[u8], from: SocketAddr, at: Instant, out: &mut Outbox) {
        if datagram == self.wake_token {
            debug!("woken by the console");
        } else {
            self.room.handle_datagram(datagram, from, at, out);
        }
    }

    /// Counts work done since the socket was last read; drains it when due.
    fn count_busy(&mut self, work: u32) {
        self.busy += work;
        if self.busy >= DRAIN_EVERY {
            self.drain();
        }
    }

    /// Moves what the socket holds into the backlog (as long as it has room), without
    /// waiting, each datagram stamped with the time of the drain.
    fn drain(&mut self) {
        self.busy = 0;
        if let Err(e) = self.set_nonblocking(true) {
            debug!("cannot drain: {e}");
            return;
        }
        let now = Instant::now();
        // At most what the kernel can hold, so a flood cannot keep the room here.
        for _ in 0..DRAIN_MAX {
            match self.socket.recv_from(&mut self.drain_buf) {
                // What does not fit is counted as a queue drop.
                Ok((len, from)) => {
                    self.backlog.push(&self.drain_buf[..len], from, now);
                }
                Err(e) if is_about_a_peer(&e) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.backlog.socket_emptied(now);
                    break;
                }
                // A failure the next blocking receive reports.
                Err(_) => break,
            }
        }
    }

    /// Receives the next datagram, waiting (up to the armed timeout) only if none is
    /// there. A busy socket stays non-blocking, so draining it costs no mode switch;
    /// it turns blocking again only when there is nothing to read.
    /// A receive that finds the socket empty (would block, or times out) tells the
    /// backlog, whose horizon is the room's time.
    fn receive(&mut self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let before = Instant::now();
        if self.nonblocking {
            match self.socket.recv_from(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.backlog.socket_emptied(before);
                    self.set_nonblocking(false)?;
                }
                received => return received,
            }
        }
        let received = self.socket.recv_from(buf);
        if matches!(&received, Err(e) if sockerr::classify(e) == Meaning::Timeout) {
            self.backlog.socket_emptied(before);
        }
        received
    }

    /// Switches the socket's mode, if it is not in it already.
    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        if self.nonblocking != nonblocking {
            self.socket.set_nonblocking(nonblocking)?;
            self.nonblocking = nonblocking;
        }
        Ok(())
    }

    /// Sets the socket's read timeout so the next receive returns by the room's next
    /// deadline (or the next summary). Only when it must change: waking a little early
    /// is cheap, a system call per datagram is not.
    fn arm(&mut self, now: Instant, summary_due: Option<Instant>) -> io::Result<()> {
        let deadline = [self.room.next_deadline(), summary_due]
            .into_iter()
            .flatten()
            .min();
        let left = deadline.map_or(MAX_SLEEP, |d| d.saturating_duration_since(now));
        let wanted = left.clamp(Duration::from_millis(1), MAX_SLEEP);
        if wanted < self.armed || wanted > 4 * self.armed {
            // Half the time left, so the timeout need not be set again until half of it
            // has passed: a few calls per deadline, however busy the socket.
            self.armed = (wanted / 2).max(Duration::from_millis(1));
            self.socket.set_read_timeout(Some(self.armed))?;
        }
        Ok(())
    }

    /// Runs every pending console command and sends its answer back; true when the
    /// server should stop.
    fn run_commands(&mut self, now: Instant, out: &mut Outbox) -> bool {
        loop {
            let (command, answer) = match self.commands.try_recv() {
                Ok(request) => request,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return false,
            };
            let text = match command {
                ConsoleCommand::Quit => {
                    info!(
                        "stopping: telling the clients ({} in the room)",
                        self.room.len()
                    );
                    self.room.shutdown(out);
                    let _ = answer.send("stopping".to_string());
                    return true;
                }
                ConsoleCommand::Who => self.who(now),
                ConsoleCommand::Kick(who) => match self.room.kick(&who, now, out) {
                    Some(label) => {
                        info!("kicked {label}");
                        format!("removed {label}")
                    }
                    None => format!("no one here is called {who}"),
                },
                ConsoleCommand::Say(text) => {
                    info!("said: {text}");
                    self.room.say(&text, out);
                    continue;
                }
                ConsoleCommand::Stats => self.stats(),
                ConsoleCommand::Topic(Some(text)) => {
                    info!("topic set: {text}");
                    self.room.set_topic(&text, "server", out);
                    continue;
                }
                ConsoleCommand::Topic(None) => match self.room.topic() {
                    Some((topic, by)) => Notice::Topic { topic, by }.to_string(),
                    None => Notice::NoTopic.to_string(),
                },
            };
            // The console may have given up waiting; the answer is then lost, harmlessly.
            let _ = answer.send(text);
        }
    }

    fn who(&self, now: Instant) -> String {
        let members = self.room.members(now);
        let mut text = format!("{} here", members.len());
        for member in members {
            let addr = member.addr.to_string();
            let shown = if member.label == addr {
                addr
            } else {
                format!("{} ({addr})", member.label)
            };
            text.push_str(&format!(
                "\n  {shown} idle {}",
                crate::proto::notice::short_duration(member.idle)
            ));
            if let Presence::Away { since, message } = &member.presence {
                let away =
                    crate::proto::notice::short_duration(now.saturating_duration_since(*since));
                match message.as_str() {
                    "" => text.push_str(&format!(", away {away}")),
                    message => text.push_str(&format!(", away {away}: {message}")),
                }
            }
        }
        text
    }

    fn stats(&self) -> String {
        let s = self.room.stats();
        format!(
            "members {}, received {}, broadcast {}, deliveries {}, dropped for rate {}, \
             refused (room full) {}, refused (host full) {}, too long {}, send errors {}, \
             presence notices skipped {}, \
             timed out {}, ignored from servers {}, drained while busy {}, queue drops {}, \
             queued at most {} bytes, in sessions {}, sessions opened {}, \
             ignored without session token {}, bad cookies/codes/tokens {}, \
             from addresses not yet proven {}, joined by code {}, repairs {}, \
             from impossible sources {}, removed as unreachable {}",
            self.room.len(),
            s.datagrams,
            s.broadcasts,
            self.deliveries,
            s.dropped_rate,
            s.refused_full,
            s.refused_host_full,
            s.too_long,
            self.send_errors,
            s.presence_skipped,
            s.timed_out,
            s.from_servers,
            self.backlog.queued(),
            self.backlog.dropped(),
            self.backlog.high_water(),
            self.room.sessions(),
            s.sessions_opened,
            s.forged,
            s.bad_credentials,
            s.unproven,
            s.joined_by_code,
            s.repairs,
            s.impossible_sources,
            s.unreachable
        )
    }

    /// Logs one line about drops if anything was dropped since the last such line and
    /// one may be logged now. Returns when the next line is due, if drops wait for it.
    fn log_drops(&mut self, now: Instant) -> Option<Instant> {
        let s = self.room.stats();
        let total = s.dropped_rate
            + s.refused_full
            + s.refused_host_full
            + s.too_long
            + s.presence_skipped
            + s.from_servers
            + self.backlog.dropped()
            + self.send_errors;
        if total == self.drops_logged {
            return None;
        }
        if now < self.next_summary {
            return Some(self.next_summary);
        }
        self.drops_logged = total;
        self.next_summary = now + SUMMARY_INTERVAL;
        info!(
            "dropping: {} for rate, {} refused (room full), {} refused (host full), {} too \
             long, {} presence notices skipped, {} from servers, {} queue drops, {} send \
             errors (totals since start)",
            s.dropped_rate,
            s.refused_full,
            s.refused_host_full,
            s.too_long,
            s.presence_skipped,
            s.from_servers,
            self.backlog.dropped(),
            self.send_errors
        );
        None
    }

    /// Sends what the room produced, draining the socket every [`DRAIN_EVERY`] sends; a
    /// failure to one client does not stop the rest.
    fn send_all(&mut self, out: &mut Outbox) {
        // A session's frame is put together here, in memory reused send after send.
        let mut frame = std::mem::take(&mut self.frame);
        // Destinations the system will never send to (a LAN's broadcast address).
        let mut refused: HashSet<SocketAddr> = HashSet::new();
        for (to, datagram) in out.iter() {
            self.count_busy(1);
            let bytes = datagram.bytes(&mut frame);
            let mut sent = self.socket.send_to(bytes, to);
            if matches!(&sent, Err(e) if e.kind() == ErrorKind::WouldBlock) {
                // Drained lately, the socket does not wait for room to send: it must.
                sent = self
                    .set_nonblocking(false)
                    .and_then(|()| self.socket.send_to(bytes, to));
            }
            match sent {
                Ok(_) => self.deliveries += 1,
                Err(e) => {
                    // Counted, and summed up in the log: one line per failure could
                    // flood it.
                    self.send_errors += 1;
                    debug!("send to {to}: {e}");
                    if sockerr::is_refused_destination(&e) {
                        refused.insert(to);
                    }
                }
            }
        }
        self.frame = frame;
        out.clear();
        // Each round removes members, so this ends; what the removals say is sent too.
        if !refused.is_empty() {
            let now = Instant::now();
            for addr in refused {
                self.room.cannot_reach(addr, now, out);
            }
            self.send_all(out);
        }
    }
}

impl Handle {
    /// Runs `command` on the room's thread, waking it at once, and returns its answer:
    /// `None` when it has none (`say`), or the server has stopped or did not answer.
    pub fn run(&self, command: ConsoleCommand) -> Option<String> {
        let wants_answer = !matches!(
            command,
            ConsoleCommand::Say(_) | ConsoleCommand::Topic(Some(_))
        );
        let (answer, answered) = mpsc::channel();
        self.commands.send((command, answer)).ok()?;
        if let Err(e) = self.waker.send_to(&self.wake_token, self.wake_addr) {
            warn!("cannot wake the server ({e}); the command runs at its next wake-up");
        }
        if !wants_answer {
            return None;
        }
        answered.recv_timeout(ANSWER_WAIT).ok()
    }
}

/// Reads console commands from `input` until `quit` or end of input, printing answers
/// to `output`.
///
/// End of input does not stop the server: run in the background or under a service
/// manager, stdin is empty from the start.
pub fn run_console(input: impl BufRead, output: &mut impl Write, handle: &Handle) {
    for line in input.lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        let command = match (word.to_ascii_lowercase().as_str(), rest) {
            ("", _) => continue,
            ("quit", "") => ConsoleCommand::Quit,
            ("who", "") => ConsoleCommand::Who,
            ("stats", "") => ConsoleCommand::Stats,
            ("kick", "") => {
                print_console(output, "usage: kick ADDR|NAME");
                continue;
            }
            ("kick", who) => ConsoleCommand::Kick(who.to_string()),
            ("say", "") => {
                print_console(output, "usage: say TEXT");
                continue;
            }
            ("say", text) => ConsoleCommand::Say(text.to_string()),
            ("topic", "") => ConsoleCommand::Topic(None),
            ("topic", text) => ConsoleCommand::Topic(Some(text.to_string())),
            _ => {
                print_console(output, CONSOLE_HELP);
                continue;
            }
        };
        let quit = command == ConsoleCommand::Quit;
        if let Some(answer) = handle.run(command) {
            if !quit {
                print_console(output, &answer);
            }
        }
        if quit {
            return;
        }
    }
    info!("console input closed; serving until killed");
}

/// A token no one else can guess: two words from std's hasher, whose keys are random
/// for each process.
fn random_token() -> [u8; 16] {
    let keys = RandomState::new();
    let mut token = [0u8; 16];
    for (i, chunk) in token.chunks_mut(8).enumerate() {
        let mut hasher = keys.build_hasher();
        hasher.write_usize(i);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    token
}

/// Whether a receive error is about one peer (or nothing), not the socket: an ICMP
/// error from an earlier send, or a signal.
fn is_about_a_peer(e: &io::Error) -> bool {
    matches!(
        sockerr::classify(e),
        Meaning::PortClosed | Meaning::Unreachable | Meaning::Transient
    )
}

/// Whether a server bound to `local` verifies addresses unless told `--open`: on
/// anything but loopback, where a forged source could make it an amplifier.
pub fn verifies_by_default(local: SocketAddr) -> bool {
    !local.ip().is_loopback()
}

/// The address a datagram sent to `local` comes from: a wildcard bind is reached on loopback.
fn loopback_of(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

fn print_console(output: &mut impl Write, text: &str) {
    // The console is best effort: a closed stdout must not stop it.
    let _ = writeln!(output, "{text}");
    let _ = output.flush();
}

#[cfg(test)]
mod tests;
