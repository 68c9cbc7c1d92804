//! The interactive client under a real terminal: tmux runs it, the test types with
//! `send-keys` and reads the screen with `capture-pane`. `.ci/run` installs tmux; a
//! machine without it fails here rather than skipping.

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{TestServer, CLIENT};

/// The tmux server the tests use: their own, not a developer's.
const SOCKET: &str = "udpchat-test";

/// A tmux session running one command, killed on drop.
struct Tmux {
    name: String,
}

static SESSIONS: AtomicUsize = AtomicUsize::new(0);

impl Tmux {
    /// Runs `command` (a shell command line) in a new 80x24 terminal.
    fn start(command: &str) -> Tmux {
        let name = format!(
            "udpchat-test-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                SOCKET,
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "80",
                "-y",
                "24",
            ])
            .arg(command)
            .env_remove("NO_COLOR")
            .env("TERM", "xterm")
            .stdin(Stdio::null())
            .status()
            .expect("tmux is installed (apt-get install tmux)");
        assert!(status.success(), "tmux could not start {command}");
        Tmux { name }
    }

    /// Types `keys` (tmux key names, or literal text with `literal`).
    fn keys(&self, keys: &[&str], literal: bool) {
        let mut command = Command::new("tmux");
        command.args(["-L", SOCKET, "send-keys", "-t", &self.name]);
        if literal {
            command.arg("-l");
        }
        let status = command.args(keys).status().expect("tmux send-keys");
        assert!(status.success());
    }

    fn type_text(&self, text: &str) {
        self.keys(&[text], true);
    }

    /// The screen as text.
    fn screen(&self) -> String {
        let output = Command::new("tmux")
            .args(["-L", SOCKET, "capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until the screen satisfies `pred`, within `deadline`; returns it.
    fn wait(&self, what: &str, deadline: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < deadline,
                "the screen never showed {what} within {deadline:?}:\n{screen}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", SOCKET, "kill-session", "-t", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

const WAIT: Duration = Duration::from_secs(5);

/// The client for `server` in a terminal; when it exits the shell prints its status
/// and the terminal's settings, then waits to be read.
fn client(server: &TestServer, name: &str) -> Tmux {
    let command = format!(
        "{CLIENT} {} --name {name}; echo EXIT=$?; \
         echo MODES=$(stty -a | grep -o -w -e '-\\?icanon' -e '-\\?isig' -e '-\\?echo' | tr '\\n' ,); \
         sleep 30",
        server.addr
    );
    let tmux = Tmux::start(&command);
    tmux.wait("the name taken", WAIT, |s| {
        s.contains(&format!("* you are now {name}"))
    });
    tmux
}

/// Receives until `want` arrives, skipping other lines.
fn expect_line(peer: &common::Peer, want: &str) {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if peer.recv_text() == want {
            return;
        }
    }
    panic!("{want:?} never arrived");
}

/// The last row that is not blank: where the input line is.
fn input_row(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

#[test]
fn a_half_typed_line_survives_an_incoming_message() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.type_text("half-typed by ali");
    alice.wait("the half-typed line", WAIT, |s| {
        input_row(s) == "alice> half-typed by ali"
    });
    raw.send(b"interrupting you!");
    let screen = alice.wait("the message", WAIT, |s| s.contains(" interrupting you!"));
    assert_eq!(input_row(&screen), "alice> half-typed by ali", "{screen}");
    let message_row = screen
        .lines()
        .find(|l| l.contains("interrupting you!"))
        .unwrap_or_default();
    assert!(!message_row.contains("half-typed"), "{screen}");
    // Finish and send it: it leaves the input line and appears once, relayed.
    alice.type_text("ce");
    alice.keys(&["Enter"], false);
    expect_line(&raw, "alice half-typed by alice");
    let screen = alice.wait("its echo", WAIT, |s| {
        s.contains("alice half-typed by alice")
    });
    assert_eq!(screen.matches("half-typed by alice").count(), 1, "{screen}");
    assert_eq!(input_row(&screen), "alice>", "{screen}");
}

#[test]
fn a_thirty_line_paste_arrives_whole_and_in_order_under_the_default_limit() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    let paste: String = (0..30).map(|i| format!("pasted line {i}\r")).collect();
    alice.type_text(&paste);
    let mut got = Vec::new();
    while got.len() < 30 {
        let line = raw.recv_text();
        if let Some(n) = line.strip_prefix("alice pasted line ") {
            got.push(n.parse::<u32>().expect("a number"));
        }
    }
    assert_eq!(got, (0..30).collect::<Vec<_>>());
    raw.expect_nothing();
}

#[test]
fn ctrl_c_leaves_at_once_and_restores_the_terminal() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.type_text("never sent");
    alice.keys(&["C-c"], false);
    raw.expect("* alice left");
    let screen = alice.wait("the exit status", WAIT, |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    let screen = alice.wait("the modes", WAIT, |s| s.contains("MODES="));
    let modes = screen
        .lines()
        .find_map(|l| l.strip_prefix("MODES="))
        .unwrap_or_default();
    let modes: Vec<&str> = modes.split(',').collect();
    for restored in ["icanon", "echo", "isig"] {
        assert!(
            modes.contains(&restored),
            "{restored:?} not restored: {modes:?}"
        );
    }
}

#[test]
fn arrows_edit_and_up_brings_back_the_last_line() {
    let server = TestServer::start(&[]);
    let alice = client(&server, "alice");
    let raw = server.joined_peer();
    alice.type_text("helo");
    alice.keys(&["Left", "Left"], false);
    alice.type_text("l");
    alice.keys(&["End"], false);
    alice.type_text(" wörld");
    alice.keys(&["Enter"], false);
    expect_line(&raw, "alice hello wörld");
    alice.keys(&["Up"], false);
    alice.wait("the last line again", WAIT, |s| {
        input_row(s) == "alice> hello wörld"
    });
}

#[test]
fn the_client_survives_a_server_restart_and_its_next_line_arrives_under_its_name() {
    let mut server = TestServer::start(&[]);
    let bind = server.addr.to_string();
    let alice = client(&server, "alice");
    server.proc.type_line("quit");
    assert_eq!(server.proc.wait_exit().code(), Some(0));
    alice.wait("the server gone", WAIT, |s| {
        s.contains("* server went away; trying again — Ctrl-D to leave")
    });
    alice.type_text("typed while away");
    alice.keys(&["Enter"], false);
    alice.wait("the line waiting", WAIT, |s| {
        input_row(s).contains("(1 queued)")
    });
    let server = TestServer::start_on(&bind, &[]);
    let raw = server.joined_peer();
    alice.wait("back in the room", WAIT, |s| {
        s.contains("* back in the room")
    });
    expect_line(&raw, "alice typed while away");
    alice.type_text("and after");
    alice.keys(&["Enter"], false);
    expect_line(&raw, "alice and after");
}
