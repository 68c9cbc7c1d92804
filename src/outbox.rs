//! The datagrams a round of the room produces, each payload written once however many
//! members receive it, in memory reused from round to round. What differs between
//! receivers (a line mode's newline, a session's header) is added as each is sent.

use std::io::Write;
use std::net::SocketAddr;

use crate::proto::frame::{self, Token, LINE_HEADER, SESSION_HEADER};
use crate::proto::{Notice, NOTICE_PREFIX};

/// Datagrams for the socket loop to send, reusable across calls without reallocating.
///
/// Each payload is written once, however many members receive it.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Every payload back to back, each followed by one `\n` that only line-mode
    /// receivers get.
    bytes: Vec<u8>,
    sends: Vec<Send>,
}

/// One payload's place in `Outbox::bytes`, newline excluded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Payload {
    start: usize,
    end: usize,
}

/// How a payload is wrapped for one receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    /// As it is: the Python client, our client before its session.
    Bare,
    /// Followed by `\n` (unless empty): netcat and friends.
    Line,
    /// In a session frame with this token, unnumbered: a goodbye, or an answer to a
    /// session that is not a member.
    Session(Token),
    /// In a line frame of the session with this token, numbered `seq`; a history frame
    /// if `earlier` (a line said before the session joined).
    Numbered {
        token: Token,
        seq: u64,
        earlier: bool,
    },
}

/// One datagram to send: a frame's header, if any, then the body.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    header: Option<Header>,
    body: &'a [u8],
}

/// A frame's header: the first `len` bytes.
#[derive(Debug, Clone, Copy)]
struct Header {
    bytes: [u8; LINE_HEADER],
    len: usize,
}

#[derive(Debug)]
struct Send {
    to: SocketAddr,
    payload: Payload,
    wrap: Wrap,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Forgets every datagram, keeping the memory for the next round.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.sends.clear();
    }

    /// The number of datagrams to send.
    pub fn len(&self) -> usize {
        self.sends.len()
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
    }

    /// Each datagram with its destination, in the order the room produced them.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, Datagram<'_>)> + '_ {
        self.sends.iter().map(|send| {
            let Payload { start, end } = send.payload;
            let datagram = match send.wrap {
                Wrap::Bare => Datagram::bare(&self.bytes[start..end]),
                // A newline follows every payload in `bytes`; an empty one gets none.
                Wrap::Line => Datagram::bare(&self.bytes[start..end + usize::from(end > start)]),
                Wrap::Session(token) => {
                    let mut bytes = [0u8; LINE_HEADER];
                    bytes[..SESSION_HEADER].copy_from_slice(&frame::session_header(token));
                    Datagram {
                        header: Some(Header {
                            bytes,
                            len: SESSION_HEADER,
                        }),
                        body: &self.bytes[start..end],
                    }
                }
                Wrap::Numbered {
                    token,
                    seq,
                    earlier,
                } => Datagram {
                    header: Some(Header {
                        bytes: frame::line_header(token, seq, earlier),
                        len: LINE_HEADER,
                    }),
                    body: &self.bytes[start..end],
                },
            };
            (send.to, datagram)
        })
    }

    /// Each datagram with its destination, as owned bytes: for tests and tools, not
    /// for the room's loop, which sends without allocating.
    pub fn to_vec(&self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.iter().map(|(to, d)| (to, d.to_vec())).collect()
    }

    /// The bytes of a payload written this round.
    pub(crate) fn payload_bytes(&self, payload: Payload) -> &[u8] {
        &self.bytes[payload.start..payload.end]
    }

    /// Writes one payload with `write` and returns its place.
    pub(crate) fn payload(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Payload {
        let start = self.bytes.len();
        write(&mut self.bytes);
        let end = self.bytes.len();
        self.bytes.push(b'\n');
        Payload { start, end }
    }

    /// The bytes `payload` takes on the wire wrapped as `wrap`: what
    /// [`Outbox::iter`] will hand the socket for it.
    pub(crate) fn wrapped_len(&self, payload: Payload, wrap: Wrap) -> usize {
        let body = payload.end - payload.start;
        match wrap {
            Wrap::Bare => body,
            Wrap::Line => body + usize::from(body > 0),
            Wrap::Session(_) => SESSION_HEADER + body,
            Wrap::Numbered { .. } => LINE_HEADER + body,
        }
    }

    /// Writes a notice: `* ` and its wording.
    pub(crate) fn notice(&mut self, notice: Notice<'_>) -> Payload {
        self.payload(|buf| {
            buf.extend_from_slice(NOTICE_PREFIX.as_bytes());
            // Writing to a Vec cannot fail.
            let _ = write!(buf, "{notice}");
        })
    }

    /// A zero-length payload (never sent with a newline).
    pub(crate) fn empty_payload(&mut self) -> Payload {
        let at = self.bytes.len();
        Payload { start: at, end: at }
    }

    /// Queues `payload` for `to`, wrapped as `wrap` says.
    pub(crate) fn push(&mut self, to: SocketAddr, payload: Payload, wrap: Wrap) {
        self.sends.push(Send { to, payload, wrap });
    }
}

impl Wrap {
    /// [`Wrap::Line`] if `line_mode`, else [`Wrap::Bare`].
    pub fn classic(line_mode: bool) -> Wrap {
        if line_mode {
            Wrap::Line
        } else {
            Wrap::Bare
        }
    }
}

impl<'a> Datagram<'a> {
    fn bare(body: &'a [u8]) -> Datagram<'a> {
        Datagram { header: None, body }
    }

    /// The datagram's bytes: the body itself when it has no header, else the header
    /// and body copied into `buf` (cleared first), so sending allocates nothing.
    pub fn bytes<'b>(&self, buf: &'b mut Vec<u8>) -> &'b [u8]
    where
        'a: 'b,
    {
        match self.header {
            None => self.body,
            Some(header) => {
                buf.clear();
                buf.extend_from_slice(&header.bytes[..header.len]);
                buf.extend_from_slice(self.body);
                buf
            }
        }
    }

    /// The datagram's length in bytes.
    pub fn len(&self) -> usize {
        self.header.map_or(0, |h| h.len) + self.body.len()
    }

    /// Whether the datagram has no bytes (a classic goodbye).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The datagram's bytes, owned.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.bytes(&mut buf).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::Token;

    #[test]
    fn the_length_told_is_the_length_sent() {
        let to = SocketAddr::from(([127, 0, 0, 1], 1));
        let mut out = Outbox::new();
        let token = Token(*b"12345678");
        for wrap in [
            Wrap::Bare,
            Wrap::Line,
            Wrap::Session(token),
            Wrap::Numbered {
                token,
                seq: 7,
                earlier: true,
            },
        ] {
            for payload in [out.empty_payload(), out.notice(Notice::Help)] {
                out.push(to, payload, wrap);
                let (_, sent) = out.iter().last().expect("just pushed");
                assert_eq!(out.wrapped_len(payload, wrap), sent.len(), "{wrap:?}");
            }
        }
    }
}
