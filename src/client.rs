//! The client: a connected socket, a recv thread, a heartbeat thread and a stdin thread,
//! all reporting to one loop that owns the output.

use std::fmt;
use std::io::{self, BufRead, ErrorKind, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::proto::{self, notice, Reply};

/// How long the recv thread blocks before it checks whether to stop; the longest a
/// clean exit waits for it.
const RECV_POLL: Duration = Duration::from_millis(200);
/// How long a `/nick` may go unanswered before it counts as lost.
const NICK_ANSWER_WAIT: Duration = Duration::from_secs(2);
/// How long to wait for an ICMP "port unreachable" before trusting an address, when the
/// server's name resolved to several and a later one may be the live one.
const PROBE_WAIT: Duration = Duration::from_millis(150);

/// What the client needs to know to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server as the user wrote it: `host:port`.
    pub server: String,
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// Lines longer than this many bytes are sent as several messages.
    pub max_message_bytes: usize,
    /// A name to take with `/nick` right after joining.
    pub name: Option<String>,
    /// Ring the terminal bell on a private message, or a chat line mentioning our name.
    pub bell: bool,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The user typed `quit` or closed the input.
    Quit,
    /// The server said it is going away, or its port is closed.
    ServerDown,
    /// The server's operator removed us from the room.
    Removed,
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

/// Keeps our name in the room: learns it from the server's confirmations, and asks for
/// it again when the server welcomes us as a newcomer (after an eviction, a restart of
/// the server, or a start in a full room).
#[derive(Debug)]
struct NameKeeper {
    /// The name we want: `--name`, or the last one the server confirmed.
    wanted: Option<String>,
    /// Our name as the server knows it now.
    confirmed: Option<String>,
    /// When a `/nick` went out that is not answered yet. After [`NICK_ANSWER_WAIT`] it
    /// counts as lost (UDP), and the next welcome asks again.
    pending_since: Option<Instant>,
}

/// What the other threads tell the main loop.
#[derive(Debug)]
enum Event {
    Line(String),
    InputClosed,
    Datagram(Vec<u8>),
    ServerDown,
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
/// `HH:MM:SS <line>`. Every thread but the input reader is joined before returning;
/// a blocking read of stdin cannot be interrupted, so that one ends with the process.
pub fn run(
    config: &Config,
    input: impl BufRead + std::marker::Send + 'static,
    output: &mut impl Write,
) -> Result<Outcome, Error> {
    let Some(Connected { socket, first }) = connect(&config.server)? else {
        return Ok(Outcome::ServerDown);
    };
    if let Some(name) = &config.name {
        if let Err(outcome) = send(&socket, format!("/nick {name}").as_bytes()) {
            return Ok(outcome);
        }
    }
    socket
        .set_read_timeout(Some(RECV_POLL))
        .map_err(Error::Socket)?;
    let (events, inbox) = mpsc::channel();
    if let Some(datagram) = first {
        let _ = events.send(Event::Datagram(datagram));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_heartbeat, heartbeat_stopped) = mpsc::channel::<()>();

    let recv_thread = {
        let socket = socket.try_clone().map_err(Error::Socket)?;
        let (events, stop) = (events.clone(), Arc::clone(&stop));
        thread::spawn(move || receive(&socket, &events, &stop))
    };
    let heartbeat_thread = {
        let socket = socket.try_clone().map_err(Error::Socket)?;
        let (events, interval) = (events.clone(), config.heartbeat);
        thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = heartbeat_stopped.recv_timeout(interval) {
                if send(&socket, proto::HEARTBEAT).is_err() {
                    let _ = events.send(Event::ServerDown);
                    return;
                }
            }
        })
    };
    thread::spawn(move || read_input(input, &events));

    let result = chat(config, &socket, &inbox, output);
    stop.store(true, Ordering::Relaxed);
    drop(stop_heartbeat);
    for (name, thread) in [("recv", recv_thread), ("heartbeat", heartbeat_thread)] {
        if thread.join().is_err() {
            warn!("the {name} thread panicked");
        }
    }
    result
}

