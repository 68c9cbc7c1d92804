//! The chat room as a state machine: a datagram, its source and the time go in,
//! datagrams to send come out. No sockets, no clocks: the caller passes `now`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::proto::{self, Request};

/// The room's limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// A member silent for longer than this is evicted.
    pub timeout: Duration,
    /// Chat text longer than this many bytes is refused with a notice.
    pub max_message: usize,
}

/// The clients in the room and what the room knows of them.
#[derive(Debug)]
pub struct Room {
    config: Config,
    members: HashMap<SocketAddr, Member>,
    /// Join counter, so listings can show members in join order.
    n_joined: u64,
    /// No member can have timed out before this instant; `None` when the room is empty.
    /// Keeps eviction from scanning the table on every datagram.
    next_sweep: Option<Instant>,
}

/// A member as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member's address.
    pub addr: SocketAddr,
    /// How the member is shown to others.
    pub label: String,
    /// Time since the member was last heard from.
    pub idle: Duration,
}

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

#[derive(Debug)]
struct Member {
    last_seen: Instant,
    joined: u64,
    /// The sender prefix of this member's chat lines.
    label: String,
}

/// One payload's place in `Outbox::bytes`, newline excluded.
#[derive(Debug, Clone, Copy)]
struct Payload {
    start: usize,
    end: usize,
}

#[derive(Debug)]
struct Send {
    to: SocketAddr,
    payload: Payload,
    newline: bool,
}

impl Room {
    /// An empty room.
    pub fn new(config: Config) -> Room {
        Room {
            config,
            members: HashMap::new(),
            n_joined: 0,
            next_sweep: None,
        }
    }

    /// Handles one datagram from `from`, adding what should be sent to `out`.
    pub fn handle_datagram(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
        out: &mut Outbox,
    ) {
        match proto::parse_request(datagram) {
            Request::Heartbeat => self.touch(from, now),
            Request::Leave => {
                if let Some(member) = self.members.remove(&from) {
                    info!("{} left", member.label);
                }
            }
            Request::Text(text) => {
                self.touch(from, now);
                self.chat(text, from, out);
            }
        }
    }

    /// Evicts members idle for longer than the timeout. Cheap when nobody is due.
    pub fn tick(&mut self, now: Instant, _out: &mut Outbox) {
        match self.next_sweep {
            Some(due) if now > due => {}
            _ => return,
        }
        let timeout = self.config.timeout;
        self.members.retain(|_, member| {
            let keep = now.duration_since(member.last_seen) <= timeout;
            if !keep {
                info!("{} timed out", member.label);
            }
            keep
        });
        self.next_sweep = self.members.values().map(|m| m.last_seen + timeout).min();
    }

    /// Tells every member the server is going away (an empty datagram) and empties the room.
    pub fn shutdown(&mut self, out: &mut Outbox) {
        let goodbye = out.empty_payload();
        for &addr in self.members.keys() {
            out.push(addr, goodbye, false);
        }
        self.members.clear();
        self.next_sweep = None;
    }

    /// The members in join order.
    pub fn members(&self, now: Instant) -> Vec<MemberInfo> {
        let mut members: Vec<(&SocketAddr, &Member)> = self.members.iter().collect();
        members.sort_by_key(|(_, m)| m.joined);
        members
            .into_iter()
            .map(|(&addr, m)| MemberInfo {
                addr,
                label: m.label.clone(),
                idle: now.saturating_duration_since(m.last_seen),
            })
            .collect()
    }

    /// The limits the room was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Registers `from` or refreshes its last-seen time.
    fn touch(&mut self, from: SocketAddr, now: Instant) {
        if let Some(member) = self.members.get_mut(&from) {
            member.last_seen = now;
            return;
        }
        self.n_joined += 1;
        let member = Member {
            last_seen: now,
            joined: self.n_joined,
            label: from.to_string(),
        };
        info!("{} joined", member.label);
        self.members.insert(from, member);
        let due = now + self.config.timeout;
        self.next_sweep = Some(self.next_sweep.map_or(due, |d| d.min(due)));
    }

