//! How often the room may speak: a member's allowance (its token bucket, when it may
//! next be told something, when it was last welcomed), the strangers recently told, and
//! the room-wide budget for presence notices. Time is an argument, as in the room.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The least time between two limit notices (slow down, too long, room full) or two
/// welcomes to one address, so a flood cannot turn the server into a notice cannon.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(1);

/// How many strangers (addresses that are not members) the room remembers having sent a
/// notice to, per generation; past that, strangers get no notices until the next one.
pub const STRANGER_MEMORY: usize = 4096;

/// Room-wide budget for presence notices (joined, left, timed out), in deliveries per
/// second and in a burst: a notice to N members costs N. So a churn of forged joins and
/// quits, or a wave of evictions, costs the room a bounded number of sends whatever its
/// size: about 100 notices a second in a room of 10, one in a room of 1 000, one every
/// 20 s in a room of 20 000 (a notice to more members than the burst goes out from a
/// full bucket and is paid back before the next). `/who` is always right.
pub const PRESENCE_RATE: f64 = 1000.0;
/// See [`PRESENCE_RATE`].
pub const PRESENCE_BURST: f64 = 3000.0;

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

/// What one address may still do: its messages (a token bucket), its next limit notice,
/// its last welcome. One value, so that it moves whole between a member and the memory
/// of departed members: leaving and coming back refills nothing.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    bucket: TokenBucket,
    notices: Pacer,
    welcomes: Pacer,
}

/// Lets one thing happen at most once per [`NOTICE_INTERVAL`]: the one rule behind
/// limit notices and welcomes to an address.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    next: Instant,
}

/// Which strangers got a notice lately, in two generations of at most
/// [`STRANGER_MEMORY`] addresses: memory stays bounded however many addresses a flood
/// invents, and each address is remembered for one to two [`NOTICE_INTERVAL`]s.
#[derive(Debug)]
pub struct StrangerMemory {
    current: HashSet<SocketAddr>,
    previous: HashSet<SocketAddr>,
    rotated: Instant,
}

/// Members whose dropped messages they have not been told of yet, because their last
/// notice was too recent; told by [`UntoldDrops::due`] when their next one is due.
#[derive(Debug, Default)]
pub struct UntoldDrops {
    /// At most every member: a member leaving is forgotten here too.
    waiting: HashSet<SocketAddr>,
    /// No one waiting is due before this: keeps the room from scanning on every call.
    next_due: Option<Instant>,
}

