//! The default and the range of every number a person can set on the command line, in
//! one place: the binaries' options and their `--help` texts are built from these, and
//! `tests/docs.rs` checks that README.md, docs/PROTOCOL.md and `--help` quote the same
//! numbers.

/// Seconds any duration option takes at least (`--timeout`, `--heartbeat`).
pub const MIN_SECS: f64 = 0.001;
/// Seconds any duration option takes at most: a day.
pub const MAX_SECS: u32 = 86_400;

/// `--timeout`: seconds of silence after which the server evicts a member.
pub const DEFAULT_TIMEOUT_SECS: u32 = 10;
/// `--heartbeat`: seconds between our client's heartbeats.
pub const DEFAULT_HEARTBEAT_SECS: u32 = 5;

/// `--max-message`: the longest chat message, in bytes, by default, and what our client
/// splits a long typed line to, whatever the server's limit (no welcome says it).
pub const DEFAULT_MAX_MESSAGE: u32 = crate::proto::DEFAULT_MAX_MESSAGE as u32;
/// `--max-message` takes at least this many bytes.
pub const MIN_MAX_MESSAGE: u32 = 64;
/// `--max-message` takes at most this many bytes: what any datagram carries around the
/// longest wrapper (see [`crate::proto::MAX_MESSAGE_LIMIT`]).
pub const MAX_MAX_MESSAGE: u32 = crate::proto::MAX_MESSAGE_LIMIT as u32;

/// The most `--max-message` macOS can deliver by default: its 9 216-byte datagrams
/// around the longest wrapper.
pub const MACOS_MAX_MESSAGE: u32 = (9216 - crate::proto::MAX_WRAPPER) as u32;

/// The most `--max-message` this platform can deliver, if less than
/// [`MAX_MAX_MESSAGE`], and why: macOS sends UDP datagrams of at most 9 216 bytes by
/// default (`sysctl net.inet.udp.maxdgram`), so a larger limit would fail in silence.
pub fn platform_max_message() -> Option<(u32, &'static str)> {
    cfg!(target_os = "macos").then_some((
        MACOS_MAX_MESSAGE,
        "macOS sends UDP datagrams of at most 9216 bytes unless \
         `sysctl net.inet.udp.maxdgram` says more",
    ))
}

/// `--max-clients`: most members at once, by default.
pub const DEFAULT_MAX_CLIENTS: u32 = 1000;
/// `--max-clients` takes at least one.
pub const MIN_MAX_CLIENTS: u32 = 1;

/// `--max-per-host`: most members from one host, by default: a LAN behind one NAT
/// fits, and nine tenths of the default room stay for everyone else.
pub const DEFAULT_MAX_PER_HOST: u32 = 100;
/// `--max-per-host` takes at least one.
pub const MIN_MAX_PER_HOST: u32 = 1;

/// `--rate`: chat messages and commands per second per member, by default (0: no limit).
pub const DEFAULT_RATE: f64 = 5.0;
/// `--burst`: messages a member may send at once before `--rate` applies, by default.
pub const DEFAULT_BURST: u32 = 10;
/// `--burst` takes at least one.
pub const MIN_BURST: u32 = 1;

/// `--history`: the room's last lines shown to our client when it joins, by default.
pub const DEFAULT_HISTORY: u32 = 20;
/// `--history` takes at most this many lines (and the room keeps at most
/// [`crate::room::HISTORY_BYTES`] of them).
pub const MAX_HISTORY: u32 = 1000;

/// `--repair-lines`: how many lines sent to sessions the room keeps to send again.
pub const DEFAULT_REPAIR_LINES: u32 = crate::room::SENT_LINES as u32;
/// `--repair-lines` takes at most this many lines (and the room keeps at most
/// [`crate::room::SENT_BYTES`] of them).
pub const MAX_REPAIR_LINES: u32 = 65_536;

// Every default within its range, and two heartbeats within the timeout (so one lost
// heartbeat evicts no one): checked when the crate compiles.
const _: () = {
    assert!(MIN_MAX_MESSAGE <= DEFAULT_MAX_MESSAGE && DEFAULT_MAX_MESSAGE <= MAX_MAX_MESSAGE);
    assert!(DEFAULT_MAX_CLIENTS >= MIN_MAX_CLIENTS);
    assert!(MIN_MAX_PER_HOST <= DEFAULT_MAX_PER_HOST && DEFAULT_MAX_PER_HOST < DEFAULT_MAX_CLIENTS);
    assert!(DEFAULT_BURST >= MIN_BURST);
    assert!(DEFAULT_HISTORY <= MAX_HISTORY);
    assert!(DEFAULT_REPAIR_LINES <= MAX_REPAIR_LINES);
    assert!(DEFAULT_TIMEOUT_SECS <= MAX_SECS && DEFAULT_HEARTBEAT_SECS <= MAX_SECS);
    assert!(2 * DEFAULT_HEARTBEAT_SECS <= DEFAULT_TIMEOUT_SECS);
};
