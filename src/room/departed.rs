//! Bounded memories of addresses, each entry kept for a while: the members that left
//! lately (their name and allowance), the addresses the operator kicked, the addresses
//! that spoke as a server. When one is full, the oldest entry goes: a memory the
//! network can fill never stops remembering.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Instant;

use super::manners::Manners;
use super::throttle::Allowance;
use crate::proto::Name;

/// What the room remembers of a member that left.
#[derive(Debug, Clone)]
pub struct Departed {
    /// Its name, if it timed out with one: it gets it back if it returns in time.
    pub name: Option<Name>,
    /// Its manners (away, whom it ignores), if it timed out: they come back with it.
    pub manners: Manners,
    /// Its allowance, so leaving and coming back refills nothing.
    pub allowance: Allowance,
    /// Whether it was in a session: then its name comes back only to a session, never
    /// to a classic datagram that anyone could forge from its address.
    pub was_session: bool,
}

/// At most `capacity` addresses, each with a value and an instant it is forgotten at;
/// when full, remembering one more forgets the one remembered longest ago.
#[derive(Debug)]
pub struct Recent<V> {
    capacity: usize,
    entries: HashMap<SocketAddr, Entry<V>>,
    /// Entries by the order they were remembered in: the first is the oldest.
    order: BTreeMap<u64, SocketAddr>,
    n_remembered: u64,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    until: Instant,
    order: u64,
}

impl<V> Recent<V> {
    /// An empty memory of at most `capacity` (at least 1) addresses.
    pub fn new(capacity: usize) -> Recent<V> {
        Recent {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            n_remembered: 0,
        }
    }

    /// Remembers `value` for `addr` until `until`, in place of what it had; forgets
    /// the oldest entry if the memory is full.
    pub fn remember(&mut self, addr: SocketAddr, value: V, until: Instant) {
        self.forget(addr);
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.n_remembered += 1;
        let order = self.n_remembered;
        self.order.insert(order, addr);
        self.entries.insert(
            addr,
            Entry {
                value,
                until,
                order,
            },
        );
    }

    /// Takes what is remembered of `addr`, if it is still remembered `now`.
    pub fn take(&mut self, addr: SocketAddr, now: Instant) -> Option<V> {
        let entry = self.entries.remove(&addr)?;
        self.order.remove(&entry.order);
        (now < entry.until).then_some(entry.value)
    }

    /// Whether `addr` is remembered `now`; an expired entry is forgotten.
    pub fn contains(&mut self, addr: SocketAddr, now: Instant) -> bool {
        self.get(addr, now).is_some()
    }

    /// What is remembered of `addr`, if it is still remembered `now`; an expired entry
    /// is forgotten.
    pub fn get(&mut self, addr: SocketAddr, now: Instant) -> Option<&V> {
        match self.entries.get(&addr) {
            Some(entry) if now < entry.until => {}
            Some(_) => {
                self.forget(addr);
                return None;
            }
            None => return None,
        }
        self.entries.get(&addr).map(|entry| &entry.value)
    }

    /// Forgets `addr`.
    pub fn forget(&mut self, addr: SocketAddr) {
        if let Some(entry) = self.entries.remove(&addr) {
            self.order.remove(&entry.order);
        }
    }

    /// How many addresses are remembered (expired ones included until they are met).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_full_memory_forgets_its_oldest_entry() {
        let t = Instant::now();
        let until = t + Duration::from_secs(60);
        let mut recent = Recent::new(3);
        for port in 1..=3 {
            recent.remember(addr(port), port, until);
        }
        recent.remember(addr(4), 4, until);
        assert_eq!(recent.len(), 3);
        assert!(!recent.contains(addr(1), t), "the oldest went");
        assert_eq!(recent.take(addr(4), t), Some(4), "the newest is kept");
        assert_eq!(recent.take(addr(4), t), None, "taken once");
        // Remembered again, an address counts as new.
        recent.remember(addr(2), 20, until);
        recent.remember(addr(5), 5, until);
        recent.remember(addr(6), 6, until);
        assert!(!recent.contains(addr(3), t));
        assert_eq!(recent.take(addr(2), t), Some(20));
    }

    #[test]
    fn entries_expire() {
        let t = Instant::now();
        let mut recent = Recent::new(10);
        recent.remember(addr(1), (), t + Duration::from_secs(1));
        assert!(recent.contains(addr(1), t));
        assert!(!recent.contains(addr(1), t + Duration::from_secs(1)));
        assert!(recent.is_empty(), "an expired entry met is forgotten");
        recent.remember(addr(2), (), t + Duration::from_secs(1));
        assert_eq!(recent.take(addr(2), t + Duration::from_secs(2)), None);
    }

    #[test]
    fn the_memory_stays_bounded_under_churn() {
        let t = Instant::now();
        let mut recent = Recent::new(100);
        for i in 0..10_000u32 {
            let a = addr((i % 3000) as u16 + 1);
            recent.remember(a, i, t + Duration::from_secs(60));
            if i % 7 == 0 {
                recent.take(a, t);
            }
            assert!(recent.len() <= 100);
            assert_eq!(recent.order.len(), recent.entries.len());
        }
    }
}
