//! The server's socket loop and its console.
//!
//! One thread owns the socket's receiving side and the [`Room`]; the console talks to it
//! through a channel plus a wake-up datagram, so no state is shared behind a lock.

use std::io::{self, BufRead, ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::proto;
use crate::room::{Config, Outbox, Room};

/// A request from the console to the recv thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCommand {
    /// Tell every member the server is going away, then stop.
    Quit,
    /// Print the members and how long each has been idle.
    Who,
    /// Remove a member, named by its name or address.
    Kick(String),
    /// Broadcast `* server: TEXT`.
    Say(String),
    /// Print what the limits did.
    Stats,
}

/// What the console prints for anything it does not understand.
const CONSOLE_HELP: &str = "commands: who (list clients), kick ADDR|NAME (remove one), \
                            say TEXT (tell everyone), stats (counters), quit (stop the server)";
/// The least time between two log lines summing up dropped datagrams.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// The recv loop with its room, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    socket: UdpSocket,
    room: Room,
    commands: Receiver<ConsoleCommand>,
    /// Where the console's wake-up datagrams come from (the socket's own address).
    wake_addr: SocketAddr,
    /// How long a receive waits before the loop checks for evictions anyway.
    tick: Duration,
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
    commands: Sender<ConsoleCommand>,
    waker: UdpSocket,
    wake_addr: SocketAddr,
}

