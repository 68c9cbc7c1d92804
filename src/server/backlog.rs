//! Datagrams taken off the socket while the room was busy sending, waiting their turn,
//! each stamped with when it was taken off (no earlier than it arrived) and when the
//! socket was last found empty before (no later than it arrived).
//!
//! The kernel holds only about 200 small datagrams for a socket (std cannot enlarge its
//! buffer), and a fan-out to 1 000 members takes milliseconds: a burst of heartbeats
//! arriving meanwhile would overflow it. So the room's thread drains the socket into
//! this queue every few dozen sends, and handles what waits here, with the time each
//! datagram arrived, before it reads the socket again.
//!
//! It is fair among hosts ([`Host::sender`]): each host's datagrams wait in a queue of
//! their own, in order, and the queues take turns (deficit round robin, counted in the
//! room's work: a datagram costs one plus the deliveries it caused, [`Backlog::charge`]).
//! So a host that sends more than the room can fan out delays another host's lines by
//! about one turn ([`QUANTUM`] deliveries), not by everything it queued; and when the
//! backlog is full, the host with the most waiting loses its newest datagrams.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use crate::room::Host;

/// What a queued datagram is charged beyond its bytes: its place in the queue.
pub const ENTRY_COST: usize = 64;
/// What a host may take in one turn, in deliveries: about one line to a room of 500.
pub const QUANTUM: i64 = 512;
/// The most hosts with queues of their own; datagrams from hosts beyond share one.
pub const MAX_QUEUES: usize = 256;
/// The share of the backlog one host's queue may fill: a host that sends far more than
/// the room can fan out loses its own newest datagrams, rather than have them relayed a
/// minute late.
pub const HOST_SHARE: usize = 4;
/// The most spare buffers kept for reuse, and the largest kept.
const SPARE_BUFFERS: usize = 1024;
const SPARE_MAX_BYTES: usize = 2048;

/// Bounded queues of datagrams, one a host, sized in bytes all together.
#[derive(Debug)]
pub struct Backlog {
    /// The queues with something waiting.
    queues: HashMap<Key, Queue>,
    /// Their turns: the first is the one being served.
    round: VecDeque<Key>,
    /// Where the datagram last popped came from: [`Backlog::charge`] bills it.
    serving: Option<Key>,
    /// Bytes charged for what waits (datagram bytes plus [`ENTRY_COST`] each).
    bytes: usize,
    max_bytes: usize,
    /// Buffers of datagrams already handled, and queues emptied, kept so a busy
    /// backlog allocates nothing.
    spare: Vec<Vec<u8>>,
    spare_queues: Vec<VecDeque<Waiting>>,
    /// Datagrams queued, since it was made.
    queued: u64,
    /// Datagrams taken off the socket that did not fit, or were pushed out.
    dropped: u64,
    /// The most bytes that ever waited.
    high_water: usize,
    /// When the socket was last found empty: whatever arrived before then has been
    /// taken off it.
    emptied_at: Instant,
    /// How many waiting datagrams arrived after each instant the socket was found
    /// empty, oldest first (a count may fall to zero behind the first): the horizon is
    /// the first, with no scan of the queues.
    arrivals: VecDeque<(Instant, usize)>,
    /// The latest time [`Backlog::pop`] gave: the room's time never goes back, though
    /// hosts' turns hand it datagrams out of the order they were taken off.
    last_at: Instant,
}

/// Whose queue a datagram waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Host(Host),
    /// Every host beyond [`MAX_QUEUES`].
    Others,
}

#[derive(Debug)]
struct Queue {
    waiting: VecDeque<Waiting>,
    /// Bytes charged for what waits in it.
    bytes: usize,
    /// What it may still take this turn, in work; it is served while this is positive.
    credit: i64,
}

/// A datagram waiting its turn, with when it was taken off the socket.
#[derive(Debug)]
pub struct Waiting {
    pub datagram: Vec<u8>,
    pub from: SocketAddr,
    /// When it was taken off the socket (it arrived no later), or the time the room was
    /// last given, if that is later.
    pub at: Instant,
    /// When the socket was last found empty before it was taken off: it arrived no
    /// earlier.
    pub arrived_after: Instant,
}

impl Backlog {
    /// An empty backlog holding at most `max_bytes`; the socket was empty at `now`.
    pub fn new(max_bytes: usize, now: Instant) -> Backlog {
        Backlog {
            queues: HashMap::new(),
            round: VecDeque::new(),
            serving: None,
            bytes: 0,
            max_bytes,
            spare: Vec::new(),
            spare_queues: Vec::new(),
            queued: 0,
            dropped: 0,
            high_water: 0,
            emptied_at: now,
            arrivals: VecDeque::new(),
            last_at: now,
        }
    }

