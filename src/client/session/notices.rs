//! The client's own notices: every wording in one place. Each starts with
//! [`CLIENT_MARKER`], which no line a room relays can start with — chat begins with a
//! name (a letter first) or an address (a digit or `[`), the server's notices with
//! `* ` — so a member cannot make a line that reads as our client talking.

use std::fmt;
use std::time::Duration;

/// What every notice of our client starts with (irssi's mark for its own messages).
pub const CLIENT_MARKER: &str = "-!- ";

/// A notice of our client, about itself or its tie to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNotice<'a> {
    /// Nothing heard from the server since we started. `keys`: those that leave.
    NoAnswerYet { server: &'a str, keys: &'a str },
    /// The server went away (its goodbye, or its port closed).
    ServerAway { keys: &'a str },
    /// Our session went unanswered: the server restarted or forgot us.
    SessionUnanswered { secs: u64, keys: &'a str },
    /// We were stopped (Ctrl-Z, a suspended laptop) for a while; we rejoin.
    Resumed { secs: u64 },
    /// The server answers again.
    Back,
    /// Handshakes keep coming to nothing (forged cookies?): trying again later; lines
    /// wait meanwhile if we had a session, else they go without one.
    NoSession { retry_secs: u64, lines_wait: bool },
    /// A line we sent that the room never relayed back.
    NotRelayed(&'a str),
    /// A line typed that was never sent: the session ended first.
    NotSent(&'a str),
    /// Received lines dropped here, arriving faster than they were shown.
    DroppedHere(u64),
    /// Datagrams from the server's address without our session's token.
    Forged(u64),
    /// Numbered lines of our session that could not be repaired.
    Lost(u64),
    /// Writing the transcript (`--log`) failed: it stops, the chat goes on.
    LogStopped { path: &'a str, error: &'a str },
}

impl fmt::Display for ClientNotice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(CLIENT_MARKER)?;
        match *self {
            ClientNotice::NoAnswerYet { server, keys } => write!(
                f,
                "no answer from {server} yet; still trying — {keys} to leave"
            ),
            ClientNotice::ServerAway { keys } => {
                write!(f, "server went away; trying again — {keys} to leave")
            }
            ClientNotice::SessionUnanswered { secs, keys } => write!(
                f,
                "no answer from the server for {secs} s (restarted?); joining again — \
                 {keys} to leave"
            ),
            ClientNotice::Resumed { secs } => write!(
                f,
                "this client was stopped for {secs} s; joining the room again"
            ),
            ClientNotice::Back => f.write_str("back in the room"),
            ClientNotice::NoSession {
                retry_secs,
                lines_wait: false,
            } => write!(
                f,
                "could not open a session with the server (forged cookies?); chatting \
                 without one, trying again in {retry_secs} s"
            ),
            ClientNotice::NoSession {
                retry_secs,
                lines_wait: true,
            } => write!(
                f,
                "could not open a session with the server again (forged cookies?); your \
                 lines wait, trying again in {retry_secs} s"
            ),
            ClientNotice::NotRelayed(text) => write!(f, "not relayed by the room: {text}"),
            ClientNotice::NotSent(text) => write!(f, "not sent: {text}"),
            ClientNotice::DroppedHere(n) => write!(
                f,
                "{n} {} dropped here: they came faster than they could be shown",
                plural(n, "line", "lines")
            ),
            ClientNotice::Forged(n) => write!(
                f,
                "ignored {n} {} claiming to be from the server without our session's \
                 token (forged?)",
                plural(n, "datagram", "datagrams")
            ),
            ClientNotice::Lost(n) => write!(f, "{n} {} lost", plural(n, "message", "messages")),
            ClientNotice::LogStopped { path, error } => write!(
                f,
                "the log stopped: cannot write {path}: {error}; the chat goes on without it"
            ),
        }
    }
}

impl ClientNotice<'_> {
    /// One of each, for tests that walk them all. Keep in step with the enum: the
    /// match in [`ClientNotice::kind_index`] fails to compile when a variant is added.
    pub fn examples() -> Vec<ClientNotice<'static>> {
        let all = vec![
            ClientNotice::NoAnswerYet {
                server: "127.0.0.1:9999",
                keys: "Ctrl-D",
            },
            ClientNotice::ServerAway { keys: "Ctrl-D" },
            ClientNotice::SessionUnanswered {
                secs: 6,
                keys: "Ctrl-D",
            },
            ClientNotice::Resumed { secs: 15 },
            ClientNotice::Back,
            ClientNotice::NoSession {
                retry_secs: 30,
                lines_wait: false,
            },
            ClientNotice::NotRelayed("hello"),
            ClientNotice::NotSent("hello"),
            ClientNotice::DroppedHere(2),
            ClientNotice::Forged(3),
            ClientNotice::Lost(1),
            ClientNotice::LogStopped {
                path: "chat.log",
                error: "No space left on device",
            },
        ];
        debug_assert!(all.iter().enumerate().all(|(i, n)| n.kind_index() == i));
        all
    }

    /// The variant's place in [`ClientNotice::examples`].
    fn kind_index(&self) -> usize {
        match self {
            ClientNotice::NoAnswerYet { .. } => 0,
            ClientNotice::ServerAway { .. } => 1,
            ClientNotice::SessionUnanswered { .. } => 2,
            ClientNotice::Resumed { .. } => 3,
            ClientNotice::Back => 4,
            ClientNotice::NoSession { .. } => 5,
            ClientNotice::NotRelayed(_) => 6,
            ClientNotice::NotSent(_) => 7,
            ClientNotice::DroppedHere(_) => 8,
            ClientNotice::Forged(_) => 9,
            ClientNotice::Lost(_) => 10,
            ClientNotice::LogStopped { .. } => 11,
        }
    }
}

/// Whole seconds of `duration`, at least one (for notices).
pub fn whole_secs(duration: Duration) -> u64 {
    duration.as_secs().max(1)
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{notice::Notice, Name};

    #[test]
    fn every_notice_of_ours_starts_with_a_mark_no_relayed_line_can_start_with() {
        let examples = ClientNotice::examples();
        assert_eq!(examples.len(), 12);
        for notice in examples {
            let text = notice.to_string();
            assert!(text.starts_with(CLIENT_MARKER), "{text}");
            // Not a server's notice, nor chat: a name cannot start with the marker, and
            // neither can an address.
            assert!(Notice::parse(&text).is_none(), "{text}");
            let first = text.split(' ').next().unwrap_or_default();
            assert!(Name::parse(first).is_err(), "{first}");
            assert!(first.parse::<std::net::SocketAddr>().is_err(), "{first}");
            assert!(!text.starts_with(crate::proto::NOTICE_PREFIX));
        }
    }

    #[test]
    fn a_member_cannot_make_a_line_that_reads_as_ours() {
        // `/nick ignored` then `/me 3 datagrams …` reads `* ignored 3 datagrams …`:
        // a server's notice, never ours.
        let relayed = "* ignored 3 datagrams claiming to be from the server";
        assert!(!relayed.starts_with(CLIENT_MARKER));
        for name in ["-!-", "-", "!", "-!-x"] {
            assert!(Name::parse(name).is_err(), "{name} is no name");
        }
    }
}