/// The main loop: sends what the user types, prints what the server sends.
fn chat(
    config: &Config,
    socket: &UdpSocket,
    inbox: &mpsc::Receiver<Event>,
    output: &mut impl Write,
) -> Result<Outcome, Error> {
    let mut name = NameKeeper::new(config.name.clone(), Instant::now());
    while let Ok(event) = inbox.recv() {
        match event {
            Event::Line(line) => {
                if line.trim().as_bytes().eq_ignore_ascii_case(proto::QUIT) {
                    return Ok(leave(socket));
                }
                if line.trim().is_empty() {
                    continue;
                }
                for piece in proto::split_typed_line(&line, config.max_message_bytes) {
                    if let Err(outcome) = send(socket, piece.as_bytes()) {
                        return Ok(outcome);
                    }
                }
            }
            Event::InputClosed => return Ok(leave(socket)),
            Event::Datagram(datagram) => match proto::parse_reply(&datagram) {
                Reply::ServerGone => return Ok(Outcome::ServerDown),
                Reply::Line(line) => {
                    let text = proto::decode(line);
                    if as_notice(&text) == Some(notice::REMOVED) {
                        return Ok(Outcome::Removed);
                    }
                    if let Some(request) = name.on_line(&text, Instant::now()) {
                        if let Err(outcome) = send(socket, request.as_bytes()) {
                            return Ok(outcome);
                        }
                    }
                    let bell = config.bell && should_ring(&text, name.confirmed());
                    if let Err(e) = print_line(output, &text, bell) {
                        leave(socket);
                        return Err(Error::Output(e));
                    }
                }
            },
            Event::ServerDown => return Ok(Outcome::ServerDown),
            Event::Failed(e) => return Err(Error::Socket(e)),
        }
    }
    // Every sender is gone, which only happens if the threads died.
    Ok(leave(socket))
}

impl NameKeeper {
    /// `wanted` is `--name`; its first `/nick` was sent by [`run`] with the heartbeat.
    fn new(wanted: Option<String>, now: Instant) -> NameKeeper {
        NameKeeper {
            pending_since: wanted.as_ref().map(|_| now),
            wanted,
            confirmed: None,
        }
    }

    fn confirmed(&self) -> Option<&str> {
        self.confirmed.as_deref()
    }

    /// Reads a line from the server; returns a `/nick` to send, if one is needed.
    fn on_line(&mut self, line: &str, now: Instant) -> Option<String> {
        let text = as_notice(line)?;
        let refused = [notice::ROOM_FULL, notice::SLOW_DOWN]
            .iter()
            .chain(&notice::NAME_REFUSED)
            .any(|start| text.starts_with(start));
        if let Some(name) = text.strip_prefix(notice::NOW_CALLED) {
            self.confirmed = Some(name.to_string());
            self.wanted = Some(name.to_string());
            self.pending_since = None;
        } else if refused {
            // Answered (no), or never reached the room: the next welcome tries again.
            self.pending_since = None;
        } else if let Some(rest) = text.strip_prefix(notice::WELCOME) {
            // The server may have kept our name for our address: then all is well.
            let shown = rest.split(" (").next().unwrap_or(rest);
            if self.wanted.as_deref() == Some(shown) {
                self.confirmed = Some(shown.to_string());
                self.pending_since = None;
                return None;
            }
            self.confirmed = None;
            let pending = self
                .pending_since
                .is_some_and(|since| now.saturating_duration_since(since) < NICK_ANSWER_WAIT);
            if !pending {
                let wanted = self.wanted.as_ref()?;
                self.pending_since = Some(now);
                return Some(format!("/nick {wanted}"));
            }
        }
        None
    }
}

/// Sends one datagram. `Err(ServerDown)` when the send learns that the server's port is
/// closed: Linux reports the ICMP error once, to whichever call on the socket comes next.
/// Other failures are only logged, as UDP promises no delivery anyway.
fn send(socket: &UdpSocket, datagram: &[u8]) -> Result<(), Outcome> {
    match socket.send(datagram) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Err(Outcome::ServerDown),
        Err(e) => {
            warn!("cannot send: {e}");
            Ok(())
        }
    }
}

/// Tells the server we leave.
fn leave(socket: &UdpSocket) -> Outcome {
    if let Err(e) = socket.send(proto::QUIT) {
        debug!("cannot send quit: {e}");
    }
    Outcome::Quit
}

/// Writes `HH:MM:SS <line>`, with terminal controls made harmless, after a BEL if asked.
fn print_line(output: &mut impl Write, text: &str, bell: bool) -> io::Result<()> {
    let time = chrono::Local::now().format("%H:%M:%S");
    let bell = if bell { "\x07" } else { "" };
    writeln!(
        output,
        "{bell}{time} {}",
        proto::sanitize_for_terminal(text)
    )?;
    output.flush()
}

