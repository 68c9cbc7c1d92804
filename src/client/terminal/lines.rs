//! Where there is neither `stty` nor a Windows console: no raw mode, so the client
//! reads lines.

/// Never made: [`RawMode::enter`] always declines.
#[derive(Debug)]
pub struct RawMode(());

impl RawMode {
    /// No raw mode here.
    pub fn enter() -> Option<RawMode> {
        None
    }

    /// Nothing to put back.
    pub fn suspend(&self) {}

    /// Nothing to take again.
    pub fn resume(&self) -> bool {
        false
    }
}

/// Unknown here.
pub fn size() -> Option<(usize, usize)> {
    None
}

/// No job control here.
pub fn stop_self() {}
