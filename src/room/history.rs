//! The room's recent history: the last lines said to everyone (chat and `/me`), for a
//! session that joins to read what came before it. Private messages and notices are
//! never kept.

use std::collections::VecDeque;

/// The most bytes of history kept, whatever the number of lines.
pub const HISTORY_BYTES: usize = 64 * 1024;

/// The last lines said to everyone, at most `max_lines` and [`HISTORY_BYTES`].
#[derive(Debug)]
pub struct History {
    lines: VecDeque<Box<[u8]>>,
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

    /// Keeps `line`, forgetting the oldest lines past either limit.
    pub fn record(&mut self, line: &[u8]) {
        if self.max_lines == 0 || line.len() > HISTORY_BYTES {
            return;
        }
        self.bytes += line.len();
        self.lines.push_back(line.into());
        while self.lines.len() > self.max_lines || self.bytes > HISTORY_BYTES {
            match self.lines.pop_front() {
                Some(oldest) => self.bytes -= oldest.len(),
                None => break,
            }
        }
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.lines.iter().map(|line| &line[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_within_both_limits() {
        let mut history = History::new(3);
        for i in 0..5 {
            history.record(format!("line {i}").as_bytes());
        }
        let kept: Vec<&[u8]> = history.lines().collect();
        assert_eq!(kept, [&b"line 2"[..], b"line 3", b"line 4"]);
        let mut big = History::new(1000);
        let line = vec![b'x'; 1000];
        for _ in 0..100 {
            big.record(&line);
        }
        assert_eq!(big.lines().count(), HISTORY_BYTES / 1000);
        assert!(big.bytes <= HISTORY_BYTES);
        let mut none = History::new(0);
        none.record(b"said");
        assert_eq!(none.lines().count(), 0);
    }
}
