//! The client: a connected socket, and threads that only move bytes around one
//! [`session::Session`], the client's state machine.
//!
//! A recv thread puts the server's datagrams in a bounded queue (dropping and counting
//! when it is full, so a flooding server cannot grow our memory, and dropping unseen
//! what the session's [`session::Gate`] judges forged), an input thread puts
//! typed lines in the same queue, and the main loop hands each to the session, sends
//! what it asks, prints what it shows and wakes for its heartbeats.

pub mod editor;
pub mod inbound;
pub mod roster;
pub mod screen;
pub mod session;
pub mod split;
pub mod style;
pub mod terminal;
pub mod transcript;
pub mod width;

use std::fmt;
use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::proto;
use crate::sockerr::{self, Meaning};
use editor::{Candidates, Edit, Editor, Key, KeyDecoder};
use screen::Prompt;
pub use screen::Screen;
use session::{Action, Gate, Input, Random, Session, Verdict};
pub use session::{Outcome, SessionConfig};
use transcript::Transcript;

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
/// The longest the main loop waits without looking at its clock.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// How much later than it asked to be woken the main loop may wake before it takes
/// the process for having been stopped (Ctrl-Z, a suspended machine).
const CLOCK_JUMP: Duration = Duration::from_secs(2);
/// How often the interactive client reads the terminal's size again (std has no
/// signal for a resize); Ctrl-L reads it at once.
const SIZE_READ_EVERY: Duration = Duration::from_secs(2);

/// What the client needs to know to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server as the user wrote it: `host:port`.
    pub server: String,
    /// Where to append what the person sees (`--log`), if anywhere.
    pub log: Option<PathBuf>,
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
    /// The transcript (`--log`) could not be opened, or its first line written.
    Log { path: PathBuf, source: io::Error },
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
#[derive(Debug)]
struct Backlog {
    /// Bytes of datagrams in the queue.
    bytes: AtomicUsize,
    /// Datagrams dropped because the queue was full, not yet told.
    dropped: AtomicU64,
    /// Which datagrams the session wants, as of its last step.
    gate: Mutex<Gate>,
    /// Datagrams dropped unseen as forged, not yet told.
    forged: AtomicU64,
}

/// The interactive terminal the client draws on: how it draws, and the raw mode it
/// holds (to leave and take again around a stop).
#[derive(Debug)]
pub struct Terminal<'a> {
    pub screen: Screen,
    pub raw: &'a terminal::RawMode,
}

/// How the user types and reads: lines on a pipe, or an input line on a terminal.
#[derive(Debug)]
enum Front<'a> {
    Lines,
    Terminal {
        raw: &'a terminal::RawMode,
        screen: Screen,
        /// Boxed: the editor is large, and `Lines` holds nothing.
        editor: Box<Editor>,
        decoder: KeyDecoder,
        /// The names in the room, for Tab.
        roster: roster::Roster,
        /// The prompt as last drawn.
        prompt: Prompt,
        /// When the terminal's size was last read: no signal tells us it changed.
        size_read: Instant,
    },
}

