//! Ctrl-R, without I/O: an incremental search backwards through this session's lines.

/// A search under way, and the line as it was before it, to put back on Ctrl-G.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// What is searched for, as typed.
    pub query: Vec<char>,
    /// The line of history shown, if any has matched.
    pub found: Option<usize>,
    /// Whether the last try found nothing (the last match stays shown).
    pub failed: bool,
    /// The line and cursor before the search.
    pub saved_line: Vec<char>,
    pub saved_cursor: usize,
}

impl Search {
    /// What stands in place of the prompt: `(search 'he') `.
    pub fn label(&self) -> String {
        let query: String = self.query.iter().collect();
        if self.failed {
            format!("(failed search '{query}') ")
        } else {
            format!("(search '{query}') ")
        }
    }
}

/// The newest line of `history` at or before `from` that holds `query` (case aside),
/// and where in it the match starts.
pub fn find_back(history: &[String], from: usize, query: &[char]) -> Option<(usize, usize)> {
    (0..=from.min(history.len().checked_sub(1)?))
        .rev()
        .find_map(|i| Some((i, position(&history[i], query)?)))
}

/// Where `query` first occurs in `line`, in characters, comparing letters case aside.
fn position(line: &str, query: &[char]) -> Option<usize> {
    let line: Vec<char> = line.chars().collect();
    if query.len() > line.len() {
        return None;
    }
    (0..=line.len() - query.len()).find(|&at| {
        line[at..at + query.len()]
            .iter()
            .zip(query)
            .all(|(&a, &b)| a == b || a.to_lowercase().eq(b.to_lowercase()))
    })
}
