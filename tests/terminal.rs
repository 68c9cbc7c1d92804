//! The interactive client under a real terminal, with nothing outside Rust: each test
//! opens a pseudo-terminal (80x24, `TERM=xterm`, colors allowed), starts the client
//! with it as its controlling terminal, and types into it as a person would. A reader
//! thread feeds everything the client draws to a terminal emulator (the `vt100`
//! crate), and the tests assert the screen as a person sees it: rows, where the cursor
//! is, and attributes such as a dim notice or a colored name, never raw bytes. Every
//! wait is "until the screen shows this, or fail after the shared [`DEADLINE`]" (a
//! guard against a hang, not a measure of speed), and a failure prints the screen.

// A pseudo-terminal, and the client's raw mode (`/dev/tty` and `stty`), exist on Unix
// only.
#![cfg(unix)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pty_process::blocking::{Command, Pty};
use rustix::termios::{LocalModes, Termios};
use vt100::{Color, Parser, Screen};

use common::{Peer, TestServer, CLIENT, DEADLINE};
use udpchat::client::session::ClientNotice;
use udpchat::client::style::basic_color;

/// The terminal's size.
const ROWS: u16 = 24;
const COLUMNS: u16 = 80;
/// How often a wait looks at the screen again.
const POLL: Duration = Duration::from_millis(20);

/// Keys as xterm sends them.
const ENTER: &str = "\r";
const LEFT: &str = "\x1b[D";
const END: &str = "\x1b[F";
const UP: &str = "\x1b[A";
const TAB: &str = "\t";
const ALT_B: &str = "\x1bb";
const ALT_D: &str = "\x1bd";
const CTRL_A: &str = "\x01";
const CTRL_E: &str = "\x05";
const CTRL_K: &str = "\x0b";
const CTRL_R: &str = "\x12";
const CTRL_Y: &str = "\x19";
const BACKSPACE: &str = "\x7f";
const CTRL_C: &str = "\x03";
const CTRL_D: &str = "\x04";
#[cfg(target_os = "linux")]
const CTRL_Z: &str = "\x1a";

/// The client running in a pseudo-terminal, and the screen it drew. Dropping it kills
/// and reaps the client, closes the terminal and joins the reader.
struct Terminal {
    child: Child,
    /// The side the test types into and the reader reads from.
    pty: Arc<Pty>,
    /// The client's side, held open here as well, so its modes can be read after the
    /// client exits; the reader sees the end of output once this is closed too.
    pts: Option<OwnedFd>,
    /// The terminal's settings before the client started.
    modes_at_start: Termios,
    parser: Arc<Mutex<Parser>>,
    reader: Option<JoinHandle<()>>,
}

impl Terminal {
    /// Starts `program` with `args` in a new 80x24 terminal.
    fn start(program: &str, args: &[&str]) -> Terminal {
        Terminal::start_sized(program, args, COLUMNS)
    }

