//! The Windows console (10 and later) in raw mode, through the console API in
//! kernel32, which std links already: input without line editing, echo or Ctrl-C
//! processing, keys as VT sequences (so the same key decoder reads them), and output
//! that understands VT sequences (colors, cursor moves). Both modes are saved on entry
//! and restored on every way out; a console that cannot do VT (older than Windows 10)
//! is left as it was, and the client reads lines.

use std::ffi::c_void;
use std::io::IsTerminal;
use std::os::windows::io::AsRawHandle;

type Handle = *mut c_void;

/// Input: Ctrl-C as a signal, whole lines, echo; and keys as VT sequences.
const ENABLE_PROCESSED_INPUT: u32 = 0x0001;
const ENABLE_LINE_INPUT: u32 = 0x0002;
const ENABLE_ECHO_INPUT: u32 = 0x0004;
const ENABLE_VIRTUAL_TERMINAL_INPUT: u32 = 0x0200;
/// Output: control characters acted on, and VT sequences understood.
const ENABLE_PROCESSED_OUTPUT: u32 = 0x0001;
const ENABLE_VIRTUAL_TERMINAL_PROCESSING: u32 = 0x0004;

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

#[link(name = "kernel32")]
unsafe extern "system" {
    fn GetConsoleMode(console: Handle, mode: *mut u32) -> i32;
    fn SetConsoleMode(console: Handle, mode: u32) -> i32;
    fn GetConsoleScreenBufferInfo(console: Handle, info: *mut ScreenBufferInfo) -> i32;
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
        raw.resume().then_some(raw)
    }

    /// Puts both modes back as they were, for a while.
    pub fn suspend(&self) {
        set_mode(self.input, self.saved_input);
        set_mode(self.output, self.saved_output);
    }

    /// Raw input and VT output again; false if the console refuses either.
    pub fn resume(&self) -> bool {
        let output =
            self.saved_output | ENABLE_PROCESSED_OUTPUT | ENABLE_VIRTUAL_TERMINAL_PROCESSING;
        let input = (self.saved_input
            & !(ENABLE_PROCESSED_INPUT | ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT))
            | ENABLE_VIRTUAL_TERMINAL_INPUT;
        set_mode(self.output, output) && set_mode(self.input, input)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.suspend();
    }
}

/// The console window's size as (rows, columns).
pub fn size() -> Option<(usize, usize)> {
    let output = std::io::stdout().as_raw_handle();
    let mut info = ScreenBufferInfo::default();
    // SAFETY: `output` is the process's stdout handle, valid while the process runs,
    // and `info` is a live, properly laid out CONSOLE_SCREEN_BUFFER_INFO the call fills.
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
    // SAFETY: `console` is one of the process's standard handles, valid while it runs;
    // `mode` is a live u32 the call writes.
    let ok = unsafe { GetConsoleMode(console, &mut mode) } != 0;
    ok.then_some(mode)
}

/// Sets the console mode of `console`; false if the console refuses it.
fn set_mode(console: Handle, mode: u32) -> bool {
    // SAFETY: `console` is one of the process's standard handles, valid while it runs;
    // the call takes the mode by value.
    unsafe { SetConsoleMode(console, mode) != 0 }
}