/// What the other threads tell the main loop.
#[derive(Debug)]
enum Event {
    Line(String),
    /// Bytes from a terminal in raw mode.
    Keys(Vec<u8>),
    InputClosed,
    Datagram(Vec<u8>),
    /// The server's port was found closed.
    Refused,
    Failed(io::Error),
    /// Nothing to hand on: counters changed (forged datagrams dropped unseen).
    Wake,
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
            Error::Log { path, source } => write!(
                f,
                "cannot open the log {}: {}",
                proto::terminal_safe(&path.display().to_string()),
                crate::cli::plain_error(source)
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Chats with the server until the user quits or the server goes down.
///
/// Without `screen`, lines are read from `input` and received lines are written to
/// `output` as `HH:MM:SS <line>`. With a `screen` (a terminal in raw mode), `input`
/// gives keys for the line editor and `output` shows the room above the input line.
/// With a `log`, every line shown is appended to it too (see [`transcript`]).
/// The recv thread is joined before returning; a blocking read of stdin cannot be
/// interrupted, so the input thread ends with the process.
pub fn run(
    config: &Config,
    input: impl Read + std::marker::Send + 'static,
    output: &mut impl Write,
    terminal: Option<Terminal<'_>>,
) -> Result<Outcome, Error> {
    // Opened first: a log that cannot be written sends nothing to the server.
    let mut transcript = match &config.log {
        Some(path) => Transcript::open(path).map_err(|source| Error::Log {
            path: path.clone(),
            source,
        })?,
        None => Transcript::off(),
    };
    let Some(Connected { socket, first }) = connect(&config.server)? else {
        return Ok(Outcome::ServerDown);
    };
    // Everything that can fail is done before the first thread starts.
    socket
        .set_read_timeout(Some(RECV_POLL))
        .map_err(Error::Socket)?;
    let recv_socket = socket.try_clone().map_err(Error::Socket)?;
    let (events, inbox) = mpsc::sync_channel(QUEUE_EVENTS);
    let backlog = Arc::new(Backlog {
        bytes: AtomicUsize::new(0),
        dropped: AtomicU64::new(0),
        gate: Mutex::new(Gate::open()),
        forged: AtomicU64::new(0),
    });
    if let Some(datagram) = first {
        backlog.bytes.fetch_add(datagram.len(), Ordering::Relaxed);
        let _ = events.try_send(Event::Datagram(datagram));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let recv_thread = {
        let (events, stop, backlog) = (events.clone(), Arc::clone(&stop), Arc::clone(&backlog));
        thread::spawn(move || receive(&recv_socket, &events, &stop, &backlog))
    };
    let mut front = match terminal {
        Some(Terminal { screen, raw }) => {
            thread::spawn(move || read_keys(input, &events));
            Front::Terminal {
                raw,
                screen,
                editor: Box::new(Editor::new()),
                decoder: KeyDecoder::default(),
                roster: roster::Roster::new(),
                prompt: Prompt::default(),
                size_read: Instant::now(),
            }
        }
        None => {
            thread::spawn(move || read_input(io::BufReader::new(input), &events));
            Front::Lines
        }
    };
    let result = main_loop(
        &config.session,
        &socket,
        &inbox,
        &backlog,
        &mut front,
        output,
        &mut transcript,
    );
    if let Front::Terminal { screen, .. } = &front {
        let _ = output.write_all(&screen.clear_input_line());
        let _ = output.flush();
    }
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
    front: &mut Front,
    output: &mut impl Write,
    transcript: &mut Transcript,
) -> Result<Outcome, Error> {
    let mut actions = Vec::new();
    let mut session = Session::start(
        config.clone(),
        Random::from_entropy(),
        Instant::now(),
        &mut actions,
    );
    front.redraw(&session, output).map_err(Error::Output)?;
    loop {
        // The receiving thread judges by the gate of the session as it is now, before
        // what it does next is sent: a hello sent as a session is given up must find
        // its cookie let through.
        if let Ok(mut gate) = backlog.gate.lock() {
            *gate = session.gate();
        }
        let mut refused = false;
        // What is about to be shown goes to the `--log` transcript too.
        actions.extend(transcript.record(&actions, chrono::Local::now()));
        for action in actions.drain(..) {
            match action {
                Action::Send(datagram) => {
                    if send(socket, &datagram).is_err() {
                        refused = true;
                    }
                }
                Action::Show { text, bell } => {
                    if let Err(e) = front.show(&session, output, None, &text, bell) {
                        let _ = send(socket, proto::QUIT);
                        return Err(Error::Output(e));
                    }
                }
                Action::ShowEarlier { text, age } => {
                    let said_at = age.and_then(|age| {
                        let age = chrono::Duration::from_std(age).ok()?;
                        Some((chrono::Local::now() - age).format("%H:%M").to_string())
                    });
                    let mark = screen::earlier_mark(said_at.as_deref());
                    if let Err(e) = front.show(&session, output, Some(&mark), &text, false) {
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
        front
            .update_prompt(&session, output)
            .map_err(Error::Output)?;
        if let Ok(mut gate) = backlog.gate.lock() {
            *gate = session.gate();
        }
        let deadline = session.next_deadline();
        // At most a second's wait, so a stop is noticed however far the deadline.
        let wake = deadline.map_or(Instant::now() + MAX_WAIT, |due| {
            due.min(Instant::now() + MAX_WAIT)
        });
        let received = inbox.recv_timeout(wake.saturating_duration_since(Instant::now()));
        // Woken long after what it waited for: the process was stopped (Ctrl-Z, a
        // suspended machine). The terminal may have been put back in cooked mode.
        let now = Instant::now();
        let late = now.saturating_duration_since(wake);
        if late >= CLOCK_JUMP {
            front.resumed(&session, output).map_err(Error::Output)?;
            session.handle(Input::Resumed(late), now, &mut actions);
        }
        let event = match received {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|due| now >= due) {
                    session.handle_timeout(now, &mut actions);
                }
                continue;
            }
            // Every sender is gone, which only happens if the threads died.
            Err(RecvTimeoutError::Disconnected) => Event::InputClosed,
        };
        match event {
            Event::Line(line) => session.handle(Input::Typed(&line), now, &mut actions),
            Event::Keys(bytes) => {
                let keyed = front
                    .keys(&bytes, &session, output)
                    .map_err(Error::Output)?;
                for typed in keyed.typed {
                    session.handle(Input::Typed(&typed), now, &mut actions);
                }
                if keyed.interrupted {
                    session.handle(Input::Interrupt, now, &mut actions);
                }
                if keyed.suspended {
                    let stopped = Instant::now();
                    front.stop(&session, output).map_err(Error::Output)?;
                    let now = Instant::now();
                    session.handle(Input::Resumed(now - stopped), now, &mut actions);
                    // Time has moved on: the rest waits for the next turn.
                    continue;
                }
            }
            Event::InputClosed => session.handle(Input::InputClosed, now, &mut actions),
            Event::Datagram(datagram) => {
                backlog.bytes.fetch_sub(datagram.len(), Ordering::Relaxed);
                session.handle(Input::Datagram(&datagram), now, &mut actions);
            }
            Event::Refused => session.handle(Input::Refused, now, &mut actions),
            Event::Failed(e) => return Err(Error::Socket(e)),
            Event::Wake => {}
        }
        let n = backlog.dropped.swap(0, Ordering::Relaxed);
        if n > 0 {
            session.handle(Input::Dropped(n), now, &mut actions);
        }
        let n = backlog.forged.swap(0, Ordering::Relaxed);
        if n > 0 {
            session.handle(Input::Forged(n), now, &mut actions);
        }
        session.handle_timeout(now, &mut actions);
    }
}

impl Front<'_> {
    /// Shows a line from the session, after the time, or after `mark` instead.
    fn show(
        &mut self,
        session: &Session,
        output: &mut impl Write,
        mark: Option<&str>,
        text: &str,
        bell: bool,
    ) -> io::Result<()> {
        if let Front::Terminal { roster, .. } = self {
            roster.learn(text);
        }
        let time = match mark {
            Some(mark) => mark.to_string(),
            None => chrono::Local::now().format("%H:%M:%S").to_string(),
        };
        match self {
            Front::Lines => print_line(output, &time, text, bell),
            Front::Terminal {
                screen,
                editor,
                prompt,
                size_read,
                ..
            } => {
                refresh_size(screen, size_read);
                *prompt = prompt_of(session);
                let earlier = mark.is_some();
                output
                    .write_all(&screen.print_above(&time, earlier, text, bell, prompt, editor))?;
                output.flush()
            }
        }
    }

    /// Draws the input line again if the prompt changed (a name, lines queued, away).
    fn update_prompt(&mut self, session: &Session, output: &mut impl Write) -> io::Result<()> {
        if let Front::Terminal { prompt, .. } = self {
            if *prompt != prompt_of(session) {
                return self.redraw(session, output);
            }
        }
        Ok(())
    }

    /// Ctrl-Z: the terminal as it was, the process stopped until `fg`, then raw input
    /// and the input line again.
    fn stop(&mut self, session: &Session, output: &mut impl Write) -> io::Result<()> {
        if let Front::Terminal { raw, screen, .. } = self {
            output.write_all(&screen.clear_input_line())?;
            output.flush()?;
            raw.suspend();
            terminal::stop_self();
            raw.resume();
        }
        self.redraw(session, output)
    }

    /// The process ran again after a stop it did not ask for (SIGSTOP, a suspended
    /// machine): the shell may have put the terminal back in cooked mode meanwhile.
    fn resumed(&mut self, session: &Session, output: &mut impl Write) -> io::Result<()> {
        if let Front::Terminal { raw, .. } = self {
            raw.resume();
        }
        self.redraw(session, output)
    }

    /// Draws the input line.
    fn redraw(&mut self, session: &Session, output: &mut impl Write) -> io::Result<()> {
        if let Front::Terminal {
            screen,
            editor,
            prompt,
            ..
        } = self
        {
            *prompt = prompt_of(session);
            output.write_all(&screen.input_line(prompt, editor))?;
            output.flush()?;
        }
        Ok(())
    }

    /// Feeds keys to the line editor; returns the lines to send, and whether Ctrl-C (or
    /// Ctrl-D on an empty line) asked to leave.
    fn keys(
        &mut self,
        bytes: &[u8],
        session: &Session,
        output: &mut impl Write,
    ) -> io::Result<Keyed> {
        let Front::Terminal {
            screen,
            editor,
            decoder,
            roster,
            size_read,
            ..
        } = self
        else {
            return Ok(Keyed::default());
        };
        refresh_size(screen, size_read);
        let mut typed = Vec::new();
        let mut redraw = false;
        let mut interrupted = false;
        let mut suspended = false;
        for key in decoder.feed(bytes) {
            // The names are gathered only for Tab, which completes from them.
            let names: Vec<&str> = match key {
                Key::Tab => roster.names().collect(),
                _ => Vec::new(),
            };
            let candidates = Candidates {
                names: &names,
                commands: proto::command::COMMANDS,
            };
            match editor.key_completing(key, candidates) {
                Edit::Submit(line) => {
                    typed.push(line);
                    redraw = true;
                }
                Edit::Leave => interrupted = true,
                Edit::Suspend => suspended = terminal::CAN_STOP,
                Edit::Changed => redraw = true,
                Edit::Redraw => {
                    if let Some((_, columns)) = terminal::size() {
                        screen.columns = columns;
                    }
                    output.write_all(b"\x1b[2J\x1b[H")?;
                    redraw = true;
                }
                Edit::Nothing => {}
            }
        }
        if redraw {
            self.redraw(session, output)?;
        }
        Ok(Keyed {
            typed,
            interrupted,
            suspended,
        })
    }
}

/// Reads the terminal's width again if [`SIZE_READ_EVERY`] has passed since last time.
fn refresh_size(screen: &mut Screen, size_read: &mut Instant) {
    if size_read.elapsed() >= SIZE_READ_EVERY {
        *size_read = Instant::now();
        if let Some((_, columns)) = terminal::size() {
            screen.columns = columns;
        }
    }
}

/// What keys gave: lines to send, and whether to leave now.
#[derive(Debug, Default)]
struct Keyed {
    typed: Vec<String>,
    interrupted: bool,
    /// Ctrl-Z: stop as a shell's job would.
    suspended: bool,
}

/// The prompt for where the session is.
fn prompt_of(session: &Session) -> Prompt {
    Prompt {
        name: session.name().map(str::to_string),
        queued: session.waiting(Instant::now()),
        standing: session.standing(),
    }
}

/// Sends one datagram. `Err(Refused)` when the send learns that the server's port is
/// closed or its host unreachable: the system reports an ICMP error once, to whichever
/// call on the socket comes next. Other failures are only logged (at debug: the log
/// shares the terminal), as UDP promises no delivery anyway.
fn send(socket: &UdpSocket, datagram: &[u8]) -> Result<(), Refused> {
    match socket.send(datagram) {
        Ok(_) => Ok(()),
        Err(e) => match sockerr::classify(&e) {
            Meaning::PortClosed | Meaning::Unreachable => Err(Refused),
            Meaning::Timeout | Meaning::Transient | Meaning::Failure => {
                debug!("cannot send: {e}");
                Ok(())
            }
        },
    }
}

/// Writes `HH:MM:SS <line>` after a BEL if asked; the line is terminal-safe already.
fn print_line(output: &mut impl Write, time: &str, text: &str, bell: bool) -> io::Result<()> {
    let bell = if bell { "\x07" } else { "" };
    writeln!(output, "{bell}{time} {text}")?;
    output.flush()
}

/// Resolves the server and connects to the first address whose port is not closed.
///
/// Sends the first heartbeat, a hello (see [`session`]). Returns `None` when every
/// address refused.
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
        match socket.send(proto::frame::HELLO) {
            Ok(_) => {}
            Err(e) if is_closed(&e) => continue,
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
            Err(e) if is_closed(&e) => {
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
            Ok(len) => {
                // What the session would ignore takes no place in the queue.
                let verdict = backlog
                    .gate
                    .lock()
                    .map_or(Verdict::Pass, |gate| gate.judge(&buf[..len]));
                match verdict {
                    Verdict::Pass => {}
                    Verdict::Ignore => continue,
                    Verdict::Forged => {
                        // The first one not yet told wakes the main loop, to tell it.
                        if backlog.forged.fetch_add(1, Ordering::Relaxed) == 0 {
                            let _ = events.try_send(Event::Wake);
                        }
                        continue;
                    }
                }
                if len == 0 {
                    // The server's goodbye must not be lost to a full queue; the
                    // session may wait for the server to come back, so receiving
                    // goes on.
                    if events.send(Event::Datagram(Vec::new())).is_err() {
                        return;
                    }
                    continue;
                }
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
            Err(e) => match sockerr::classify(&e) {
                Meaning::Timeout | Meaning::Transient => continue,
                // The session decides what a closed port or an unreachable host
                // means; this thread keeps receiving for when the server is back.
                Meaning::PortClosed | Meaning::Unreachable => {
                    if events.send(Event::Refused).is_err() {
                        return;
                    }
                    continue;
                }
                Meaning::Failure => Event::Failed(e),
            },
        };
        let _ = events.send(last);
        return;
    }
}

/// Whether an error says the server is not at this address: its port closed (on
/// Windows too, where that reads as a reset), or its host unreachable.
fn is_closed(e: &io::Error) -> bool {
    matches!(
        sockerr::classify(e),
        Meaning::PortClosed | Meaning::Unreachable
    )
}

/// The input thread of a terminal in raw mode: forwards bytes as they come.
fn read_keys(mut input: impl Read, events: &SyncSender<Event>) {
    let mut buf = [0u8; 4096];
    forward_input(events, || loop {
        match input.read(&mut buf)? {
            0 if terminal::EMPTY_READ_ENDS => return Ok(None),
            0 => continue,
            n => return Ok(Some(Event::Keys(buf[..n].to_vec()))),
        }
    });
}

/// The input thread: forwards lines (decoded lossily, line end trimmed) until end of input.
fn read_input(mut input: impl BufRead, events: &SyncSender<Event>) {
    let mut buf = Vec::new();
    forward_input(events, || {
        buf.clear();
        Ok(match input.read_until(b'\n', &mut buf)? {
            0 => None,
            _ => Some(Event::Line(
                proto::decode(proto::trim_line_end(&buf)).into_owned(),
            )),
        })
    });
}

/// Sends what `next` reads until the end of input (`None`) or an error, then says the
/// input closed.
fn forward_input(events: &SyncSender<Event>, mut next: impl FnMut() -> io::Result<Option<Event>>) {
    loop {
        match next() {
            Ok(Some(event)) => {
                if events.send(event).is_err() {
                    return;
                }
            }
            Ok(None) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                debug!("cannot read input: {e}");
                break;
            }
        }
    }
    let _ = events.send(Event::InputClosed);
}
