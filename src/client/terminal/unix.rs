//! The terminal in raw mode on Unix, with std alone: `stty` run with the terminal as its input
//! saves the settings, switches to character-at-a-time input without echo or signals,
//! and a guard whose `Drop` restores them on every way out (a panic included).
//!
//! A signal that kills the process (SIGTERM, SIGHUP) runs no `Drop`, and std has no
//! signal handlers. So a small watcher, `sh` reading a pipe from us, is started with
//! raw mode: when the client's process ends its end of the pipe closes, whoever ended
//! it, and the watcher restores the saved settings unless we said, on the way out, that
//! we had done so ourselves.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

/// What `stty` is given for raw input: no line editing, echo, signals or flow control.
const RAW: [&str; 9] = [
    "-icanon", "-echo", "-isig", "-ixon", "-iexten", "min", "1", "time", "0",
];

/// The watcher's script: restores the terminal when its input ends, unless the line
/// it read says the client did it. `$1` is the saved settings, `$2` the raw ones: it
/// restores only while the terminal is still as the client left it, so it never
/// undoes what a shell (or the next program) set meanwhile. It ignores the signals a
/// terminal or a `kill` of the whole group sends, so it outlives the client, and
/// SIGTTOU, which would stop it for touching the terminal from the background once a
/// shell has taken it back. Its standard output is the terminal itself, opened by us
/// while we had it (when the client led its session, `/dev/tty` is gone once it dies),
/// kept as fd 3 so a command substitution's own standard output does not hide it.
const WATCHER: &str = "exec 3<&1; trap '' HUP INT QUIT TERM TSTP TTOU; read done; \
                       [ \"$done\" = restored ] && exit; \
                       [ \"$(stty -g <&3 2>/dev/null)\" = \"$2\" ] && stty \"$1\" <&3 2>/dev/null";

/// The terminal switched to raw input; dropping it restores the saved settings.
#[derive(Debug)]
pub struct RawMode {
    saved: String,
    /// The watcher, and the pipe to it: restores the terminal if we die first.
    watcher: Option<(Child, ChildStdin)>,
}

impl RawMode {
    /// Switches the terminal to raw input if stdin and stdout are terminals, `TERM` is
    /// not `dumb`, and `stty` works; `None` otherwise (the client then reads lines).
    pub fn enter() -> Option<RawMode> {
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return None;
        }
        if std::env::var("TERM").is_ok_and(|term| term == "dumb") {
            return None;
        }
        let saved = stty(&["-g"])?;
        let saved = saved.trim().to_string();
        stty(&RAW)?;
        let raw = stty(&["-g"]).unwrap_or_default();
        let watcher = start_watcher(&saved, raw.trim());
        Some(RawMode { saved, watcher })
    }

    /// Puts the terminal back as it was, for a while (before the client stops itself
    /// on Ctrl-Z).
    pub fn suspend(&self) {
        let _ = stty(&[self.saved.as_str()]);
    }

    /// Raw input again: after a stop, the shell may have put the terminal back in
    /// cooked mode. True if `stty` did it.
    pub fn resume(&self) -> bool {
        stty(&RAW).is_some()
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = stty(&[self.saved.as_str()]);
        if let Some((mut child, mut pipe)) = self.watcher.take() {
            let _ = writeln!(pipe, "restored");
            drop(pipe);
            let _ = child.wait();
        }
    }
}

/// Stops this process as Ctrl-Z would (SIGTSTP, by `kill`): the shell takes the
/// terminal until `fg`. Returns once the process runs again.
pub fn stop_self() {
    let _ = Command::new("kill")
        .args(["-TSTP", &std::process::id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The terminal's size as (rows, columns), from `stty size`.
pub fn size() -> Option<(usize, usize)> {
    let text = stty(&["size"])?;
    let mut numbers = text.split_whitespace().map(str::parse::<usize>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(rows)), Some(Ok(columns))) if columns > 0 => Some((rows, columns)),
        _ => None,
    }
}

/// Starts the watcher that restores `saved` if this process dies without saying it
/// did, while the terminal is still `raw`; `None` (and nothing worse) if `sh` cannot be
/// started.
fn start_watcher(saved: &str, raw: &str) -> Option<(Child, ChildStdin)> {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let mut child = Command::new("sh")
        .args(["-c", WATCHER, "udpchat-client-watcher", saved, raw])
        .stdin(Stdio::piped())
        .stdout(Stdio::from(tty))
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pipe = child.stdin.take()?;
    Some((child, pipe))
}

/// Runs `stty ARGS` on the controlling terminal; its output, if it succeeded.
fn stty(args: &[&str]) -> Option<String> {
    let tty = File::open("/dev/tty").ok()?;
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::from(tty))
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