    /// Starts `program` with `args` in a new terminal of 24 rows and `columns`.
    fn start_sized(program: &str, args: &[&str], columns: u16) -> Terminal {
        let (pty, pts) = pty_process::blocking::open().expect("open a pseudo-terminal");
        pty.resize(pty_process::Size::new(ROWS, columns))
            .expect("set the terminal's size");
        let held_pts = pts
            .as_fd()
            .try_clone_to_owned()
            .expect("hold the terminal's client side");
        let modes_at_start =
            rustix::termios::tcgetattr(&held_pts).expect("read the terminal's settings");
        // The child gets a session of its own with this terminal as its controlling
        // terminal, so its `/dev/tty` is this one.
        let child = Command::new(program)
            .args(args)
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG")
            .spawn(pts)
            .unwrap_or_else(|e| panic!("cannot start {program} in a terminal: {e}"));
        let pty = Arc::new(pty);
        let parser = Arc::new(Mutex::new(Parser::new(ROWS, columns, 0)));
        let reader = {
            let (pty, parser) = (Arc::clone(&pty), Arc::clone(&parser));
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match (&*pty).read(&mut buf) {
                        // The end (or EIO, on Linux): no process holds the terminal.
                        Ok(0) => return,
                        Ok(n) => parser
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .process(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(_) => return,
                    }
                }
            })
        };
        Terminal {
            child,
            pty,
            pts: Some(held_pts),
            modes_at_start,
            parser,
            reader: Some(reader),
        }
    }

    /// Types `keys`: text, or the bytes of a key such as [`ENTER`].
    fn keys(&self, keys: &str) {
        (&*self.pty)
            .write_all(keys.as_bytes())
            .expect("type into the terminal");
    }

    /// The screen as drawn so far.
    fn screen(&self) -> Screen {
        self.parser
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .screen()
            .clone()
    }

    /// Waits until the screen satisfies `done`, and returns it; fails after
    /// [`DEADLINE`], showing the screen.
    #[track_caller]
    fn wait(&self, what: &str, done: impl Fn(&Screen) -> bool) -> Screen {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the screen never showed {what} within {DEADLINE:?}\n{}",
                shown(&screen)
            );
            thread::sleep(POLL);
        }
    }

    /// Waits until the input row, where the cursor is, reads `want` (trailing blanks
    /// aside) with the cursor right after it.
    #[track_caller]
    fn wait_input(&self, want: &str) -> Screen {
        self.wait(&format!("the input row {want:?}"), |s| {
            input_row(s) == want.trim_end() && cursor_column(s) == width(want)
        })
    }

    /// Waits for the client to exit; fails after [`DEADLINE`], showing the screen.
    #[track_caller]
    fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the client") {
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the client did not exit within {DEADLINE:?}\n{}",
                shown(&self.screen())
            );
            thread::sleep(POLL);
        }
    }

    /// The terminal's settings now.
    fn modes(&self) -> Termios {
        let pts = self.pts.as_ref().expect("the terminal is open");
        rustix::termios::tcgetattr(pts).expect("read the terminal's settings")
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // With the client gone and our hold on its side closed, the reader's next read
        // ends.
        self.pts = None;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The client for `server` in a terminal, once it has taken `name`.
#[track_caller]
fn client(server: &TestServer, name: &str) -> Terminal {
    let addr = server.addr.to_string();
    let terminal = Terminal::start(CLIENT, &[&addr, "--name", name]);
    let taken = format!("* you are now {name}");
    terminal.wait("the name taken", |s| find(s, &taken).is_some());
    terminal
}

/// Receives until `want` arrives, skipping other lines; fails after [`DEADLINE`].
#[track_caller]
fn expect_line(peer: &Peer, want: &str) {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if peer.recv_text() == want {
            return;
        }
    }
    panic!("{want:?} never arrived within {DEADLINE:?}");
}

/// The rows of the screen, trailing blanks trimmed.
fn rows(screen: &Screen) -> Vec<String> {
    screen
        .rows(0, screen.size().1)
        .map(|row| row.trim_end().to_string())
        .collect()
}

/// The row the cursor is on: the input line.
fn input_row(screen: &Screen) -> String {
    let (row, _) = screen.cursor_position();
    rows(screen).swap_remove(usize::from(row))
}

fn cursor_column(screen: &Screen) -> usize {
    usize::from(screen.cursor_position().1)
}

/// Where `text` first shows on the screen, as (row, column); for text of characters
/// one column wide.
fn find(screen: &Screen, text: &str) -> Option<(u16, u16)> {
    rows(screen).iter().enumerate().find_map(|(row, line)| {
        let at = line.find(text)?;
        Some((row as u16, width(&line[..at]) as u16))
    })
}

/// How many rows show `text`.
fn count(screen: &Screen, text: &str) -> usize {
    rows(screen).iter().filter(|row| row.contains(text)).count()
}

