//! The small machines behind the room's limits: a token bucket, and a bounded memory
//! of which strangers were recently sent a notice. Time is an argument, as in the room.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The least time between two limit notices (slow down, too long, room full, welcome)
/// to one address, so a flood cannot turn the server into a notice cannon.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(1);

/// How many strangers (addresses that are not members) the room remembers having sent a
/// notice to, per generation; past that, strangers get no notices until the next one.
pub(crate) const STRANGER_MEMORY: usize = 4096;

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

/// Which strangers got a notice lately, in two generations of at most
/// [`STRANGER_MEMORY`] addresses: memory stays bounded however many addresses a flood
/// invents, and each address is remembered for one to two [`NOTICE_INTERVAL`]s.
#[derive(Debug)]
pub(crate) struct StrangerMemory {
    current: HashSet<SocketAddr>,
    previous: HashSet<SocketAddr>,
    rotated: Instant,
}

impl TokenBucket {
    /// A bucket holding `burst` tokens.
    pub(crate) fn full(burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: burst,
            updated: now,
        }
    }

    /// Refills for the time since the last call, then takes a token if there is one.
    pub(crate) fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.updated = self.updated.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl StrangerMemory {
    /// An empty memory, its first generation starting `now`.
    pub(crate) fn new(now: Instant) -> StrangerMemory {
        StrangerMemory {
            current: HashSet::new(),
            previous: HashSet::new(),
            rotated: now,
        }
    }

    /// Whether `addr` may be sent a notice now; remembers that it was.
    pub(crate) fn may_notify(&mut self, addr: SocketAddr, now: Instant) -> bool {
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
    fn strangers_are_told_once_a_second_within_bounded_memory() {
        let t = Instant::now();
        let mut memory = StrangerMemory::new(t);
        let addr = |i: u32| SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7));
        let told = (0..STRANGER_MEMORY as u32 + 500)
            .filter(|&i| memory.may_notify(addr(i), t))
            .count();
        assert_eq!(told, STRANGER_MEMORY);
        assert!(!memory.may_notify(addr(0), t), "told already");
        let next = t + NOTICE_INTERVAL;
        assert!(
            !memory.may_notify(addr(1), next),
            "still remembered in the old generation"
        );
        assert!(
            memory.may_notify(addr(99_999), next),
            "a new generation has room"
        );
        let much_later = t + 3 * NOTICE_INTERVAL;
        assert!(
            memory.may_notify(addr(1), much_later),
            "forgotten after two generations"
        );
        assert!(memory.current.len() + memory.previous.len() <= 2 * STRANGER_MEMORY);
    }
}
