//! The session's randomness: heartbeat jitter and session tokens, from a generator
//! the caller seeds, so tests can replay it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::proto::frame::{Token, TOKEN_LEN};

/// A small random number generator (xorshift64*), seeded by the caller: the session
/// reads no entropy itself, so tests can replay it. Made with [`Random::from_entropy`],
/// its tokens also go through std's randomly keyed hasher, so no one can work them out
/// from the jitter of our heartbeats.
#[derive(Debug, Clone)]
pub struct Random {
    state: u64,
    keys: Option<RandomState>,
}

impl Random {
    /// A generator from `seed` (any value; zero is replaced): replayable, for tests.
    pub fn new(seed: u64) -> Random {
        Random {
            state: seed.max(1),
            keys: None,
        }
    }

    /// A generator seeded and keyed by std's randomly keyed hasher.
    pub fn from_entropy() -> Random {
        let keys = RandomState::new();
        Random {
            state: keys.hash_one("seed").max(1),
            keys: Some(keys),
        }
    }

    /// The next number, uniform in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A new session token.
    pub fn token(&mut self) -> Token {
        let n = self.next_u64();
        let bits = match &self.keys {
            Some(keys) => keys.hash_one(n),
            None => n,
        };
        let mut token = [0u8; TOKEN_LEN];
        token.copy_from_slice(&bits.to_le_bytes()[..TOKEN_LEN]);
        Token(token)
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
