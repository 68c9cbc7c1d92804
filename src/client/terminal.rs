//! The terminal in raw mode, with std alone: `stty` run with the terminal as its input
//! saves the settings, switches to character-at-a-time input without echo or signals,
//! and a guard whose `Drop` restores them on every way out (a panic included).

use std::fs::File;
use std::io::IsTerminal;
use std::process::{Command, Stdio};

/// The terminal switched to raw input; dropping it restores the saved settings.
#[derive(Debug)]
pub struct RawMode {
    saved: String,
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
        stty(&[
            "-icanon", "-echo", "-isig", "-ixon", "-iexten", "min", "1", "time", "0",
        ])?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = stty(&[self.saved.as_str()]);
    }
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

/// Whether output may use colors: stdout a terminal, no `NO_COLOR`, `TERM` not `dumb`.
pub fn colors_wanted() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && !std::env::var("TERM").is_ok_and(|term| term == "dumb")
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