/// Columns taken by `text` of characters one column wide.
fn width(text: &str) -> usize {
    text.chars().count()
}

/// The screen for a failure message: numbered rows, and the cursor.
fn shown(screen: &Screen) -> String {
    let (row, column) = screen.cursor_position();
    let mut text = format!("--- the screen (cursor at row {row}, column {column}):\n");
    for (i, line) in rows(screen).iter().enumerate() {
        text.push_str(&format!("{i:2}|{line}\n"));
    }
    text
}

#[test]
fn a_half_typed_line_survives_an_incoming_message() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.keys("half-typed by ali");
    alice.wait_input("alice> half-typed by ali");
    raw.send(b"interrupting you!");
    let screen = alice.wait("the message", |s| find(s, " interrupting you!").is_some());
    let view = shown(&screen);
    // The message went above the input line, which is drawn again as it was.
    let typed = "alice> half-typed by ali";
    assert_eq!(input_row(&screen), typed, "{view}");
    assert_eq!(cursor_column(&screen), width(typed), "{view}");
    let who = raw.addr().to_string();
    let (row, column) = find(&screen, &format!("{who} interrupting you!")).unwrap();
    assert!(row < screen.cursor_position().0, "{view}");
    assert_eq!(count(&screen, "half-typed"), 1, "{view}");
    // The sender's name in its color, the text after it plain.
    let name_color = screen.cell(row, column).unwrap().fgcolor();
    let code = basic_color(&who);
    let index = if code >= 90 { code - 90 + 8 } else { code - 30 };
    assert_eq!(name_color, Color::Idx(index), "{view}");
    let text_column = column + width(&who) as u16 + 1;
    let text_color = screen.cell(row, text_column).unwrap().fgcolor();
    assert_eq!(text_color, Color::Default, "{view}");
    // Finish and send it: it leaves the input line and appears once, relayed.
    alice.keys("ce");
    alice.keys(ENTER);
    expect_line(&raw, "alice half-typed by alice");
    let screen = alice.wait("its echo", |s| {
        find(s, "alice half-typed by alice").is_some()
    });
    let view = shown(&screen);
    assert_eq!(count(&screen, "half-typed by alice"), 1, "{view}");
    alice.wait_input("alice> ");
}

// Issue 19, item 2: our own line has our name in bold; a line that names us is in
// reverse video, and so is an action that does.
#[test]
fn our_own_lines_and_lines_that_name_us_stand_out() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.keys("my own line");
    alice.keys(ENTER);
    let screen = alice.wait("the echo", |s| find(s, "alice my own line").is_some());
    let view = shown(&screen);
    let (row, column) = find(&screen, "alice my own line").unwrap();
    assert!(screen.cell(row, column).unwrap().bold(), "{view}");
    assert!(!screen.cell(row, column + 6).unwrap().inverse(), "{view}");
    raw.send(b"hey Alice, look");
    let screen = alice.wait("the mention", |s| find(s, " hey Alice, look").is_some());
    let view = shown(&screen);
    let (row, column) = find(&screen, " hey Alice, look").unwrap();
    assert!(screen.cell(row, column + 2).unwrap().inverse(), "{view}");
    assert!(!screen.cell(row, 9).unwrap().bold(), "{view}");
    raw.send(b"just chatting");
    let screen = alice.wait("a plain line", |s| find(s, " just chatting").is_some());
    let (row, column) = find(&screen, " just chatting").unwrap();
    assert!(
        !screen.cell(row, column + 2).unwrap().inverse(),
        "{}",
        shown(&screen)
    );
    raw.send(b"/me waves at alice");
    let screen = alice.wait("the action", |s| find(s, " waves at alice").is_some());
    let (row, column) = find(&screen, " waves at alice").unwrap();
    assert!(
        screen.cell(row, column + 1).unwrap().inverse(),
        "{}",
        shown(&screen)
    );
}

