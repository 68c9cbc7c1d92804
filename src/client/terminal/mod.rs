//! The terminal the interactive client draws on, behind one small interface: raw
//! input on entry and the settings restored on every way out (`RawMode`), around a
//! stop (`suspend`, `resume`, `stop_self`), and the window's size. `unix.rs` does it
//! with `stty`; `windows.rs` with the console API. Where neither can, the client reads
//! lines.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{size, stop_self, RawMode};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{size, stop_self, RawMode};

#[cfg(not(any(unix, windows)))]
mod lines;
#[cfg(not(any(unix, windows)))]
pub use lines::{size, stop_self, RawMode};

use std::io::IsTerminal;

use super::style::Palette;

/// Whether Ctrl-Z can stop the client as a job: only where there is job control.
pub const CAN_STOP: bool = cfg!(unix);

/// Whether a read of the terminal that gives nothing means the input ended. Not on
/// Windows, where std gives nothing for a lone Ctrl-Z (or the first half of a UTF-16
/// pair) read from a console in raw mode, which never ends; a closed handle is an
/// error there.
pub const EMPTY_READ_ENDS: bool = !cfg!(windows);

/// The keys that end the input, as the client's notices name them: Ctrl-D in the
/// interactive client and on a Unix terminal; Ctrl-Z then Enter where Windows reads
/// lines.
pub fn leave_keys(interactive: bool) -> &'static str {
    if interactive || !cfg!(windows) {
        "Ctrl-D"
    } else {
        "Ctrl-Z then Enter"
    }
}

/// What output may use beyond plain text: nothing unless stdout is a terminal; then
/// as `TERM`, `COLORTERM` and `NO_COLOR` say.
pub fn palette() -> Palette {
    if !std::io::stdout().is_terminal() {
        return Palette::Plain;
    }
    Palette::from_env(
        std::env::var("TERM").ok().as_deref(),
        std::env::var("COLORTERM").ok().as_deref(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    )
}
