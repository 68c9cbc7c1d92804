//! The wire format and the rules both sides share, without I/O.
//!
//! - [`wire`]: what a datagram means, both ways, and how a chat line is written.
//! - [`command`]: the `/…` grammar of chat text.
//! - [`name`]: the [`Name`] a member may take, its reserved words and its skeleton.
//! - [`text`]: what may reach a terminal, decided once for server and client.
//! - [`notice`]: every [`Notice`] the server writes, and the parser our client reads them with.
//! - [`frame`]: session frames, by which our client and server prove addresses and
//!   mark a session's datagrams.
//!
//! Nothing here touches a socket or a clock, so every rule is a unit test with byte
//! literals. `docs/PROTOCOL.md` is the prose version of this module.

pub mod command;
pub mod frame;
pub mod name;
pub mod notice;
pub mod text;
pub mod wire;

pub use command::{parse_chat, Chat, Command};
pub use name::{Name, NameError, MAX_NAME};
pub use notice::{Notice, RateLimit, NOTICE_PREFIX};
pub use text::{decode, terminal_safe};
pub use wire::{parse_reply, parse_request, trim_line_end, Reply, Request, HEARTBEAT, QUIT};

/// Default and client-side limit on the bytes of one chat message.
pub const DEFAULT_MAX_MESSAGE: usize = 1024;
/// The largest UDP payload that fits any IPv4 datagram.
pub const MAX_DATAGRAM: usize = 65_507;
/// The most bytes a relayed payload adds around the text it carries: the longest
/// wrapper (`* private from <who>: `, with `<who>` the longest address as shown) and
/// the longer of line mode's newline and a line frame's header. See
/// [`wire::MAX_LABEL`].
pub const MAX_WRAPPER: usize =
    "* private from ".len() + wire::MAX_LABEL + ": ".len() + frame::LINE_HEADER;
/// The largest `--max-message` the server can always deliver: any text it accepts,
/// wrapped in any notice, still fits one datagram.
pub const MAX_MESSAGE_LIMIT: usize = MAX_DATAGRAM - MAX_WRAPPER;