#[test]
fn a_thirty_line_paste_arrives_whole_and_in_order_under_the_default_limit() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    let paste: String = (0..30).map(|i| format!("pasted line {i}\r")).collect();
    alice.keys(&paste);
    let mut got = Vec::new();
    while got.len() < 30 {
        let line = raw.recv_text();
        if let Some(n) = line.strip_prefix("alice pasted line ") {
            got.push(n.parse::<u32>().expect("a number"));
        }
    }
    assert_eq!(got, (0..30).collect::<Vec<_>>());
    raw.expect_nothing();
    // On the screen too: the echoes scrolled past in order, the input line is empty.
    let screen = alice.wait("the last line's echo", |s| {
        find(s, "alice pasted line 29").is_some()
    });
    let shown_numbers: Vec<u32> = rows(&screen)
        .iter()
        .filter_map(|row| row.split("alice pasted line ").nth(1)?.parse().ok())
        .collect();
    let first = 30 - shown_numbers.len() as u32;
    assert_eq!(
        shown_numbers,
        (first..30).collect::<Vec<_>>(),
        "{}",
        shown(&screen)
    );
    alice.wait_input("alice> ");
}

#[test]
fn ctrl_c_leaves_at_once_and_restores_the_terminal() {
    let server = TestServer::start(&[]);
    let mut alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.keys("never sent");
    alice.wait_input("alice> never sent");
    alice.keys(CTRL_C);
    raw.expect("* alice left");
    let status = alice.wait_exit();
    assert!(status.success(), "{status}\n{}", shown(&alice.screen()));
    let screen = alice.screen();
    assert_eq!(count(&screen, "never sent"), 0, "{}", shown(&screen));
    let after = alice.modes();
    for (flag, name) in [
        (LocalModes::ICANON, "icanon"),
        (LocalModes::ECHO, "echo"),
        (LocalModes::ISIG, "isig"),
    ] {
        assert!(
            after.local_modes.contains(flag),
            "{name} not restored: {:?}",
            after.local_modes
        );
    }
    // Not only those: the terminal is as it was before the client started.
    let before = &alice.modes_at_start;
    assert_eq!(after.local_modes, before.local_modes);
    assert_eq!(after.input_modes, before.input_modes);
}

