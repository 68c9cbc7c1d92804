//! The client: a connected socket, and threads that only move bytes around one
//! [`session::Session`], the client's state machine.
//!
//! A recv thread puts the server's datagrams in a bounded queue (dropping and counting
//! when it is full, so a flooding server cannot grow our memory), an input thread puts
//! typed lines in the same queue, and the main loop hands each to the session, sends
//! what it asks, prints what it shows and wakes for its heartbeats.

mod outgoing;
pub mod session;
pub mod split;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, ErrorKind, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::proto;
use session::{Action, Input, Random, Session};
pub use session::{Outcome, SessionConfig};

/// How long the recv thread blocks before it checks whether to stop; the longest a
/// clean exit waits for it.
const RECV_POLL: Duration = Duration::from_millis(200);
/// How long to wait for an ICMP "port unreachable" before trusting an address, when the
/// server's name resolved to several and a later one may be the live one.
const PROBE_WAIT: Duration = Duration::from_millis(150);
/// The most events waiting for the main loop: past it, the server's datagrams are
/// dropped and counted, so memory stays bounded.
pub const QUEUE_EVENTS: usize = 256;
/// The most bytes of the server's datagrams waiting for the main loop: so a typed line
/// (or `quit`) waits behind at most this much output, and memory stays small.
pub const QUEUE_BYTES: usize = 1 << 20;
/// Receive buffer size: larger than any UDP payload, so nothing is silently truncated.
const RECV_BUFFER: usize = 65_536;

/// What the client needs to know to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server as the user wrote it: `host:port`.
    pub server: String,
    /// What the session does.
    pub session: SessionConfig,
}

/// Why the client could not run.
#[derive(Debug)]
pub enum Error {
    /// The server's address could not be resolved.
    Resolve { server: String, source: io::Error },
    /// The server's name resolved to no address.
    NoAddress { server: String },
    /// A local socket operation failed.
    Socket(io::Error),
    /// Writing to the output failed.
    Output(io::Error),
}

/// A socket connected to a live-looking server address.
#[derive(Debug)]
struct Connected {
    socket: UdpSocket,
    /// A datagram that arrived while probing the address.
    first: Option<Vec<u8>>,
}

/// The server's port was found closed.
#[derive(Debug, Clone, Copy)]
struct Refused;

/// What the recv thread and the main loop share about the queue between them.
#[derive(Debug, Default)]
struct Backlog {
    /// Bytes of datagrams in the queue.
    bytes: AtomicUsize,
    /// Datagrams dropped because the queue was full, not yet told.
    dropped: AtomicU64,
}