    /// Records that a receive that began at `at` found the socket empty.
    pub fn socket_emptied(&mut self, at: Instant) {
        self.emptied_at = self.emptied_at.max(at);
    }

    /// Queues a copy of `datagram` behind its host's others; false (and counted) when
    /// it does not fit. To make room, the host with the most bytes waiting loses its
    /// newest: if that is `from`'s own host, `datagram` is dropped.
    pub fn push(&mut self, datagram: &[u8], from: SocketAddr, at: Instant) -> bool {
        let cost = datagram.len() + ENTRY_COST;
        let key = self.key_for(Host::sender(from));
        let own = self.queues.get(&key).map_or(0, |queue| queue.bytes);
        if own + cost > self.max_bytes / HOST_SHARE {
            self.dropped += 1;
            return false;
        }
        while self.bytes + cost > self.max_bytes {
            let own = self.queues.get(&key).map_or(0, |queue| queue.bytes);
            let longest = self.queues.iter().max_by_key(|(_, queue)| queue.bytes);
            match longest {
                Some((&longest, queue)) if queue.bytes > own + cost => self.drop_newest(longest),
                _ => {
                    self.dropped += 1;
                    return false;
                }
            }
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(datagram);
        let waiting = Waiting {
            datagram: buf,
            from,
            at,
            arrived_after: self.emptied_at,
        };
        match self.arrivals.back_mut() {
            Some((after, n)) if *after == self.emptied_at => *n += 1,
            _ => self.arrivals.push_back((self.emptied_at, 1)),
        }
        let spare_queues = &mut self.spare_queues;
        let round = &mut self.round;
        let queue = self.queues.entry(key).or_insert_with(|| {
            round.push_back(key);
            Queue {
                waiting: spare_queues.pop().unwrap_or_default(),
                bytes: 0,
                credit: QUANTUM,
            }
        });
        queue.waiting.push_back(waiting);
        queue.bytes += cost;
        self.bytes += cost;
        self.queued += 1;
        self.high_water = self.high_water.max(self.bytes);
        true
    }

    /// The next datagram: the oldest of the host whose turn it is. Give its buffer back
    /// with [`Backlog::recycle`], and what handling it cost with [`Backlog::charge`].
    pub fn pop(&mut self) -> Option<Waiting> {
        // A queue in debt gives up its turn and gets a quantum for its next one. Debts
        // are at most what one datagram cost, so this goes round at most once for each
        // QUANTUM of the largest fan-out.
        let (key, queue) = loop {
            let key = *self.round.front()?;
            let Some(queue) = self.queues.get_mut(&key) else {
                self.round.pop_front();
                continue;
            };
            if queue.credit > 0 {
                break (key, queue);
            }
            queue.credit += QUANTUM;
            self.round.rotate_left(1);
        };
        let mut waiting = queue.waiting.pop_front()?;
        let cost = waiting.datagram.len() + ENTRY_COST;
        queue.bytes -= cost;
        self.bytes -= cost;
        self.serving = Some(key);
        let emptied = queue.waiting.is_empty();
        self.gone(waiting.arrived_after);
        if emptied {
            // An empty queue leaves the round, its debt forgiven (as in deficit round
            // robin): a host that sends less than its share is never held back.
            self.round.pop_front();
            self.remove(key);
        }
        waiting.at = waiting.at.max(self.last_at);
        self.last_at = waiting.at;
        Some(waiting)
    }

    /// Bills the host of the datagram last popped for handling it: one, plus the
    /// `deliveries` it caused. Its turn ends once it has taken its quantum.
    pub fn charge(&mut self, deliveries: usize) {
        let Some(key) = self.serving.take() else {
            return;
        };
        if let Some(queue) = self.queues.get_mut(&key) {
            let work = i64::try_from(deliveries).unwrap_or(i64::MAX / 2);
            queue.credit = queue.credit.saturating_sub(work.saturating_add(1));
        }
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
        self.arrivals
            .front()
            .map_or(self.emptied_at, |&(after, _)| after)
            .min(clock)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
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

    /// The queue `host`'s datagrams go in: its own, unless [`MAX_QUEUES`] hosts have
    /// one already.
    fn key_for(&self, host: Host) -> Key {
        let key = Key::Host(host);
        if self.queues.contains_key(&key) || self.queues.len() < MAX_QUEUES {
            key
        } else {
            Key::Others
        }
    }

    /// Drops the newest datagram of `key`'s queue, to make room.
    fn drop_newest(&mut self, key: Key) {
        let Some(queue) = self.queues.get_mut(&key) else {
            return;
        };
        if let Some(waiting) = queue.waiting.pop_back() {
            let cost = waiting.datagram.len() + ENTRY_COST;
            queue.bytes -= cost;
            self.bytes -= cost;
            self.dropped += 1;
            let emptied = queue.waiting.is_empty();
            self.gone(waiting.arrived_after);
            self.recycle(waiting.datagram);
            if emptied {
                self.round.retain(|&k| k != key);
                self.remove(key);
            }
        }
    }

    /// Counts a datagram that arrived after `arrived_after` as gone from the backlog.
    fn gone(&mut self, arrived_after: Instant) {
        let i = self
            .arrivals
            .partition_point(|&(after, _)| after < arrived_after);
        if let Some((_, n)) = self
            .arrivals
            .get_mut(i)
            .filter(|(after, _)| *after == arrived_after)
        {
            *n = n.saturating_sub(1);
        }
        while self.arrivals.front().is_some_and(|&(_, n)| n == 0) {
            self.arrivals.pop_front();
        }
    }

    /// Forgets `key`'s empty queue, keeping its memory; its place in the round is
    /// already gone.
    fn remove(&mut self, key: Key) {
        if let Some(queue) = self.queues.remove(&key) {
            if self.spare_queues.len() < MAX_QUEUES {
                self.spare_queues.push(queue.waiting);
            }
        }
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
        // One host may fill a quarter: four heartbeats.
        let mut backlog = Backlog::new(16 * (4 + ENTRY_COST), t);
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

    fn host(n: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, n], port))
    }