#[test]
fn the_log_keeps_what_was_shown_without_colors_or_the_line_being_typed() {
    let server = TestServer::start(&[]);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("terminal-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let read_log = || std::fs::read_to_string(&path).unwrap_or_default();
    let (addr, log) = (server.addr.to_string(), path.to_string_lossy().into_owned());
    let mut alice = Terminal::start(CLIENT, &[&addr, "--name", "alice", "--log", &log]);
    alice.wait("the name taken", |s| {
        find(s, "* you are now alice").is_some()
    });
    let raw = server.joined_peer();
    alice.keys("half-typed");
    alice.wait_input("alice> half-typed");
    raw.send(b"interrupting you!");
    let line = format!("{} interrupting you!", raw.addr());
    alice.wait("the message", |s| find(s, &line).is_some());
    // Written as it was shown (a line at a time), and not the line being typed.
    let text = read_log();
    assert!(text.lines().any(|l| l.ends_with(&line)), "{text}");
    assert!(!text.contains("half-typed"), "{text}");
    alice.keys(ENTER);
    alice.wait("its echo", |s| find(s, "alice half-typed").is_some());
    alice.keys(CTRL_D);
    let status = alice.wait_exit();
    assert!(status.success(), "{status}\n{}", shown(&alice.screen()));
    let text = read_log();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("--- log opened "), "{text}");
    assert!(
        lines[lines.len() - 1].starts_with("--- log closed "),
        "{text}"
    );
    for shown in ["* you are now alice", &line, "alice half-typed"] {
        assert_eq!(
            lines.iter().filter(|l| l.ends_with(shown)).count(),
            1,
            "{shown:?} once\n{text}"
        );
    }
    // No colors, no cursor moves, no prompt: what the room said, and nothing else.
    assert!(
        !text.contains('\x1b') && !text.contains("alice> "),
        "{text:?}"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn arrows_edit_and_up_brings_back_the_last_line() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.keys("helo");
    alice.keys(LEFT);
    alice.keys(LEFT);
    alice.keys("l");
    // The cursor stays where the letter went in, before the last "lo".
    alice.wait("the letter inserted", |s| {
        input_row(s) == "alice> hello" && cursor_column(s) == width("alice> hel")
    });
    alice.keys(END);
    alice.keys(" wörld");
    alice.wait_input("alice> hello wörld");
    alice.keys(ENTER);
    expect_line(&raw, "alice hello wörld");
    alice.wait_input("alice> ");
    alice.keys(UP);
    alice.wait_input("alice> hello wörld");
}

#[test]
fn the_client_survives_a_server_restart_and_its_next_line_arrives_under_its_name() {
    let mut server = TestServer::start(&[]);
    let bind = server.addr.to_string();
    let alice = client(&server, "alice");
    server.proc.type_line("quit");
    assert_eq!(server.proc.wait_exit().code(), Some(0));
    let away = ClientNotice::ServerAway { keys: "Ctrl-D" }.to_string();
    let screen = alice.wait("the server gone", |s| find(s, &away).is_some());
    // A notice is dim, from its first character to its last.
    let (row, column) = find(&screen, &away).unwrap();
    let last = column + width(&away) as u16 - 1;
    for at in [column, last] {
        assert!(screen.cell(row, at).unwrap().dim(), "{}", shown(&screen));
    }
    alice.keys("typed while away");
    alice.keys(ENTER);
    alice.wait("the line waiting", |s| input_row(s).contains("(1 queued)"));
    let server = TestServer::start_on(&bind, &[]);
    let raw = server.joined_peer();
    let back = ClientNotice::Back.to_string();
    alice.wait("back in the room", |s| find(s, &back).is_some());
    expect_line(&raw, "alice typed while away");
    alice.wait_input("alice> ");
    alice.keys("and after");
    alice.keys(ENTER);
    expect_line(&raw, "alice and after");
}

/// Sends `signal` to the client.
fn signal(terminal: &Terminal, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(terminal.child.id() as i32).expect("a pid");
    rustix::process::kill_process(pid, signal).expect("signal the client");
}

/// Waits until the terminal's local modes satisfy `done`.
#[track_caller]
fn wait_modes(terminal: &Terminal, what: &str, done: impl Fn(LocalModes) -> bool) {
    let start = Instant::now();
    while !done(terminal.modes().local_modes) {
        assert!(
            start.elapsed() < DEADLINE,
            "the terminal never became {what}: {:?}",
            terminal.modes().local_modes
        );
        thread::sleep(POLL);
    }
}

// Issue 16, item 5: a client killed without a chance to clean up (SIGKILL, and so
// SIGTERM or SIGHUP too) still leaves the terminal as it was.
#[test]
fn a_killed_client_leaves_the_terminal_restored() {
    let server = TestServer::start(&[]);
    let mut alice = client(&server, "alice");
    assert!(
        !alice.modes().local_modes.contains(LocalModes::ICANON),
        "raw while it runs"
    );
    alice.child.kill().expect("kill the client");
    alice.wait_exit();
    let before = alice.modes_at_start.local_modes;
    wait_modes(&alice, "restored", |modes| modes == before);
    assert_eq!(alice.modes().input_modes, alice.modes_at_start.input_modes);
}

// Issue 16, item 1: a server that never answers: the prompt says connecting, the
// person is told within a few seconds, a typed line shows as waiting, and leaving is
// no success (exit status 1).
#[test]
fn a_silent_server_shows_connecting_and_the_typed_line_waits_visibly() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a silent server");
    let addr = silent.local_addr().expect("its address").to_string();
    let mut alice = Terminal::start(CLIENT, &[&addr, "--name", "alice"]);
    alice.wait_input("(connecting)> ");
    let told = format!("-!- no answer from {addr} yet; still trying — Ctrl-D to leave");
    alice.wait("the silence told", |s| find(s, &told).is_some());
    alice.keys("hello?");
    alice.keys(ENTER);
    alice.wait_input("(connecting) (1 queued)> ");
    alice.keys(CTRL_D);
    let status = alice.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", shown(&alice.screen()));
    let named = ClientNotice::NotRelayed("hello?").to_string();
    alice.wait("the line named", |s| find(s, &named).is_some());
}

