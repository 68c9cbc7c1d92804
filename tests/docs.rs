//! The docs say what the program does: every default and limit of a command-line option
//! that README.md and docs/PROTOCOL.md quote is the program's own, read from
//! `udpchat::limits` (where the binaries' options come from). Change a default and this
//! fails until the docs follow.

use std::path::Path;

use udpchat::limits::*;
use udpchat::room::{HISTORY_BYTES, SENT_BYTES};

/// A document as one line: runs of white space made one space, and numbers written in
/// groups (`65 416`) joined (`65416`), so a phrase can be looked for whatever the wrapping.
fn read_doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut joined = String::with_capacity(text.len());
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            let previous = words[i - 1];
            let is_group = word.len() >= 3
                && word.bytes().take(3).all(|b| b.is_ascii_digit())
                && !word.as_bytes().get(3).is_some_and(u8::is_ascii_digit);
            let after_number = previous.bytes().all(|b| b.is_ascii_digit());
            if !(is_group && after_number) {
                joined.push(' ');
            }
        }
        joined.push_str(word);
    }
    joined
}

/// Fails unless `doc` (named `name`) says `phrase`.
fn require(name: &str, doc: &str, phrase: &str) {
    assert!(
        doc.contains(phrase),
        "{name} should say {phrase:?}, which is what the program does (udpchat::limits); \
         fix the doc, or the constant if the doc is right"
    );
}

/// The number right after each occurrence of `before` in `doc` (digits, with a dot).
fn numbers_after<'a>(doc: &'a str, before: &str) -> Vec<&'a str> {
    doc.match_indices(before)
        .map(|(at, _)| {
            let rest = &doc[at + before.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches('.')
        })
        .filter(|number| !number.is_empty())
        .collect()
}

/// Every option's default, as the docs write it.
fn defaults() -> Vec<(&'static str, String)> {
    vec![
        ("--timeout", DEFAULT_TIMEOUT_SECS.to_string()),
        ("--heartbeat", DEFAULT_HEARTBEAT_SECS.to_string()),
        ("--max-message", DEFAULT_MAX_MESSAGE.to_string()),
        ("--max-clients", DEFAULT_MAX_CLIENTS.to_string()),
        ("--max-per-host", DEFAULT_MAX_PER_HOST.to_string()),
        ("--rate", DEFAULT_RATE.to_string()),
        ("--burst", DEFAULT_BURST.to_string()),
        ("--history", DEFAULT_HISTORY.to_string()),
        ("--repair-lines", DEFAULT_REPAIR_LINES.to_string()),
    ]
}

#[test]
fn the_readme_option_tables_give_the_programs_defaults_and_ranges() {
    let name = "README.md";
    let doc = read_doc(name);
    let secs = format!("{MIN_SECS} to {MAX_SECS}");
    for (row, default) in [
        ("`--timeout SECS`", DEFAULT_TIMEOUT_SECS.to_string()),
        ("`--heartbeat SECS`", DEFAULT_HEARTBEAT_SECS.to_string()),
        ("`--max-message BYTES`", DEFAULT_MAX_MESSAGE.to_string()),
        ("`--max-clients N`", DEFAULT_MAX_CLIENTS.to_string()),
        ("`--max-per-host N`", DEFAULT_MAX_PER_HOST.to_string()),
        ("`--rate MSGS_PER_SEC`", DEFAULT_RATE.to_string()),
        ("`--burst N`", DEFAULT_BURST.to_string()),
        ("`--history N`", DEFAULT_HISTORY.to_string()),
        ("`--repair-lines N`", DEFAULT_REPAIR_LINES.to_string()),
    ] {
        require(name, &doc, &format!("| {row} | `{default}` |"));
    }
    for phrase in [
        format!("longer than this (fractions allowed, {secs})"),
        format!("time between heartbeats (fractions allowed, {secs})"),
        format!("({MIN_MAX_MESSAGE} to {MAX_MAX_MESSAGE}, so any accepted text"),
        format!("most members at once (at least {MIN_MAX_CLIENTS})"),
        format!("IPv6 /64 (at least {MIN_MAX_PER_HOST}; loopback counts as no host)"),
        format!("`* room is full for your host ({DEFAULT_MAX_PER_HOST} clients from one host)`"),
        format!("before `--rate` applies (at least {MIN_BURST})"),
        "`0` for no limit".to_string(),
        format!("refuses a `--max-message` above {MACOS_MAX_MESSAGE} at start"),
        format!(
            "0 for none; at most {MAX_HISTORY} lines and {} KiB",
            HISTORY_BYTES / 1024
        ),
        format!(
            "(at most {MAX_REPAIR_LINES} lines and {} KiB); 0 keeps none",
            SENT_BYTES / 1024
        ),
    ] {
        require(name, &doc, &phrase);
    }
}

#[test]
fn the_protocols_limits_are_the_programs() {
    let name = "docs/PROTOCOL.md";
    let doc = read_doc(name);
    for phrase in [
        format!("timeout ({DEFAULT_TIMEOUT_SECS} s by default)"),
        format!("every {DEFAULT_HEARTBEAT_SECS} s. Our client sends one at once"),
        format!(
            "| {DEFAULT_MAX_MESSAGE} bytes (`--max-message`, {MIN_MAX_MESSAGE} to \
             {MAX_MAX_MESSAGE}, so that"
        ),
        format!("| {DEFAULT_MAX_CLIENTS} (`--max-clients`, at least {MIN_MAX_CLIENTS}) |"),
        format!("| {DEFAULT_MAX_PER_HOST} (`--max-per-host`) |"),
        format!("| {DEFAULT_RATE} a second, {DEFAULT_BURST} at once (`--rate`, `--burst`) |"),
        format!(
            "{DEFAULT_HISTORY} by default (`--history N`, 0 for none), at most {MAX_HISTORY} \
             lines and {} KiB",
            HISTORY_BYTES / 1024
        ),
        format!(
            "the last {DEFAULT_REPAIR_LINES} lines, `--repair-lines N`, 0 for none, at most \
             {MAX_REPAIR_LINES} lines and {} KiB",
            SENT_BYTES / 1024
        ),
    ] {
        require(name, &doc, &phrase);
    }
}

#[test]
fn every_option_quoted_with_a_number_quotes_its_default() {
    // `--rate 0` (no limit) is the one other value the docs name.
    for name in ["README.md", "docs/PROTOCOL.md", "docs/ARCHITECTURE.md"] {
        let doc = read_doc(name);
        for (option, default) in defaults() {
            for number in numbers_after(&doc, &format!("`{option} ")) {
                assert!(
                    number == default || (option == "--rate" && number == "0"),
                    "{name} quotes `{option} {number}`; the default is {default}"
                );
            }
        }
        // The notices the docs show, as the room writes them with its defaults.
        for number in numbers_after(&doc, "room is full (") {
            assert_eq!(
                number,
                DEFAULT_MAX_CLIENTS.to_string(),
                "{name}: room is full"
            );
        }
        for number in numbers_after(&doc, " bytes, limit ") {
            assert_eq!(number, DEFAULT_MAX_MESSAGE.to_string(), "{name}: too long");
        }
        for (at, _) in doc.match_indices(" messages a second, ") {
            let rate = doc[..at]
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or_default();
            if rate.is_empty() {
                continue; // The template, `R messages a second, B at once`.
            }
            let burst = numbers_after(&doc[at..], " messages a second, ");
            assert_eq!(rate, DEFAULT_RATE.to_string(), "{name}: the welcome's rate");
            assert_eq!(burst[0], DEFAULT_BURST.to_string(), "{name}: the burst");
        }
    }
}
