//! Proof that a client receives at its address: cookies for our client, a join code for
//! a person, and, under `--verify`, the byte budget of addresses not yet proven.
//!
//! A cookie is a keyed hash of the address and the time's epoch (DTLS's
//! HelloVerifyRequest, WireGuard's cookie reply, DNS cookies): the room keeps nothing
//! per address until it is echoed. The secret is std's randomly keyed hasher, a new one
//! every [`COOKIE_EPOCH`], the previous one still accepted, so a cookie is good for one
//! to two epochs.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::departed::Recent;
use crate::proto::frame::{Cookie, COOKIE_LEN};

/// How long one secret is used; cookies and codes made with it are accepted until the
/// end of the next epoch.
pub const COOKIE_EPOCH: Duration = Duration::from_secs(60);
/// The most bytes the room sends an address not yet proven, for each byte received from
/// it (QUIC's rule, RFC 9000 §8): forging its source gains a forger at most this.
pub const AMPLIFICATION_LIMIT: u64 = 3;
/// The most addresses not yet proven whose bytes the room counts; past it, the one heard
/// from longest ago is forgotten (its counts start again from zero, which keeps the
/// limit: what it is sent after is paid for by what it sends after).
pub const UNPROVEN_MEMORY: usize = 4096;
/// How long the room counts an address's bytes after it last heard from it.
pub const REMEMBER_UNPROVEN_FOR: Duration = Duration::from_secs(60);
/// How long a classic address that proved itself stays proven after it leaves or
/// times out: its next line within this brings it back without a new code (a
/// heartbeat alone never does), and, while a member, how long heartbeats alone keep it
/// after its last line. So a departed owner's address can be kept in the room by
/// forged heartbeats for at most this long after its owner's last line (plus the
/// timeout), and brought back by a forged line for at most this long after it left.
pub const REMEMBER_PROVEN_FOR: Duration = Duration::from_secs(600);
/// The least time between two join codes told to one address.
pub const TELL_CODE_EVERY: Duration = Duration::from_secs(5);
/// Characters in a join code: 50 bits in base32, short enough to type. Two codes are
/// good for an address at any time (this epoch's and the last), so a forger guessing
/// at a million datagrams a second needs about twelve years for even odds.
pub const CODE_DIGITS: usize = crate::proto::notice::JOIN_CODE_DIGITS;

/// What a hash is made for, so a cookie never serves as a code or the other way round.
#[derive(Debug, Clone, Copy, Hash)]
enum Purpose {
    Cookie,
    Code,
}

/// Makes and checks cookies and join codes.
#[derive(Debug)]
pub struct CookieJar {
    started: Instant,
    /// The epoch `current` is the secret of.
    epoch: u64,
    current: RandomState,
    previous: RandomState,
}

/// What an address not yet proven has sent and been sent.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    received: u64,
    sent: u64,
    /// When it may next be told its join code.
    next_code: Instant,
}

/// The budgets of addresses not yet proven, bounded.
#[derive(Debug)]
pub struct Budgets {
    memory: Recent<Budget>,
}

impl CookieJar {
    /// A jar whose first epoch starts `now`.
    pub fn new(now: Instant) -> CookieJar {
        CookieJar {
            started: now,
            epoch: 0,
            current: RandomState::new(),
            previous: RandomState::new(),
        }
    }

    /// The cookie for `addr` now.
    pub fn cookie(&mut self, addr: SocketAddr, now: Instant) -> Cookie {
        let epoch = self.rotate(now);
        let hash = self.current.hash_one((Purpose::Cookie, addr, epoch));
        let mut cookie = [0u8; COOKIE_LEN];
        cookie.copy_from_slice(&hash.to_le_bytes()[..COOKIE_LEN]);
        Cookie(cookie)
    }

    /// Whether `cookie` is one this jar made for `addr` in this epoch or the last.
    pub fn check_cookie(&mut self, addr: SocketAddr, cookie: Cookie, now: Instant) -> bool {
        self.check(now, |keys, epoch| {
            let hash = keys.hash_one((Purpose::Cookie, addr, epoch));
            hash.to_le_bytes()[..COOKIE_LEN] == cookie.0
        })
    }