// Issue 16, item 2: the server restarts without a goodbye (killed, started again at
// once); a line typed then shows as waiting and arrives in the new session.
#[test]
fn a_line_typed_after_a_quick_restart_shows_as_waiting_and_arrives() {
    let server = TestServer::start(&[]);
    let bind = server.addr.to_string();
    let alice = client(&server, "alice");
    drop(server);
    let server = TestServer::start_on(&bind, &[]);
    let raw = server.joined_peer();
    alice.keys("typed after the restart");
    alice.keys(ENTER);
    alice.wait("the line waiting", |s| input_row(s).contains("(1 queued)"));
    expect_line(&raw, "alice typed after the restart");
    alice.wait_input("alice> ");
    let screen = alice.screen();
    let away = ClientNotice::ServerAway { keys: "Ctrl-D" }.to_string();
    assert!(find(&screen, &away).is_none(), "{}", shown(&screen));
}

// Issue 16, item 3: the client is stopped (as by a suspended laptop, or a shell's
// job control) long enough to be evicted, and the shell puts the terminal back in
// cooked mode meanwhile. Resumed, it takes raw input again, rejoins without calling
// it a server failure, and chats.
#[test]
fn a_stopped_client_comes_back_raw_and_rejoins() {
    let server = TestServer::start(&["--timeout", "2"]);
    let addr = server.addr.to_string();
    let alice = Terminal::start(CLIENT, &[&addr, "--name", "alice", "--heartbeat", "0.5"]);
    alice.wait("the name taken", |s| {
        find(s, "* you are now alice").is_some()
    });
    let stopped = Instant::now();
    signal(&alice, rustix::process::Signal::STOP);
    // What a shell does when its job stops.
    let pts = alice.pts.as_ref().expect("the terminal is open");
    rustix::termios::tcsetattr(
        pts,
        rustix::termios::OptionalActions::Now,
        &alice.modes_at_start,
    )
    .expect("cooked mode");
    server.wait_log("alice timed out");
    // Stopped well past what the client would have slept, so it sees its clock jump.
    while stopped.elapsed() < Duration::from_secs(3) {
        thread::sleep(POLL);
    }
    signal(&alice, rustix::process::Signal::CONT);
    wait_modes(&alice, "raw again", |modes| {
        !modes.contains(LocalModes::ICANON)
    });
    let back = ClientNotice::Back.to_string();
    let screen = alice.wait("back in the room", |s| find(s, &back).is_some());
    let away = ClientNotice::ServerAway { keys: "Ctrl-D" }.to_string();
    assert!(find(&screen, &away).is_none(), "{}", shown(&screen));
    alice.wait_input("alice> ");
    let raw = server.joined_peer();
    alice.keys("still here");
    alice.keys(ENTER);
    expect_line(&raw, "alice still here");
}

/// Whether the process is stopped, where the system tells it.
#[cfg(target_os = "linux")]
fn is_stopped(pid: u32) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit(") ").next()?.chars().next()?;
    Some(state == 'T')
}