    // Issue 18, item 3: one host's flood waits in its own queue; another host's line
    // is handled after about one turn of the flood's, however much the flood queued.
    #[test]
    fn hosts_take_turns_paid_in_the_deliveries_they_cause() {
        let t = Instant::now();
        let mut backlog = Backlog::new(1 << 20, t);
        for port in 0..1000 {
            assert!(backlog.push(b"a line from the flood", host(1, port), t));
        }
        for port in 0..3 {
            assert!(backlog.push(b"an honest line", host(2, port), t));
        }
        // Each line goes to a room of 600.
        let mut order = Vec::new();
        while let Some(waiting) = backlog.pop() {
            order.push(waiting.from.ip());
            backlog.charge(600);
            backlog.recycle(waiting.datagram);
        }
        let honest: Vec<usize> = (0..order.len())
            .filter(|&i| order[i] == host(2, 0).ip())
            .collect();
        assert_eq!(
            honest,
            [1, 3, 5],
            "the flood takes one line a turn (600 deliveries > QUANTUM), then the honest host"
        );
        assert_eq!(order.len(), 1003, "nothing lost");

        // Heartbeats cost one each: a host's turn is QUANTUM of them.
        for port in 0..1000 {
            backlog.push(b"@im@", host(1, port), t);
        }
        backlog.push(b"hello", host(2, 0), t);
        let mut before = 0;
        while let Some(waiting) = backlog.pop() {
            backlog.charge(0);
            if waiting.from.ip() == host(2, 0).ip() {
                break;
            }
            before += 1;
        }
        assert!(before <= QUANTUM as usize, "{before} heartbeats went first");
    }

    #[test]
    fn a_host_that_sends_within_its_share_is_never_held_back_by_old_debt() {
        let t = Instant::now();
        let mut backlog = Backlog::new(1 << 20, t);
        backlog.push(b"flood", host(1, 1), t);
        backlog.push(b"flood", host(1, 2), t);
        backlog.push(b"a line to a big room", host(2, 1), t);
        let first = backlog.pop().unwrap();
        assert_eq!(first.from, host(1, 1));
        backlog.charge(10);
        // Host 1 still has credit: its turn goes on.
        assert_eq!(backlog.pop().unwrap().from, host(1, 2));
        backlog.charge(10_000);
        let honest = backlog.pop().unwrap();
        assert_eq!(honest.from, host(2, 1));
        backlog.charge(10_000);
        // Host 2 emptied its queue and left the round with its debt: its next line is
        // not made to wait for the twenty turns it would owe.
        for port in 10..40 {
            backlog.push(b"flood", host(1, port), t);
        }
        backlog.push(b"again", host(2, 2), t);
        let mut next = Vec::new();
        while let Some(waiting) = backlog.pop() {
            next.push(waiting.from);
            backlog.charge(500);
        }
        // After one turn of host 1's: two lines of 500 use up its QUANTUM.
        assert_eq!(next.iter().position(|&a| a == host(2, 2)), Some(2));
    }