    /// The join code for `addr` now: [`CODE_DIGITS`] lowercase base32 characters.
    pub fn code(&mut self, addr: SocketAddr, now: Instant) -> String {
        let epoch = self.rotate(now);
        code_of(self.current.hash_one((Purpose::Code, addr, epoch)))
    }

    /// Whether `typed` is the join code for `addr` in this epoch or the last, in any case
    /// of its letters.
    pub fn check_code(&mut self, addr: SocketAddr, typed: &str, now: Instant) -> bool {
        let typed = typed.trim().to_ascii_lowercase();
        typed.len() == CODE_DIGITS
            && self.check(now, |keys, epoch| {
                code_of(keys.hash_one((Purpose::Code, addr, epoch))) == typed
            })
    }

    /// Whether `matches` holds for the current epoch's secret or the previous one's.
    fn check(&mut self, now: Instant, matches: impl Fn(&RandomState, u64) -> bool) -> bool {
        let epoch = self.rotate(now);
        matches(&self.current, epoch)
            || epoch
                .checked_sub(1)
                .is_some_and(|previous| matches(&self.previous, previous))
    }

    /// Moves to the epoch of `now`, drawing a new secret; returns the epoch.
    fn rotate(&mut self, now: Instant) -> u64 {
        let epoch = now.saturating_duration_since(self.started).as_secs() / COOKIE_EPOCH.as_secs();
        if epoch > self.epoch {
            let fresh = RandomState::new();
            self.previous = if epoch == self.epoch + 1 {
                std::mem::replace(&mut self.current, fresh)
            } else {
                // Both secrets are stale: nothing made with either is good any more.
                self.current = fresh;
                RandomState::new()
            };
            self.epoch = epoch;
        }
        self.epoch
    }
}

/// The code a hash gives: its low 50 bits in base32, five bits a character.
fn code_of(hash: u64) -> String {
    let alphabet = crate::proto::notice::JOIN_CODE_ALPHABET;
    (0..CODE_DIGITS)
        .map(|i| char::from(alphabet[((hash >> (5 * i)) & 31) as usize]))
        .collect()
}

impl Budget {
    fn new(now: Instant) -> Budget {
        Budget {
            received: 0,
            sent: 0,
            next_code: now,
        }
    }
}

impl Budgets {
    /// No address counted yet.
    pub fn new() -> Budgets {
        Budgets {
            memory: Recent::new(UNPROVEN_MEMORY),
        }
    }

    /// Counts `len` bytes received from `addr`, and returns its budget for the caller to
    /// spend and give back with [`Budgets::put`].
    pub fn receive(&mut self, addr: SocketAddr, len: usize, now: Instant) -> Budget {
        let mut budget = self
            .memory
            .take(addr, now)
            .unwrap_or_else(|| Budget::new(now));
        budget.received = budget.received.saturating_add(len as u64);
        budget
    }

    /// Keeps `budget` for `addr`, for [`REMEMBER_UNPROVEN_FOR`].
    pub fn put(&mut self, addr: SocketAddr, budget: Budget, now: Instant) {
        if let Some(until) = now.checked_add(REMEMBER_UNPROVEN_FOR) {
            self.memory.remember(addr, budget, until);
        }
    }

    /// Forgets `addr`: it proved itself.
    pub fn forget(&mut self, addr: SocketAddr) {
        self.memory.forget(addr);
    }
}

impl Budget {
    /// Whether `len` more bytes may be sent; if so, counts them as sent.
    pub fn spend(&mut self, len: usize) -> bool {
        let sent = self.sent.saturating_add(len as u64);
        if sent > self.received.saturating_mul(AMPLIFICATION_LIMIT) {
            return false;
        }
        self.sent = sent;
        true
    }

    /// Whether the join code may be told now (budget aside).
    pub fn code_due(&self, now: Instant) -> bool {
        now >= self.next_code
    }