/// Whether a line from the server deserves the bell: a private message to us, or
/// someone else's chat line that mentions our name as a word.
fn should_ring(line: &str, own_name: Option<&str>) -> bool {
    if as_notice(line).is_some_and(|text| text.starts_with(notice::PRIVATE_FROM)) {
        return true;
    }
    if line.starts_with(proto::NOTICE_PREFIX) {
        return false;
    }
    let Some(name) = own_name else {
        return false;
    };
    match line.split_once(' ') {
        Some((sender, text)) => !sender.eq_ignore_ascii_case(name) && proto::mentions(text, name),
        None => false,
    }
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
        let mut buf = vec![0u8; proto::RECV_BUFFER];
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

/// The recv thread: forwards datagrams until told to stop or the server is down.
fn receive(socket: &UdpSocket, events: &Sender<Event>, stop: &AtomicBool) {
    let mut buf = vec![0u8; proto::RECV_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        let event = match socket.recv(&mut buf) {
            Ok(len) => Event::Datagram(buf[..len].to_vec()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Event::ServerDown,
            Err(e) => Event::Failed(e),
        };
        let last = matches!(event, Event::ServerDown | Event::Failed(_));
        if events.send(event).is_err() || last {
            return;
        }
    }
}

/// The text of a server notice, without its `* `; `None` for a chat line.
fn as_notice(line: &str) -> Option<&str> {
    line.strip_prefix(proto::NOTICE_PREFIX)
}

/// The input thread: forwards lines (decoded lossily, line end trimmed) until end of input.
fn read_input(mut input: impl BufRead, events: &Sender<Event>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_asked_for_again_when_welcomed_after_having_it() {
        let t = Instant::now();
        let mut name = NameKeeper::new(Some("alice".into()), t);
        // The first /nick went out with the heartbeat: its welcome asks for nothing.
        assert_eq!(
            name.on_line(
                "* you joined as 127.0.0.1:5 (1 here; /help for commands)",
                t
            ),
            None
        );
        assert_eq!(name.on_line("* you are now alice", t), None);
        assert_eq!(name.confirmed(), Some("alice"));
        // Evicted and back: welcomed again.
        let again = name.on_line(
            "* you joined as 127.0.0.1:5 (2 here; /help for commands)",
            t,
        );
        assert_eq!(again.as_deref(), Some("/nick alice"));
        assert_eq!(name.confirmed(), None);
        assert_eq!(
            name.on_line("* you joined as x (2 here)", t),
            None,
            "still pending"
        );
    }

    #[test]
    fn a_name_the_server_kept_is_not_asked_for_again() {
        let t = Instant::now();
        let mut name = NameKeeper::new(Some("alice".into()), t);
        name.on_line("* you are now alice", t);
        assert_eq!(
            name.on_line("* you joined as alice (2 here; /help for commands)", t),
            None
        );
        assert_eq!(name.confirmed(), Some("alice"));
    }

    #[test]
    fn a_start_in_a_full_room_takes_the_name_once_let_in() {
        let t = Instant::now();
        let mut name = NameKeeper::new(Some("hank".into()), t);
        assert_eq!(name.on_line("* room is full (1 client)", t), None);
        let later = name.on_line(
            "* you joined as 127.0.0.1:5 (1 here; /help for commands)",
            t,
        );
        assert_eq!(later.as_deref(), Some("/nick hank"));
    }

    #[test]
    fn a_name_chosen_later_is_the_one_kept() {
        let t = Instant::now();
        let mut name = NameKeeper::new(None, t);
        assert_eq!(
            name.on_line("* you joined as 127.0.0.1:5 (1 here)", t),
            None
        );
        name.on_line("* you are now zed", t);
        assert_eq!(
            name.on_line("* you joined as 127.0.0.1:5 (1 here)", t)
                .as_deref(),
            Some("/nick zed")
        );
        assert_eq!(name.on_line("* the name zed is taken", t), None);
        assert_eq!(
            name.on_line("* you joined as 127.0.0.1:5 (1 here)", t)
                .as_deref(),
            Some("/nick zed")
        );
    }

    #[test]
    fn a_lost_nick_is_asked_for_again_at_a_later_welcome() {
        let t = Instant::now();
        let mut name = NameKeeper::new(Some("ivy".into()), t);
        let welcome = "* you joined as 127.0.0.1:5 (1 here; /help for commands)";
        assert_eq!(
            name.on_line(welcome, t),
            None,
            "the first /nick may still be on its way"
        );
        let later = t + NICK_ANSWER_WAIT;
        assert_eq!(name.on_line(welcome, later).as_deref(), Some("/nick ivy"));
    }

    #[test]
    fn bell_rings_for_mentions_by_others_and_private_messages() {
        let me = Some("alice");
        assert!(should_ring("bob hey Alice, look", me));
        assert!(should_ring("127.0.0.1:5000 alice?", me));
        assert!(should_ring("* private from bob: psst", me));
        assert!(should_ring("* private from bob: psst", None));
    }

    #[test]
    fn bell_stays_quiet_otherwise() {
        let me = Some("alice");
        assert!(!should_ring("alice I am alice", me), "our own line");
        assert!(
            !should_ring("ALICE shouting my own name", me),
            "our own line, any case"
        );
        assert!(!should_ring("bob malice", me), "not a whole word");
        assert!(!should_ring("* alice joined", me), "other notices");
        assert!(!should_ring("* private to bob: hi alice", me));
        assert!(!should_ring("bob hi alice", None), "no name, no mention");
    }
}