impl Server {
    /// Prepares a server on a bound socket; the [`Handle`] controls it from other threads.
    pub fn new(socket: UdpSocket, config: Config) -> io::Result<(Server, Handle)> {
        let wake_addr = loopback_of(socket.local_addr()?);
        // Wake at least once a second, and often enough that a short timeout is honoured
        // within a fraction of itself.
        let tick = (config.timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        socket.set_read_timeout(Some(tick))?;
        let (sender, commands) = mpsc::channel();
        let handle = Handle {
            commands: sender,
            waker: socket.try_clone()?,
            wake_addr,
        };
        let server = Server {
            socket,
            room: Room::new(config, Instant::now()),
            deliveries: 0,
            send_errors: 0,
            drops_logged: 0,
            next_summary: Instant::now(),
            commands,
            wake_addr,
            tick,
        };
        Ok((server, handle))
    }

    /// Serves until a [`ConsoleCommand::Quit`] arrives. Returns an error only if the socket
    /// fails in a way that receiving again cannot cure.
    pub fn run(mut self) -> io::Result<()> {
        let mut buf = vec![0u8; proto::RECV_BUFFER];
        let mut out = Outbox::new();
        info!(
            "listening on {} (timeout {:?}, wake-up every {:?})",
            self.socket.local_addr()?,
            self.room.config().timeout,
            self.tick
        );
        loop {
            let received = self.socket.recv_from(&mut buf);
            let now = Instant::now();
            match received {
                Ok((len, from)) if from == self.wake_addr => {
                    debug!("wake-up datagram of {len} bytes");
                }
                Ok((len, from)) => self.room.handle_datagram(&buf[..len], from, now, &mut out),
                Err(e) if is_tick(&e) => {}
                Err(e) if is_transient(&e) => debug!("receive: {e}"),
                Err(e) => return Err(e),
            }
            self.room.tick(now, &mut out);
            let stop = self.run_commands(&mut out);
            self.send_all(&mut out);
            if now >= self.next_summary && self.log_drops() {
                self.next_summary = now + SUMMARY_INTERVAL;
            }
            if stop {
                info!("stopped");
                return Ok(());
            }
        }
    }

    /// Runs every pending console command; true when the server should stop.
    fn run_commands(&mut self, out: &mut Outbox) -> bool {
        loop {
            let command = match self.commands.try_recv() {
                Ok(command) => command,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return false,
            };
            match command {
                ConsoleCommand::Quit => {
                    info!(
                        "stopping: telling the clients ({} in the room)",
                        self.room.len()
                    );
                    self.room.shutdown(out);
                    return true;
                }
                ConsoleCommand::Who => print_console(&self.who()),
                ConsoleCommand::Kick(who) => match self.room.kick(&who, Instant::now(), out) {
                    Some(label) => print_console(&format!("removed {label}")),
                    None => print_console(&format!("no one here is called {who}")),
                },
                ConsoleCommand::Say(text) => self.room.say(&text, out),
                ConsoleCommand::Stats => print_console(&self.stats()),
            }
        }
    }

    fn who(&self) -> String {
        let members = self.room.members(Instant::now());
        let mut text = format!("{} here", members.len());
        for member in members {
            let addr = member.addr.to_string();
            let shown = if member.label == addr {
                addr
            } else {
                format!("{} ({addr})", member.label)
            };
            text.push_str(&format!(
                "\n  {shown} idle {:.1}s",
                member.idle.as_secs_f64()
            ));
        }
        text
    }

    fn stats(&self) -> String {
        let s = self.room.stats();
        format!(
            "members {}, received {}, broadcast {}, deliveries {}, dropped for rate {}, \
             refused (room full) {}, too long {}, send errors {}, presence notices skipped {}",
            self.room.len(),
            s.datagrams,
            s.broadcasts,
            self.deliveries,
            s.dropped_rate,
            s.refused_full,
            s.too_long,
            self.send_errors,
            s.presence_skipped
        )
    }

    /// Logs one line about drops if anything was dropped since the last such line;
    /// true if it did.
    fn log_drops(&mut self) -> bool {
        let s = self.room.stats();
        let total =
            s.dropped_rate + s.refused_full + s.too_long + s.presence_skipped + self.send_errors;
        if total == self.drops_logged {
            return false;
        }
        self.drops_logged = total;
        warn!(
            "dropping: {} for rate, {} refused (room full), {} too long, {} presence notices \
             skipped, {} send errors (totals since start)",
            s.dropped_rate, s.refused_full, s.too_long, s.presence_skipped, self.send_errors
        );
        true
    }

    /// Sends what the room produced; a failure to one client does not stop the rest.
    fn send_all(&mut self, out: &mut Outbox) {
        for (to, datagram) in out.iter() {
            match self.socket.send_to(datagram, to) {
                Ok(_) => self.deliveries += 1,
                Err(e) => {
                    // Counted, and summed up in the log: one line per failure could
                    // flood it.
                    self.send_errors += 1;
                    debug!("send to {to}: {e}");
                }
            }
        }
        out.clear();
    }
}

impl Handle {
    /// Queues `command` and wakes the recv thread so it runs at once.
    pub fn send(&self, command: ConsoleCommand) {
        if self.commands.send(command).is_err() {
            return; // The server has stopped already.
        }
        if let Err(e) = self.waker.send_to(&[], self.wake_addr) {
            warn!("cannot wake the server ({e}); the command runs within a second");
        }
    }
}

/// Reads console commands from `input` until `quit` or end of input.
///
/// End of input does not stop the server: run in the background or under a service
/// manager, stdin is empty from the start.
pub fn run_console(input: impl BufRead, handle: &Handle) {
    for line in input.lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match (word.to_ascii_lowercase().as_str(), rest) {
            ("", _) => {}
            ("quit", "") => {
                handle.send(ConsoleCommand::Quit);
                return;
            }
            ("who", "") => handle.send(ConsoleCommand::Who),
            ("stats", "") => handle.send(ConsoleCommand::Stats),
            ("kick", "") => print_console("usage: kick ADDR|NAME"),
            ("kick", who) => handle.send(ConsoleCommand::Kick(who.to_string())),
            ("say", "") => print_console("usage: say TEXT"),
            ("say", text) => handle.send(ConsoleCommand::Say(text.to_string())),
            _ => print_console(CONSOLE_HELP),
        }
    }
    info!("console input closed; serving until killed");
}

/// Whether a receive error is just the read timeout expiring (`WouldBlock` on Unix,
/// `TimedOut` on Windows).
fn is_tick(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Whether a receive error says nothing about our socket: an ICMP error from a past
/// send (reported by Windows on unconnected sockets), or a signal.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused | ErrorKind::Interrupted
    )
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

fn print_console(text: &str) {
    let mut stdout = io::stdout().lock();
    // The console is best effort: a closed stdout must not stop the server.
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}