    /// Notes that the code was told now.
    pub fn told_code(&mut self, now: Instant) {
        self.next_code = now + TELL_CODE_EVERY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_cookie_is_good_for_its_address_until_the_end_of_the_next_epoch() {
        let t = Instant::now();
        let mut jar = CookieJar::new(t);
        let early = jar.cookie(addr(1), t);
        let late = jar.cookie(addr(1), t + COOKIE_EPOCH - Duration::from_millis(1));
        assert_eq!(early, late, "one epoch, one cookie");
        assert!(jar.check_cookie(addr(1), early, t));
        assert!(!jar.check_cookie(addr(2), early, t), "another port");
        assert!(!jar.check_cookie(SocketAddr::from(([127, 0, 0, 2], 1)), early, t));
        // Across the boundary: the previous epoch's secret still answers.
        let next = t + COOKIE_EPOCH;
        assert!(jar.check_cookie(addr(1), early, next));
        let fresh = jar.cookie(addr(1), next);
        assert_ne!(fresh, early, "a new epoch, a new cookie");
        let last_moment = t + 2 * COOKIE_EPOCH - Duration::from_millis(1);
        assert!(jar.check_cookie(addr(1), early, last_moment));
        // Two epochs on, it is stale; the one made in the second epoch is not.
        let stale = t + 2 * COOKIE_EPOCH;
        assert!(!jar.check_cookie(addr(1), early, stale));
        assert!(jar.check_cookie(addr(1), fresh, stale));
        assert!(!jar.check_cookie(addr(1), fresh, t + 3 * COOKIE_EPOCH));
    }

    #[test]
    fn a_long_silence_leaves_no_old_secret_behind() {
        let t = Instant::now();
        let mut jar = CookieJar::new(t);
        let cookie = jar.cookie(addr(1), t);
        let code = jar.code(addr(1), t);
        let much_later = t + 10 * COOKIE_EPOCH;
        assert!(!jar.check_cookie(addr(1), cookie, much_later));
        assert!(!jar.check_code(addr(1), &code, much_later));
    }

    #[test]
    fn a_code_is_ten_base32_characters_checked_in_any_case_and_no_cookie() {
        let t = Instant::now();
        let mut jar = CookieJar::new(t);
        let code = jar.code(addr(1), t);
        assert_eq!(code.len(), CODE_DIGITS);
        assert!(crate::proto::notice::is_join_code(&code), "{code}");
        assert!(jar.check_code(addr(1), &code, t));
        assert!(jar.check_code(addr(1), &format!(" {} ", code.to_uppercase()), t));
        assert!(!jar.check_code(addr(2), &code, t));
        assert!(!jar.check_code(addr(1), &code[1..], t));
        assert!(jar.check_code(addr(1), &code, t + COOKIE_EPOCH));
        assert!(!jar.check_code(addr(1), &code, t + 2 * COOKIE_EPOCH));
        // Kept apart from cookies by purpose: the cookie's bits make another code.
        let cookie = jar.cookie(addr(1), t);
        assert_ne!(code_of(u64::from_le_bytes(cookie.0)), code);
    }

    #[test]
    fn a_budget_spends_three_bytes_for_each_received() {
        let t = Instant::now();
        let mut budgets = Budgets::new();
        let mut budget = budgets.receive(addr(1), 4, t);
        assert!(budget.spend(10));
        assert!(!budget.spend(3), "12 is the limit");
        assert!(budget.spend(2));
        budgets.put(addr(1), budget, t);
        let mut budget = budgets.receive(addr(1), 4, t);
        assert!(!budget.spend(13));
        assert!(budget.spend(12), "cumulative: 8 received, 12 sent before");
        budgets.put(addr(1), budget, t);
        let mut forgotten = budgets.receive(addr(1), 1, t + REMEMBER_UNPROVEN_FOR);
        assert!(!forgotten.spend(4));
        assert!(forgotten.spend(3), "forgotten counts start again");
    }

    #[test]
    fn budgets_stay_bounded() {
        let t = Instant::now();
        let mut budgets = Budgets::new();
        for i in 0..UNPROVEN_MEMORY as u32 + 100 {
            let a = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7));
            let budget = budgets.receive(a, 4, t);
            budgets.put(a, budget, t);
        }
        assert_eq!(budgets.memory.len(), UNPROVEN_MEMORY);
    }
}