/// The pid of a child of `parent` named `name`, where the system tells it.
#[cfg(target_os = "linux")]
fn child_named(parent: u32, name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
        let ppid: u32 = rest.split(' ').nth(1)?.parse().ok()?;
        (ppid == parent && comm.starts_with(&name[..name.len().min(15)])).then_some(pid)
    })
}

/// The client started by `shell` (`sh -i` in a terminal), once it has taken `name`.
#[cfg(target_os = "linux")]
#[track_caller]
fn client_under_shell(shell: &Terminal, server: &TestServer, name: &str) -> u32 {
    shell.keys(&format!("{CLIENT} {} --name {name}\r", server.addr));
    let taken = format!("* you are now {name}");
    shell.wait("the name taken", |s| find(s, &taken).is_some());
    child_named(shell.child.id(), "udpchat-client").expect("the client's pid")
}

// Issue 16, item 5, as a person meets it: the client runs under a job-control shell
// and is killed (SIGTERM); the terminal is as it was, whoever wins the race between
// the shell taking the terminal back and the watcher.
// Linux only: the test finds the client, and sees it stop, in /proc.
#[cfg(target_os = "linux")]
#[test]
fn a_client_killed_under_a_shell_leaves_the_terminal_restored() {
    let server = TestServer::start(&[]);
    let shell = Terminal::start("sh", &["-i"]);
    let pid = client_under_shell(&shell, &server, "alice");
    assert!(!shell.modes().local_modes.contains(LocalModes::ICANON));
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("kill");
    wait_modes(&shell, "cooked again", |modes| {
        modes.contains(LocalModes::ICANON) && modes.contains(LocalModes::ECHO)
    });
    // And the shell still reads what is typed.
    shell.keys("echo typed-after\r");
    shell.wait("the shell answering", |s| count(s, "typed-after") >= 2);
}

// Issue 16, item 3: Ctrl-Z stops the client as a shell's job, with the terminal as it
// was; `fg` brings it back raw, its input line drawn again. A real shell runs it: the
// kernel stops a process on Ctrl-Z only under one (it ignores SIGTSTP for a process
// group no shell watches, and so does the client's own request to stop).
// Linux only: the test finds the client, and sees it stop, in /proc.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_z_stops_under_a_shell_and_fg_comes_back_whole() {
    let server = TestServer::start(&[]);
    let shell = Terminal::start("sh", &["-i"]);
    let pid = client_under_shell(&shell, &server, "alice");
    shell.keys("half");
    shell.wait_input("alice> half");
    shell.keys(CTRL_Z);
    let start = Instant::now();
    while is_stopped(pid) != Some(true) {
        assert!(start.elapsed() < DEADLINE, "Ctrl-Z did not stop the client");
        thread::sleep(POLL);
    }
    // The shell has the terminal back, as it was: it reads a line.
    wait_modes(&shell, "cooked", |modes| modes.contains(LocalModes::ICANON));
    shell.keys("fg\r");
    wait_modes(&shell, "raw again", |modes| {
        !modes.contains(LocalModes::ICANON)
    });
    shell.wait_input("alice> half");
    let raw = server.joined_peer();
    shell.keys(" and back");
    shell.keys(ENTER);
    expect_line(&raw, "alice half and back");
}

// Issue "The manners of a good chat", item 4: Tab completes the name of someone in
// the room; first in the line, it gets `: `.
#[test]
fn tab_completes_a_name_in_the_room() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    raw.send(b"/nick bob");
    alice.wait("bob named", |s| find(s, " is now bob").is_some());
    alice.keys("b");
    alice.keys(TAB);
    alice.wait_input("alice> bob: ");
    alice.keys("hi");
    alice.keys(ENTER);
    expect_line(&raw, "alice bob: hi");
    // In the middle of a line, a space after it; a command after a slash.
    alice.keys("ask B");
    alice.keys(TAB);
    alice.wait_input("alice> ask bob ");
    alice.keys(CTRL_A);
    alice.keys(CTRL_K);
    alice.keys("/wh");
    alice.keys(TAB);
    alice.wait_input("alice> /who ");
}

