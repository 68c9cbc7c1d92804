//! The Windows console (10 and later) in raw mode, through the console API in
//! kernel32, which std links already: input without line editing, echo or Ctrl-C
//! processing, keys as VT sequences (so the same key decoder reads them), and output
//! that understands VT sequences (colors, cursor moves). Both modes are saved on entry
//! and restored on every way out: `Drop`, and a console control handler for Ctrl-Break
//! and a closed window, which end the process without it. A console that cannot do VT
//! (older than Windows 10) is left as it was, and the client reads lines.

use std::ffi::c_void;
use std::io::IsTerminal;
use std::os::windows::io::AsRawHandle;
use std::sync::atomic::{AtomicU64, Ordering};

type Handle = *mut c_void;

/// Input: Ctrl-C as a signal, whole lines, echo; and keys as VT sequences.
const ENABLE_PROCESSED_INPUT: u32 = 0x0001;
const ENABLE_LINE_INPUT: u32 = 0x0002;
const ENABLE_ECHO_INPUT: u32 = 0x0004;
const ENABLE_VIRTUAL_TERMINAL_INPUT: u32 = 0x0200;
/// Output: control characters acted on, VT sequences understood, and no line break of
/// its own after the last column (our rows end in `\r\n`).
const ENABLE_PROCESSED_OUTPUT: u32 = 0x0001;
const ENABLE_VIRTUAL_TERMINAL_PROCESSING: u32 = 0x0004;
const DISABLE_NEWLINE_AUTO_RETURN: u32 = 0x0008;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct Coord {
    x: i16,
    y: i16,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct SmallRect {
    left: i16,
    top: i16,
    right: i16,
    bottom: i16,
}

/// `CONSOLE_SCREEN_BUFFER_INFO`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct ScreenBufferInfo {
    size: Coord,
    cursor: Coord,
    attributes: u16,
    window: SmallRect,
    max_window: Coord,
}

/// What the console calls on Ctrl-Break or when its window closes.
type CtrlHandler = unsafe extern "system" fn(ctrl_type: u32) -> i32;

#[link(name = "kernel32")]
unsafe extern "system" {
    fn GetConsoleMode(console: Handle, mode: *mut u32) -> i32;
    fn SetConsoleMode(console: Handle, mode: u32) -> i32;
    fn GetConsoleScreenBufferInfo(console: Handle, info: *mut ScreenBufferInfo) -> i32;
    fn SetConsoleCtrlHandler(handler: Option<CtrlHandler>, add: i32) -> i32;
}

/// The modes to put back if Ctrl-Break (a signal even with processed input off) or
/// closing the window ends the process, which runs no `Drop`: both modes, packed.
static SAVED_MODES: AtomicU64 = AtomicU64::new(NO_MODES);
const NO_MODES: u64 = u64::MAX;

/// Puts the saved modes back, then lets the console end the process as it would.
unsafe extern "system" fn restore_on_break(_ctrl_type: u32) -> i32 {
    let modes = SAVED_MODES.load(Ordering::SeqCst);
    if modes != NO_MODES {
        set_mode(std::io::stdin().as_raw_handle(), (modes >> 32) as u32);
        set_mode(std::io::stdout().as_raw_handle(), modes as u32);
    }
    0
}

/// The console switched to raw input and VT output; dropping it restores both modes.
#[derive(Debug)]
pub struct RawMode {
    input: Handle,
    output: Handle,
    saved_input: u32,
    saved_output: u32,
}

impl RawMode {
    /// Switches the console to raw input and VT output if stdin and stdout are a
    /// console that can; `None` otherwise (the client then reads lines).
    pub fn enter() -> Option<RawMode> {
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return None;
        }
        let input = std::io::stdin().as_raw_handle();
        let output = std::io::stdout().as_raw_handle();
        let raw = RawMode {
            input,
            output,
            saved_input: mode(input)?,
            saved_output: mode(output)?,
        };
        // Dropped (and so restored) if either mode is refused: an old console.
        if !raw.resume() {
            return None;
        }
        let modes = (u64::from(raw.saved_input) << 32) | u64::from(raw.saved_output);
        SAVED_MODES.store(modes, Ordering::SeqCst);
        // SAFETY: `restore_on_break` is a plain function with the handler's signature,
        // alive for the whole program; it touches only an atomic and the standard
        // handles.
        unsafe { SetConsoleCtrlHandler(Some(restore_on_break), 1) };
        Some(raw)
    }

    /// Puts both modes back as they were, for a while.
    pub fn suspend(&self) {
        set_mode(self.input, self.saved_input);
        set_mode(self.output, self.saved_output);
    }

    /// Raw input and VT output again; false if the console refuses either.
    pub fn resume(&self) -> bool {
        let output = self.saved_output
            | ENABLE_PROCESSED_OUTPUT
            | ENABLE_VIRTUAL_TERMINAL_PROCESSING
            | DISABLE_NEWLINE_AUTO_RETURN;
        let input = (self.saved_input
            & !(ENABLE_PROCESSED_INPUT | ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT))
            | ENABLE_VIRTUAL_TERMINAL_INPUT;
        set_mode(self.output, output) && set_mode(self.input, input)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        SAVED_MODES.store(NO_MODES, Ordering::SeqCst);
        self.suspend();
    }
}

/// The console window's size as (rows, columns).
pub fn size() -> Option<(usize, usize)> {
    let output = std::io::stdout().as_raw_handle();
    let mut info = ScreenBufferInfo::default();
    // SAFETY: `info` is a live, properly laid out CONSOLE_SCREEN_BUFFER_INFO the call
    // fills; a handle that is no console makes the call fail, nothing worse.
    let ok = unsafe { GetConsoleScreenBufferInfo(output, &mut info) } != 0;
    let columns = i32::from(info.window.right) - i32::from(info.window.left) + 1;
    let rows = i32::from(info.window.bottom) - i32::from(info.window.top) + 1;
    match (ok, usize::try_from(rows), usize::try_from(columns)) {
        (true, Ok(rows), Ok(columns)) if columns > 0 => Some((rows, columns)),
        _ => None,
    }
}

/// Windows has no job control: Ctrl-Z stops nothing, and the input line is drawn again.
pub fn stop_self() {}

/// The console mode of `console`, if it is a console.
fn mode(console: Handle) -> Option<u32> {
    let mut mode = 0u32;
    // SAFETY: `mode` is a live u32 the call writes; a handle that is no console makes
    // the call fail, nothing worse.
    let ok = unsafe { GetConsoleMode(console, &mut mode) } != 0;
    ok.then_some(mode)
}

/// Sets the console mode of `console`; false if the console refuses it.
fn set_mode(console: Handle, mode: u32) -> bool {
    // SAFETY: the call takes the handle and the mode by value and writes nothing of
    // ours; a handle that is no console makes it fail, nothing worse.
    unsafe { SetConsoleMode(console, mode) != 0 }
}