    #[test]
    fn a_full_backlog_takes_room_from_the_host_with_the_most_waiting() {
        let t = Instant::now();
        let each = 100 + ENTRY_COST;
        // Room for eight; one host may fill two.
        let mut backlog = Backlog::new(8 * each, t);
        for port in 0..2 {
            assert!(backlog.push(&[b'x'; 100], host(1, port), t));
        }
        assert!(
            !backlog.push(&[b'x'; 100], host(1, 2), t),
            "a host past its share loses its own newest"
        );
        for n in 2..=4 {
            for port in 0..2 {
                assert!(backlog.push(&[b'x'; 100], host(n, port), t));
            }
        }
        assert!(
            backlog.push(&[b'y'; 100], host(5, 0), t),
            "a fifth host's datagram pushes out a newest of the longest"
        );
        assert_eq!(backlog.dropped(), 2);
        let mut from = Vec::new();
        while let Some(waiting) = backlog.pop() {
            from.push(waiting.from);
            backlog.charge(1);
        }
        assert_eq!(from.len(), 8);
        assert!(from.contains(&host(5, 0)));
        let firsts = (1..=4).filter(|&n| from.contains(&host(n, 0))).count();
        assert_eq!(firsts, 4, "only a newest went");
        assert!(backlog.is_empty());
    }

    #[test]
    fn hosts_beyond_the_queues_share_one_and_nothing_is_lost() {
        let t = Instant::now();
        let mut backlog = Backlog::new(1 << 20, t);
        let hosts = MAX_QUEUES + 50;
        for n in 0..hosts {
            let [_, _, a, b] = u32::try_from(n).unwrap().to_be_bytes();
            let from = SocketAddr::from(([10, 1, a, b], 9));
            assert!(backlog.push(b"@im@", from, t));
        }
        assert!(backlog.queues.len() <= MAX_QUEUES + 1);
        let mut n = 0;
        while let Some(waiting) = backlog.pop() {
            backlog.charge(0);
            backlog.recycle(waiting.datagram);
            n += 1;
        }
        assert_eq!(n, hosts);
    }

    #[test]
    fn the_rooms_time_never_goes_back_as_hosts_take_turns() {
        let t = Instant::now();
        let ms = |n| t + std::time::Duration::from_millis(n);
        let mut backlog = Backlog::new(1 << 20, t);
        backlog.push(b"first", host(1, 1), ms(1));
        backlog.push(b"later", host(1, 2), ms(5));
        backlog.push(b"between", host(2, 1), ms(3));
        let mut last = t;
        let mut horizons = Vec::new();
        while let Some(waiting) = backlog.pop() {
            assert!(waiting.at >= last);
            last = waiting.at;
            backlog.charge(1000);
            horizons.push(backlog.horizon(ms(10)));
        }
        assert_eq!(last, ms(5));
        assert!(horizons.windows(2).all(|w| w[0] <= w[1]));
    }

    /// The horizon as a scan of every queue finds it: what the count must agree with.
    fn horizon_by_scan(backlog: &Backlog, clock: Instant) -> Instant {
        backlog
            .queues
            .values()
            .filter_map(|queue| queue.waiting.front())
            .map(|waiting| waiting.arrived_after)
            .min()
            .unwrap_or(backlog.emptied_at)
            .min(clock)
    }

    #[test]
    fn the_horizon_kept_by_count_is_the_one_a_scan_finds() {
        let t = Instant::now();
        let ms = |n: u64| t + std::time::Duration::from_millis(n);
        // Small, so some pushes are refused and some push others out.
        let mut backlog = Backlog::new(40 * (8 + ENTRY_COST), t);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..5000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 5 {
                0 => backlog.socket_emptied(ms(step)),
                1 | 2 => {
                    let from = host((x >> 8) as u8 % 6, 1);
                    backlog.push(b"datagram", from, ms(step));
                }
                _ => {
                    if let Some(waiting) = backlog.pop() {
                        backlog.charge((x >> 16) as usize % 700);
                        backlog.recycle(waiting.datagram);
                    }
                }
            }
            let clock = ms(step + 1);
            assert_eq!(
                backlog.horizon(clock),
                horizon_by_scan(&backlog, clock),
                "step {step}"
            );
            assert!(backlog.arrivals.len() <= 5000);
        }
    }
}
