//! udpchat: a small UDP chat room, wire-compatible with the classic Python tutorial one.
//!
//! - [`proto`]: what each datagram means and how lines are written; no I/O.
//! - [`room`]: the room as a state machine (datagram, source, time in; datagrams out),
//!   with its limits in `limits` and its output in [`outbox`].
//! - [`server`]: the thin socket loop around a [`room::Room`], and its console.
//! - [`client`]: the client's threads and main loop.
//! - [`cli`]: helpers both binaries share (argument parsing, log line format).
//!
//! The binaries in `src/bin/` parse arguments, set up logging and call into this crate.
//! The library never initialises logging itself.

pub mod cli;
pub mod client;
mod limits;
pub mod outbox;
pub mod proto;
pub mod room;
pub mod server;