/// What the other threads tell the main loop.
#[derive(Debug)]
enum Event {
    Line(String),
    InputClosed,
    Datagram(Vec<u8>),
    /// The server's port was found closed.
    Refused,
    Failed(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Resolve { server, source } => write!(
                f,
                "cannot resolve {server}: {}",
                crate::cli::describe_address_error(server, source)
            ),
            Error::NoAddress { server } => write!(f, "{server} resolves to no address"),
            Error::Socket(e) => write!(f, "socket error: {e}"),
            Error::Output(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Chats with the server until the user quits or the server goes down.
///
/// Lines are read from `input` and received lines are written to `output` as
/// `HH:MM:SS <line>`. The recv thread is joined before returning; a blocking read of
/// stdin cannot be interrupted, so the input thread ends with the process.
pub fn run(
    config: &Config,
    input: impl BufRead + std::marker::Send + 'static,
    output: &mut impl Write,
) -> Result<Outcome, Error> {
    let Some(Connected { socket, first }) = connect(&config.server)? else {
        return Ok(Outcome::ServerDown);
    };
    // Everything that can fail is done before the first thread starts.
    socket
        .set_read_timeout(Some(RECV_POLL))
        .map_err(Error::Socket)?;
    let recv_socket = socket.try_clone().map_err(Error::Socket)?;
    let (events, inbox) = mpsc::sync_channel(QUEUE_EVENTS);
    if let Some(datagram) = first {
        let _ = events.try_send(Event::Datagram(datagram));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let backlog = Arc::new(Backlog::default());
    let recv_thread = {
        let (events, stop, backlog) = (events.clone(), Arc::clone(&stop), Arc::clone(&backlog));
        thread::spawn(move || receive(&recv_socket, &events, &stop, &backlog))
    };
    thread::spawn(move || read_input(input, &events));

    let result = main_loop(&config.session, &socket, &inbox, &backlog, output);
    stop.store(true, Ordering::Relaxed);
    // Unblock a recv thread waiting on a full queue, then wait for it.
    drop(inbox);
    if recv_thread.join().is_err() {
        warn!("the recv thread panicked");
    }
    result
}

/// Feeds the session what happens and does what it asks, until it ends.
fn main_loop(
    config: &SessionConfig,
    socket: &UdpSocket,
    inbox: &mpsc::Receiver<Event>,
    backlog: &Backlog,
    output: &mut impl Write,
) -> Result<Outcome, Error> {
    let mut actions = Vec::new();
    let seed = RandomState::new().build_hasher().finish();
    let mut session = Session::start(
        config.clone(),
        Random::new(seed),
        Instant::now(),
        &mut actions,
    );
    loop {
        let mut refused = false;
        for action in actions.drain(..) {
            match action {
                Action::Send(datagram) => {
                    if send(socket, &datagram).is_err() {
                        refused = true;
                    }
                }
                Action::Show { text, bell } => {
                    if let Err(e) = print_line(output, &text, bell) {
                        let _ = send(socket, proto::QUIT);
                        return Err(Error::Output(e));
                    }
                }
                Action::End(outcome) => return Ok(outcome),
            }
        }
        if refused {
            session.handle(Input::Refused, Instant::now(), &mut actions);
            continue;
        }
        let received = match session.next_deadline() {
            Some(due) => inbox.recv_timeout(due.saturating_duration_since(Instant::now())),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let event = match received {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                session.handle_timeout(Instant::now(), &mut actions);
                continue;
            }
            // Every sender is gone, which only happens if the threads died.
            Err(RecvTimeoutError::Disconnected) => Event::InputClosed,
        };
        let now = Instant::now();
        match event {
            Event::Line(line) => session.handle(Input::Typed(&line), now, &mut actions),
            Event::InputClosed => session.handle(Input::InputClosed, now, &mut actions),
            Event::Datagram(datagram) => {
                backlog.bytes.fetch_sub(datagram.len(), Ordering::Relaxed);
                session.handle(Input::Datagram(&datagram), now, &mut actions);
            }
            Event::Refused => session.handle(Input::Refused, now, &mut actions),
            Event::Failed(e) => return Err(Error::Socket(e)),
        }
        let n = backlog.dropped.swap(0, Ordering::Relaxed);
        if n > 0 {
            session.handle(Input::Dropped(n), now, &mut actions);
        }
        session.handle_timeout(now, &mut actions);
    }
}

/// Sends one datagram. `Err(Refused)` when the send learns that the server's port is
/// closed: Linux reports the ICMP error once, to whichever call on the socket comes next.
/// Other failures are only logged, as UDP promises no delivery anyway.
fn send(socket: &UdpSocket, datagram: &[u8]) -> Result<(), Refused> {
    match socket.send(datagram) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Err(Refused),
        Err(e) => {
            warn!("cannot send: {e}");
            Ok(())
        }
    }
}

/// Writes `HH:MM:SS <line>` after a BEL if asked; the line is terminal-safe already.
fn print_line(output: &mut impl Write, text: &str, bell: bool) -> io::Result<()> {
    let time = chrono::Local::now().format("%H:%M:%S");
    let bell = if bell { "\x07" } else { "" };
    writeln!(output, "{bell}{time} {text}")?;
    output.flush()
}

/// Resolves the server and connects to the first address whose port is not closed.
///
/// Sends the first heartbeat. Returns `None` when every address refused.
fn connect(server: &str) -> Result<Option<Connected>, Error> {
    let addrs: Vec<SocketAddr> = server
        .to_socket_addrs()
        .map_err(|source| Error::Resolve {
            server: server.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::NoAddress {
            server: server.to_string(),
        });
    }
    for (i, &addr) in addrs.iter().enumerate() {
        let local: SocketAddr = match addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = match UdpSocket::bind(local).and_then(|s| s.connect(addr).map(|()| s)) {
            Ok(socket) => socket,
            Err(e) if i + 1 < addrs.len() => {
                debug!("cannot use {addr}: {e}");
                continue;
            }
            Err(e) => return Err(Error::Socket(e)),
        };
        match socket.send(proto::HEARTBEAT) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(Error::Socket(e)),
        }
        if i + 1 == addrs.len() {
            return Ok(Some(Connected {
                socket,
                first: None,
            }));
        }
        // Another address remains: give this one a moment to say its port is closed.
        socket
            .set_read_timeout(Some(PROBE_WAIT))
            .map_err(Error::Socket)?;
        let mut buf = vec![0u8; RECV_BUFFER];
        match socket.recv(&mut buf) {
            Ok(len) => {
                let first = Some(buf[..len].to_vec());
                return Ok(Some(Connected { socket, first }));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                debug!("{addr} refused; trying the next address");
            }
            Err(_) => {
                return Ok(Some(Connected {
                    socket,
                    first: None,
                }))
            }
        }
    }
    Ok(None)
}

/// The recv thread: forwards datagrams until told to stop or the socket fails. When
/// the queue is full (in events or in bytes) a datagram is dropped and counted; the
/// server's goodbye, its port found closed and a failure of the socket wait for room,
/// as they must not be lost.
fn receive(socket: &UdpSocket, events: &SyncSender<Event>, stop: &AtomicBool, backlog: &Backlog) {
    let mut buf = vec![0u8; RECV_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        let last = match socket.recv(&mut buf) {
            // The server's goodbye must not be lost to a full queue; the session may
            // wait for the server to come back, so receiving goes on.
            Ok(0) => {
                if events.send(Event::Datagram(Vec::new())).is_err() {
                    return;
                }
                continue;
            }
            Ok(len) => {
                if backlog.bytes.load(Ordering::Relaxed) + len > QUEUE_BYTES {
                    backlog.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                backlog.bytes.fetch_add(len, Ordering::Relaxed);
                match events.try_send(Event::Datagram(buf[..len].to_vec())) {
                    Ok(()) => continue,
                    Err(TrySendError::Full(_)) => {
                        backlog.bytes.fetch_sub(len, Ordering::Relaxed);
                        backlog.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Err(TrySendError::Disconnected(_)) => return,
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                // The session decides whether to wait for the server; this thread
                // keeps receiving for when it is back.
                if events.send(Event::Refused).is_err() {
                    return;
                }
                continue;
            }
            Err(e) => Event::Failed(e),
        };
        let _ = events.send(last);
        return;
    }
}

/// The input thread: forwards lines (decoded lossily, line end trimmed) until end of input.
fn read_input(mut input: impl BufRead, events: &SyncSender<Event>) {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {
                let line = proto::decode(proto::trim_line_end(&buf)).into_owned();
                if events.send(Event::Line(line)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                debug!("cannot read input: {e}");
                break;
            }
        }
    }
    let _ = events.send(Event::InputClosed);
}
