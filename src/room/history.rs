//! The room's recent history: the last lines said to everyone (chat and `/me`), for a
//! session that joins to read what came before it. Private messages and notices are
//! never kept.

use std::collections::VecDeque;
use std::time::Instant;

/// The most bytes of history kept, whatever the number of lines.
pub const HISTORY_BYTES: usize = 64 * 1024;

/// The last lines said to everyone, at most `max_lines` and [`HISTORY_BYTES`].
#[derive(Debug)]
pub struct History {
    /// Each line with when it was said.
    lines: VecDeque<(Instant, Box<[u8]>)>,
    bytes: usize,
    max_lines: usize,
}

impl History {
    /// An empty history of at most `max_lines` lines (0: none kept).
    pub fn new(max_lines: usize) -> History {
        History {
            lines: VecDeque::new(),
            bytes: 0,
            max_lines,
        }
    }

    /// Keeps `line`, said at `now`, forgetting the oldest lines past either limit.
    pub fn record(&mut self, line: &[u8], now: Instant) {
        if self.max_lines == 0 || line.len() > HISTORY_BYTES {
            return;
        }
        self.bytes += line.len();
        self.lines.push_back((now, line.into()));
        while self.lines.len() > self.max_lines || self.bytes > HISTORY_BYTES {
            match self.lines.pop_front() {
                Some((_, oldest)) => self.bytes -= oldest.len(),
                None => break,
            }
        }
    }

    /// The lines kept, oldest first, each with when it was said.
    pub fn lines(&self) -> impl Iterator<Item = (Instant, &[u8])> + '_ {
        self.lines.iter().map(|(said, line)| (*said, &line[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_within_both_limits() {
        let t = Instant::now();
        let mut history = History::new(3);
        for i in 0..5 {
            let said = t + std::time::Duration::from_secs(i);
            history.record(format!("line {i}").as_bytes(), said);
        }
        let kept: Vec<&[u8]> = history.lines().map(|(_, line)| line).collect();
        assert_eq!(kept, [&b"line 2"[..], b"line 3", b"line 4"]);
        let said: Vec<u64> = history.lines().map(|(at, _)| (at - t).as_secs()).collect();
        assert_eq!(said, [2, 3, 4], "each with when it was said");
        let mut big = History::new(1000);
        let line = vec![b'x'; 1000];
        for _ in 0..100 {
            big.record(&line, t);
        }
        assert_eq!(big.lines().count(), HISTORY_BYTES / 1000);
        assert!(big.bytes <= HISTORY_BYTES);
        let mut none = History::new(0);
        none.record(b"said", t);
        assert_eq!(none.lines().count(), 0);
    }
}
