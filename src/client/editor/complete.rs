//! Tab completion, without I/O: the word at the cursor, the candidates that start with
//! it (case aside), and what a cycle through them has put in the line.

/// What Tab completes from: the names in the room, most recently active first, and
/// the command words (`/nick`, …), offered only for the first word after a `/`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Candidates<'a> {
    pub names: &'a [&'a str],
    pub commands: &'a [&'a str],
}

/// A cycle of completions under way: each Tab puts the next match in place of the
/// previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Where the completed word starts in the line.
    pub start: usize,
    /// How many characters the last completion put there (its ending included).
    pub len: usize,
    /// The matches, in the order the caller gave, each with its ending.
    pub matches: Vec<String>,
    /// The match in the line now.
    pub shown: usize,
}

/// Characters a name or a command word is made of.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The matches for completing at `cursor` in `line`: where the replaced word starts,
/// where it ends, and each match with the ending it takes (`: ` after a name that
/// starts the line, a space otherwise). Empty when nothing matches.
pub fn matches(
    line: &[char],
    cursor: usize,
    candidates: Candidates<'_>,
) -> (usize, usize, Vec<String>) {
    let mut start = cursor;
    while start > 0 && is_word_char(line[start - 1]) {
        start -= 1;
    }
    let mut end = cursor;
    while end < line.len() && is_word_char(line[end]) {
        end += 1;
    }
    let prefix: String = line[start..cursor]
        .iter()
        .collect::<String>()
        .to_lowercase();
    let followed_by_space = line.get(end).is_some_and(|c| c.is_whitespace());
    let found: Vec<String> = if start == 1 && line[0] == '/' {
        let ending = if followed_by_space { "" } else { " " };
        candidates
            .commands
            .iter()
            .filter_map(|command| command.strip_prefix('/'))
            .filter(|word| word.to_lowercase().starts_with(&prefix))
            .map(|word| format!("{word}{ending}"))
            .collect()
    } else {
        let first = line[..start].iter().all(|c| c.is_whitespace());
        let ending = match line.get(end) {
            Some(':') if first => "",
            Some(c) if first && c.is_whitespace() => ":",
            _ if first => ": ",
            _ if followed_by_space => "",
            _ => " ",
        };
        candidates
            .names
            .iter()
            .filter(|name| name.to_lowercase().starts_with(&prefix))
            .map(|name| format!("{name}{ending}"))
            .collect()
    };
    (start, end, found)
}
