//! The datagrams a round of the room produces, each payload written once however many
//! members receive it, in memory reused from round to round.

use std::io::Write;
use std::net::SocketAddr;

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

#[derive(Debug)]
struct Send {
    to: SocketAddr,
    payload: Payload,
    newline: bool,
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
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> + '_ {
        self.sends.iter().map(|send| {
            let end = send.payload.end + usize::from(send.newline);
            (send.to, &self.bytes[send.payload.start..end])
        })
    }

    /// Writes one payload with `write` and returns its place.
    pub(crate) fn payload(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Payload {
        let start = self.bytes.len();
        write(&mut self.bytes);
        let end = self.bytes.len();
        self.bytes.push(b'\n');
        Payload { start, end }
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

    /// Queues `payload` for `to`, with its newline if `newline` (never for an empty one).
    pub(crate) fn push(&mut self, to: SocketAddr, payload: Payload, newline: bool) {
        let newline = newline && payload.end > payload.start;
        self.sends.push(Send {
            to,
            payload,
            newline,
        });
    }
}