#[test]
fn ctrl_r_finds_an_earlier_line_and_enter_sends_it() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    for line in ["the cat sat", "on the mat"] {
        alice.keys(line);
        alice.keys(ENTER);
        expect_line(&raw, &format!("alice {line}"));
    }
    alice.wait_input("alice> ");
    alice.keys(CTRL_R);
    alice.keys("cat");
    // The match shown, the cursor on it.
    let shown_match = "(search 'cat') the cat sat";
    alice.wait("the match", |s| {
        input_row(s) == shown_match && cursor_column(s) == width("(search 'cat') the ")
    });
    alice.keys(ENTER);
    expect_line(&raw, "alice the cat sat");
    alice.wait_input("alice> ");
}

#[test]
fn alt_b_and_alt_d_edit_by_word() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.keys("hello big world");
    alice.wait_input("alice> hello big world");
    alice.keys(ALT_B);
    alice.keys(ALT_B);
    alice.keys(ALT_D);
    alice.wait(" big killed", |s| {
        input_row(s) == "alice> hello  world" && cursor_column(s) == width("alice> hello ")
    });
    alice.keys("small");
    alice.keys(ENTER);
    expect_line(&raw, "alice hello small world");
}

#[test]
fn ctrl_k_kills_and_ctrl_y_yanks() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.keys("hello world");
    alice.keys(ALT_B);
    alice.keys(CTRL_K);
    alice.wait_input("alice> hello ");
    alice.keys(CTRL_A);
    alice.keys(CTRL_Y);
    alice.keys(" ");
    alice.keys(CTRL_E);
    alice.keys(BACKSPACE);
    alice.wait_input("alice> world hello");
    alice.keys(ENTER);
    expect_line(&raw, "alice world hello");
}

// Issue "The manners of a good chat", item 4: a terminal 12 columns wide shows a long
// line wrapped under a short indent, no row overflowing, and the input line works.
#[test]
fn a_twelve_column_terminal_wraps_long_lines_without_overflowing_a_row() {
    const NARROW: u16 = 12;
    let server = TestServer::start(&[]);
    let addr = server.addr.to_string();
    let alice = Terminal::start_sized(CLIENT, &[&addr, "--name", "alice"], NARROW);
    // The prompt is cut to leave half the row for typing.
    alice.wait_input("al…> ");
    let raw = server.joined_peer();
    alice.keys("the quick brown fox jumps over the lazy dog");
    alice.keys(ENTER);
    expect_line(&raw, "alice the quick brown fox jumps over the lazy dog");
    let screen = alice.wait("the last word", |s| {
        rows(s).iter().any(|row| row == "  dog")
    });
    let view = shown(&screen);
    let all = rows(&screen);
    let at = all
        .iter()
        .position(|row| row == "  alice the")
        .unwrap_or_else(|| panic!("no row starts the text\n{view}"));
    // The time alone above the text, the text's rows under a two-column indent.
    let time = at.checked_sub(1).map(|above| all[above].as_str());
    assert!(
        time.is_some_and(|time| time.len() == 8 && time.contains(':')),
        "no time alone above the text\n{view}"
    );
    let text: Vec<&str> = all[at..]
        .iter()
        .take_while(|r| r.starts_with("  "))
        .map(String::as_str)
        .collect();
    assert_eq!(
        text,
        vec![
            "  alice the",
            "  quick",
            "  brown fox",
            "  jumps over",
            "  the lazy",
            "  dog"
        ],
        "{view}"
    );
    for row in 0..ROWS {
        assert!(!screen.row_wrapped(row), "row {row} overflowed\n{view}");
    }
    alice.wait_input("al…> ");
    alice.keys("typing on");
    alice.wait("the typed text", |s| input_row(s) == "al…> ng on");
}
