//! udpchat: a small UDP chat room, wire-compatible with the classic Python tutorial one.
//!
//! - [`proto`]: what each datagram means, the names, notices and text rules both sides
//!   share; no I/O.
//! - [`room`]: the room as a state machine (datagram, source, time in; datagrams out),
//!   writing into an [`outbox`].
//! - [`server`]: the thin socket loop around a [`room::Room`], and its console.
//! - [`client`]: the client as a state machine (`client::session`) and the threads
//!   around it.
//! - [`limits`]: the default and range of every command-line number, quoted by the docs.
//! - [`sockerr`]: what a socket error means, for every platform.
//! - [`cli`]: what both binaries share: argument parsing, and the logger that never
//!   makes a thread wait (`cli::logger`).
//!
//! The binaries in `src/bin/` parse arguments, set up logging and call into this crate.
//! The library never initialises logging itself.

pub mod cli;
pub mod client;
pub mod limits;
pub mod outbox;
pub mod proto;
pub mod room;
pub mod server;
pub mod sockerr;
