//! Datagrams taken off the socket while the room was busy sending, waiting their turn,
//! each stamped with when it was taken off (no earlier than it arrived) and when the
//! socket was last found empty before (no later than it arrived).
//!
//! The kernel holds only about 200 small datagrams for a socket (std cannot enlarge its
//! buffer), and a fan-out to 1 000 members takes milliseconds: a burst of heartbeats
//! arriving meanwhile would overflow it. So the room's thread drains the socket into
//! this queue every few dozen sends, and handles what waits here, in order, with the
//! time each datagram arrived, before it reads the socket again.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// What a queued datagram is charged beyond its bytes: its place in the queue.
pub const ENTRY_COST: usize = 64;
/// The most spare buffers kept for reuse, and the largest kept.
const SPARE_BUFFERS: usize = 1024;
const SPARE_MAX_BYTES: usize = 2048;

/// A bounded first-in, first-out queue of datagrams, sized in bytes.
#[derive(Debug)]
pub struct Backlog {
    waiting: VecDeque<Waiting>,
    /// Bytes charged for what waits (datagram bytes plus [`ENTRY_COST`] each).
    bytes: usize,
    max_bytes: usize,
    /// Buffers of datagrams already handled, kept so a busy queue allocates nothing.
    spare: Vec<Vec<u8>>,
    /// Datagrams queued, since it was made.
    queued: u64,
    /// Datagrams taken off the socket that did not fit.
    dropped: u64,
    /// The most bytes that ever waited.
    high_water: usize,
    /// When the socket was last found empty: whatever arrived before then has been
    /// taken off it.
    emptied_at: Instant,
}

/// A datagram waiting its turn, with when it was taken off the socket.
#[derive(Debug)]
pub struct Waiting {
    pub datagram: Vec<u8>,
    pub from: SocketAddr,
    /// When it was taken off the socket: it arrived no later.
    pub at: Instant,
    /// When the socket was last found empty before it was taken off: it arrived no
    /// earlier.
    pub arrived_after: Instant,
}

impl Backlog {
    /// An empty queue holding at most `max_bytes`; the socket was empty at `now`.
    pub fn new(max_bytes: usize, now: Instant) -> Backlog {
        Backlog {
            waiting: VecDeque::new(),
            bytes: 0,
            max_bytes,
            spare: Vec::new(),
            queued: 0,
            dropped: 0,
            high_water: 0,
            emptied_at: now,
        }
    }

    /// Records that a receive that began at `at` found the socket empty.
    pub fn socket_emptied(&mut self, at: Instant) {
        self.emptied_at = self.emptied_at.max(at);
    }