impl TokenBucket {
    /// A bucket holding `burst` tokens.
    pub fn full(burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: burst,
            updated: now,
        }
    }

    /// Refills for the time since the last call, then takes a token if there is one.
    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        self.take_many(1.0, rate, burst, now)
    }

    /// Whether [`TokenBucket::take_many`] would take `cost` now (refilling it, taking
    /// nothing).
    pub fn has(&mut self, cost: f64, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.updated = self.updated.max(now);
        self.tokens >= cost.min(burst)
    }

    /// Refills, then takes `cost` tokens if the bucket holds them, or is full: a cost
    /// above the burst is allowed from a full bucket and leaves it in debt, paid back at
    /// the rate before anything else is allowed.
    pub fn take_many(&mut self, cost: f64, rate: f64, burst: f64, now: Instant) -> bool {
        if self.has(cost, rate, burst, now) {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

impl Allowance {
    /// A newcomer's: a full bucket of `burst`, a notice and a welcome allowed at once.
    pub fn new(burst: u32, now: Instant) -> Allowance {
        Allowance {
            bucket: TokenBucket::full(f64::from(burst), now),
            notices: Pacer::new(now),
            welcomes: Pacer::new(now),
        }
    }

    /// Takes one message's token; false when none is left. A rate of 0 means no limit.
    pub fn take_message(&mut self, rate: f64, burst: u32, now: Instant) -> bool {
        rate <= 0.0 || self.bucket.take(rate, f64::from(burst), now)
    }

    /// Whether a limit notice may go out now; if so, the next waits [`NOTICE_INTERVAL`].
    pub fn take_notice(&mut self, now: Instant) -> bool {
        self.notices.take(now)
    }

    /// When the next limit notice may go out.
    pub fn next_notice(&self) -> Instant {
        self.notices.next
    }

    /// Whether a welcome may go out now; if so, the next waits [`NOTICE_INTERVAL`].
    pub fn take_welcome(&mut self, now: Instant) -> bool {
        self.welcomes.take(now)
    }
}

impl Pacer {
    /// A pacer that allows its first event at `now`.
    pub fn new(now: Instant) -> Pacer {
        Pacer { next: now }
    }

    /// Whether the event may happen now; if so, the next waits [`NOTICE_INTERVAL`].
    pub fn take(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + NOTICE_INTERVAL;
        true
    }
}

impl StrangerMemory {
    /// An empty memory, its first generation starting `now`.
    pub fn new(now: Instant) -> StrangerMemory {
        StrangerMemory {
            current: HashSet::new(),
            previous: HashSet::new(),
            rotated: now,
        }
    }

    /// Whether `addr` may be sent a notice now; remembers that it was.
    pub fn take_notice(&mut self, addr: SocketAddr, now: Instant) -> bool {
        let age = now.saturating_duration_since(self.rotated);
        if age >= NOTICE_INTERVAL {
            self.previous = std::mem::take(&mut self.current);
            if age >= 2 * NOTICE_INTERVAL {
                self.previous.clear();
            }
            self.rotated = now;
        }
        if self.current.contains(&addr)
            || self.previous.contains(&addr)
            || self.current.len() >= STRANGER_MEMORY
        {
            return false;
        }
        self.current.insert(addr)
    }
}

impl UntoldDrops {
    /// Remembers that `addr` has drops to be told of at `due`.
    pub fn wait(&mut self, addr: SocketAddr, due: Instant) {
        self.waiting.insert(addr);
        self.next_due = Some(self.next_due.map_or(due, |d| d.min(due)));
    }

    /// Forgets `addr` (it left).
    pub fn forget(&mut self, addr: SocketAddr) {
        self.waiting.remove(&addr);
    }

    /// When the earliest waiting member is due, if any is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.next_due
    }

    /// Calls `tell` for each waiting member; those it returns `Some(due)` for keep
    /// waiting until then. Cheap when no one is due yet.
    pub fn due(&mut self, now: Instant, mut tell: impl FnMut(SocketAddr) -> Option<Instant>) {
        if self.next_due.is_none_or(|due| now < due) {
            return;
        }
        let mut next_due: Option<Instant> = None;
        self.waiting.retain(|&addr| match tell(addr) {
            Some(due) => {
                next_due = Some(next_due.map_or(due, |d| d.min(due)));
                true
            }
            None => false,
        });
        self.next_due = next_due;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_spends_its_burst_then_refills_at_the_rate() {
        let t = Instant::now();
        let mut bucket = TokenBucket::full(2.0, t);
        assert!(bucket.take(4.0, 2.0, t));
        assert!(bucket.take(4.0, 2.0, t));
        assert!(!bucket.take(4.0, 2.0, t));
        assert!(!bucket.take(4.0, 2.0, t + Duration::from_millis(200)));
        assert!(bucket.take(4.0, 2.0, t + Duration::from_millis(260)));
        // Never more than the burst, however long the wait.
        let later = t + Duration::from_secs(60);
        assert!(bucket.take(4.0, 2.0, later));
        assert!(bucket.take(4.0, 2.0, later));
        assert!(!bucket.take(4.0, 2.0, later));
    }

    #[test]
    fn a_cost_above_the_burst_leaves_the_bucket_in_debt() {
        let t = Instant::now();
        let mut bucket = TokenBucket::full(10.0, t);
        assert!(bucket.take_many(4.0, 10.0, 10.0, t));
        assert!(!bucket.take_many(7.0, 10.0, 10.0, t));
        assert!(bucket.take_many(6.0, 10.0, 10.0, t), "exactly what is left");
        let full = t + Duration::from_secs(1);
        assert!(
            bucket.take_many(30.0, 10.0, 10.0, full),
            "from a full bucket"
        );
        assert!(!bucket.take_many(1.0, 10.0, 10.0, full + Duration::from_millis(2000)));
        assert!(bucket.take_many(1.0, 10.0, 10.0, full + Duration::from_millis(2100)));
    }

    #[test]
    fn an_allowance_gives_a_notice_and_a_welcome_at_most_once_a_second() {
        let t = Instant::now();
        let mut allowance = Allowance::new(1, t);
        assert!(allowance.take_notice(t));
        assert!(!allowance.take_notice(t + Duration::from_millis(999)));
        assert!(allowance.take_notice(t + NOTICE_INTERVAL));
        assert!(allowance.take_welcome(t));
        assert!(!allowance.take_welcome(t + Duration::from_millis(500)));
        assert!(allowance.take_welcome(t + NOTICE_INTERVAL));
        assert!(allowance.take_message(0.0, 1, t), "rate 0: no limit");
        assert!(allowance.take_message(1.0, 1, t));
        assert!(!allowance.take_message(1.0, 1, t));
    }

    #[test]
    fn strangers_are_told_once_a_second_within_bounded_memory() {
        let t = Instant::now();
        let mut memory = StrangerMemory::new(t);
        let addr = |i: u32| SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7));
        let told = (0..STRANGER_MEMORY as u32 + 500)
            .filter(|&i| memory.take_notice(addr(i), t))
            .count();
        assert_eq!(told, STRANGER_MEMORY);
        assert!(!memory.take_notice(addr(0), t), "told already");
        let next = t + NOTICE_INTERVAL;
        assert!(
            !memory.take_notice(addr(1), next),
            "still remembered in the old generation"
        );
        assert!(
            memory.take_notice(addr(99_999), next),
            "a new generation has room"
        );
        let much_later = t + 3 * NOTICE_INTERVAL;
        assert!(
            memory.take_notice(addr(1), much_later),
            "forgotten after two generations"
        );
        assert!(memory.current.len() + memory.previous.len() <= 2 * STRANGER_MEMORY);
    }

    #[test]
    fn untold_drops_are_visited_only_when_someone_is_due() {
        let t = Instant::now();
        let a = SocketAddr::from(([127, 0, 0, 1], 1));
        let b = SocketAddr::from(([127, 0, 0, 1], 2));
        let mut untold = UntoldDrops::default();
        untold.wait(a, t + Duration::from_secs(1));
        untold.wait(b, t + Duration::from_secs(2));
        let mut visited = 0;
        untold.due(t, |_| {
            visited += 1;
            None
        });
        assert_eq!(visited, 0, "no one due yet");
        untold.due(t + Duration::from_secs(1), |addr| {
            visited += 1;
            (addr == b).then(|| t + Duration::from_secs(2))
        });
        assert_eq!(visited, 2);
        assert_eq!(untold.next_due(), Some(t + Duration::from_secs(2)));
        untold.forget(b);
        untold.due(t + Duration::from_secs(2), |_| panic!("b was forgotten"));
        assert_eq!(untold.next_due(), None);
    }
}