    /// Broadcasts chat text from the member `from` to every member, itself included.
    fn chat(&mut self, text: &[u8], from: SocketAddr, out: &mut Outbox) {
        if text.len() > self.config.max_message {
            debug!("{from} sent {} bytes, over the limit", text.len());
            let notice = proto::too_long_notice(text.len(), self.config.max_message);
            let payload = out.payload(|buf| buf.extend_from_slice(notice.as_bytes()));
            out.push(from, payload, false);
            return;
        }
        let text = proto::decode(text);
        if text.is_empty() {
            return;
        }
        let Some(sender) = self.members.get(&from) else {
            return;
        };
        info!("{} {}", sender.label, proto::sanitize_for_terminal(&text));
        let payload = out.payload(|buf| proto::write_chat_line(buf, &sender.label, &text));
        for &addr in self.members.keys() {
            out.push(addr, payload, false);
        }
    }
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
    fn payload(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Payload {
        let start = self.bytes.len();
        write(&mut self.bytes);
        let end = self.bytes.len();
        self.bytes.push(b'\n');
        Payload { start, end }
    }

    /// A zero-length payload (never sent with a newline).
    fn empty_payload(&mut self) -> Payload {
        let at = self.bytes.len();
        Payload { start: at, end: at }
    }

    fn push(&mut self, to: SocketAddr, payload: Payload, newline: bool) {
        let newline = newline && payload.end > payload.start;
        self.sends.push(Send {
            to,
            payload,
            newline,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn room() -> Room {
        Room::new(Config {
            timeout: TIMEOUT,
            max_message: 16,
        })
    }

    /// Feeds one datagram and returns what the room sends, sorted by destination.
    fn feed(room: &mut Room, datagram: &[u8], from: u16, now: Instant) -> Vec<(u16, Vec<u8>)> {
        let mut out = Outbox::new();
        room.handle_datagram(datagram, addr(from), now, &mut out);
        sorted(&out)
    }

    fn sorted(out: &Outbox) -> Vec<(u16, Vec<u8>)> {
        let mut sent: Vec<(u16, Vec<u8>)> =
            out.iter().map(|(a, b)| (a.port(), b.to_vec())).collect();
        sent.sort();
        sent
    }

    #[test]
    fn heartbeat_joins_silently() {
        let mut room = room();
        let t = Instant::now();
        assert!(feed(&mut room, b"@im@", 1, t).is_empty());
        assert_eq!(room.len(), 1);
        assert!(feed(&mut room, b"@IM@\n", 1, t).is_empty());
        assert_eq!(room.len(), 1);
    }

    #[test]
    fn fan_out_includes_the_sender_and_registers_it() {
        let mut room = room();
        let t = Instant::now();
        feed(&mut room, b"@im@", 1, t);
        let sent = feed(&mut room, b"hello\r\n", 2, t);
        let line = b"127.0.0.1:2 hello".to_vec();
        assert_eq!(sent, vec![(1, line.clone()), (2, line)]);
        assert_eq!(room.len(), 2);
    }

    #[test]
    fn quit_and_empty_datagram_remove_without_broadcast() {
        let mut room = room();
        let t = Instant::now();
        feed(&mut room, b"@im@", 1, t);
        feed(&mut room, b"@im@", 2, t);
        assert!(feed(&mut room, b"QUIT\n", 1, t).is_empty());
        assert_eq!(room.len(), 1);
        assert!(feed(&mut room, b"", 2, t).is_empty());
        assert!(room.is_empty());
        // Leaving twice, or without ever joining, is a no-op.
        assert!(feed(&mut room, b"quit", 2, t).is_empty());
        assert!(feed(&mut room, b"", 3, t).is_empty());
        assert!(room.is_empty());
    }

    #[test]
    fn empty_text_after_trimming_registers_but_is_not_broadcast() {
        let mut room = room();
        let t = Instant::now();
        assert!(feed(&mut room, b"\r\n", 1, t).is_empty());
        assert_eq!(room.len(), 1);
    }

    #[test]
    fn eviction_happens_just_past_the_timeout_not_at_it() {
        let mut room = room();
        let t = Instant::now();
        let mut out = Outbox::new();
        feed(&mut room, b"@im@", 1, t);
        feed(&mut room, b"@im@", 2, t + Duration::from_secs(3));
        room.tick(t + TIMEOUT, &mut out);
        assert_eq!(room.len(), 2, "idle exactly the timeout stays");
        room.tick(t + TIMEOUT + Duration::from_millis(1), &mut out);
        let left: Vec<_> = room.members(t).into_iter().map(|m| m.addr.port()).collect();
        assert_eq!(left, vec![2]);
        room.tick(
            t + Duration::from_secs(3) + TIMEOUT + Duration::from_millis(1),
            &mut out,
        );
        assert!(room.is_empty());
        assert!(out.is_empty(), "eviction sends nothing");
    }

    #[test]
    fn heartbeat_postpones_eviction() {
        let mut room = room();
        let t = Instant::now();
        let mut out = Outbox::new();
        feed(&mut room, b"@im@", 1, t);
        feed(&mut room, b"@im@", 1, t + Duration::from_secs(9));
        room.tick(t + Duration::from_secs(15), &mut out);
        assert_eq!(room.len(), 1);
        room.tick(t + Duration::from_secs(20), &mut out);
        assert_eq!(room.len(), 0);
    }

    #[test]
    fn oversize_text_gets_a_notice_to_the_sender_alone() {
        let mut room = room();
        let t = Instant::now();
        feed(&mut room, b"@im@", 1, t);
        let long = [b'x'; 17];
        let sent = feed(&mut room, &long, 2, t);
        assert_eq!(
            sent,
            vec![(2, b"* message too long (17 bytes, limit 16)".to_vec())]
        );
        // Exactly the limit, after trimming the newline, is fine.
        let mut exact = vec![b'y'; 16];
        exact.push(b'\n');
        assert_eq!(feed(&mut room, &exact, 2, t).len(), 2);
    }

    #[test]
    fn non_utf8_is_decoded_lossily() {
        let mut room = room();
        let t = Instant::now();
        let sent = feed(&mut room, b"a\xff\xfeb", 1, t);
        assert_eq!(
            sent,
            vec![(1, "127.0.0.1:1 a\u{fffd}\u{fffd}b".as_bytes().to_vec())]
        );
    }

    #[test]
    fn shutdown_sends_an_empty_datagram_to_everyone() {
        let mut room = room();
        let t = Instant::now();
        feed(&mut room, b"@im@", 1, t);
        feed(&mut room, b"@im@", 2, t);
        let mut out = Outbox::new();
        room.shutdown(&mut out);
        assert_eq!(sorted(&out), vec![(1, vec![]), (2, vec![])]);
        assert!(room.is_empty());
    }

    #[test]
    fn members_are_listed_in_join_order_with_idle_time() {
        let mut room = room();
        let t = Instant::now();
        for port in [5, 3, 9] {
            feed(&mut room, b"@im@", port, t);
        }
        feed(&mut room, b"@im@", 5, t + Duration::from_secs(2));
        let members = room.members(t + Duration::from_secs(4));
        let listed: Vec<_> = members
            .iter()
            .map(|m| (m.addr.port(), m.idle.as_secs()))
            .collect();
        assert_eq!(listed, vec![(5, 2), (3, 4), (9, 4)]);
    }
}