    /// Queues a copy of `datagram`; false (and counted) when it does not fit.
    pub fn push(&mut self, datagram: &[u8], from: SocketAddr, at: Instant) -> bool {
        let cost = datagram.len() + ENTRY_COST;
        if self.bytes + cost > self.max_bytes {
            self.dropped += 1;
            return false;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(datagram);
        self.waiting.push_back(Waiting {
            datagram: buf,
            from,
            at,
            arrived_after: self.emptied_at,
        });
        self.bytes += cost;
        self.queued += 1;
        self.high_water = self.high_water.max(self.bytes);
        true
    }

    /// The oldest waiting datagram; give its buffer back with [`Backlog::recycle`].
    pub fn pop(&mut self) -> Option<Waiting> {
        let waiting = self.waiting.pop_front()?;
        self.bytes -= waiting.datagram.len() + ENTRY_COST;
        Some(waiting)
    }

    /// Keeps a handled datagram's buffer for the next one, if it is small.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buf.capacity() <= SPARE_MAX_BYTES {
            self.spare.push(buf);
        }
    }

    /// The latest instant the room may take as "now" for timeouts: the earliest the
    /// oldest datagram still waiting, here or in the socket, can have arrived (when the
    /// socket was last found empty before it was taken off; when it was last found
    /// empty at all, if nothing waits here), and never later than `clock`. Judging
    /// anyone silent later than that could evict a member whose heartbeat waits.
    pub fn horizon(&self, clock: Instant) -> Instant {
        self.waiting
            .front()
            .map_or(self.emptied_at, |w| w.arrived_after)
            .min(clock)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Datagrams queued, since it was made.
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// Datagrams dropped because the queue was full, since it was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The most bytes that ever waited.
    pub fn high_water(&self) -> usize {
        self.high_water
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn datagrams_come_out_in_order_with_their_arrival_time() {
        let t = Instant::now();
        let mut backlog = Backlog::new(10_000, t);
        for port in 1..=3u16 {
            let at = t + std::time::Duration::from_millis(u64::from(port));
            assert!(backlog.push(format!("d{port}").as_bytes(), addr(port), at));
        }
        for port in 1..=3u16 {
            let waiting = backlog.pop().expect("queued");
            assert_eq!(waiting.datagram, format!("d{port}").into_bytes());
            assert_eq!(waiting.from, addr(port));
            assert_eq!(
                waiting.at,
                t + std::time::Duration::from_millis(u64::from(port))
            );
            backlog.recycle(waiting.datagram);
        }
        assert!(backlog.pop().is_none() && backlog.is_empty());
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_frees_as_it_empties() {
        let t = Instant::now();
        let mut backlog = Backlog::new(4 * (4 + ENTRY_COST), t);
        let mut kept = 0;
        for _ in 0..10 {
            kept += usize::from(backlog.push(b"@im@", addr(1), t));
        }
        assert_eq!((kept, backlog.dropped()), (4, 6));
        assert!(
            !backlog.push(&[0; 65_000], addr(1), t),
            "a big one never fits"
        );
        let first = backlog.pop().unwrap();
        backlog.recycle(first.datagram);
        assert!(backlog.push(b"@im@", addr(2), t), "room again");
        assert_eq!(backlog.high_water(), 4 * (4 + ENTRY_COST));
    }

    #[test]
    fn the_horizon_is_when_the_oldest_waiting_datagram_may_have_arrived() {
        let t = Instant::now();
        let at = |secs| t + std::time::Duration::from_secs(secs);
        let clock = at(10);
        let mut backlog = Backlog::new(10_000, t);
        assert_eq!(
            backlog.horizon(clock),
            t,
            "the socket was last found empty at t"
        );
        backlog.socket_emptied(at(2));
        assert_eq!(backlog.horizon(clock), at(2));
        // Taken off at 3 s and 7 s: each arrived after the socket was last found empty.
        backlog.push(b"@im@", addr(1), at(3));
        backlog.socket_emptied(at(3));
        backlog.push(b"@im@", addr(2), at(7));
        assert_eq!(
            backlog.horizon(clock),
            at(2),
            "the first may have come at 2 s"
        );
        let first = backlog.pop().unwrap();
        assert_eq!((first.at, first.arrived_after), (at(3), at(2)));
        backlog.recycle(first.datagram);
        assert_eq!(backlog.horizon(clock), at(3), "the second, at 3 s, not 7 s");
        backlog.pop();
        assert_eq!(
            backlog.horizon(clock),
            at(3),
            "the socket may hold more since"
        );
        backlog.socket_emptied(at(9));
        assert_eq!(backlog.horizon(clock), at(9));
        assert_eq!(backlog.horizon(at(8)), at(8), "never later than the clock");
    }

    #[test]
    fn buffers_are_reused_so_a_busy_queue_allocates_nothing() {
        let t = Instant::now();
        let mut backlog = Backlog::new(1 << 20, t);
        backlog.push(b"hello", addr(1), t);
        let waiting = backlog.pop().unwrap();
        let ptr = waiting.datagram.as_ptr();
        backlog.recycle(waiting.datagram);
        backlog.push(b"world", addr(1), t);
        let again = backlog.pop().unwrap();
        assert_eq!(again.datagram.as_ptr(), ptr);
        assert_eq!(again.datagram, b"world");
    }
}
