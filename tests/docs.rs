//! The docs say what the program does: every default and limit of a command-line option
//! that README.md, docs/PROTOCOL.md and each program's `--help` quote is the program's
//! own, read from `udpchat::limits` (where the binaries' options come from). Change a
//! default or a range and this fails until the docs follow; add an option that takes a
//! value and it fails until its range is written here.

mod common;

use std::path::Path;

use udpchat::limits::*;
use udpchat::proto::MAX_NAME;
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

/// One option of a program as its `--help` and README's option table show it.
struct OptionDoc {
    program: &'static str,
    /// `--timeout`.
    option: &'static str,
    /// `SECS`: `<SECS>` in `--help`, `` `--timeout SECS` `` in README's table.
    value: &'static str,
    /// The default, as README's table writes it; `None` for an option with none.
    default: Option<String>,
    /// What both must say of the values taken: the range, from the constants.
    range: Vec<String>,
}

/// Every option of both programs that takes a value, with its default and range.
fn options() -> Vec<OptionDoc> {
    let secs = format!("{MIN_SECS} to {MAX_SECS}");
    let option = |program, option, value, default: Option<String>, range: &[String]| OptionDoc {
        program,
        option,
        value,
        default,
        range: range.to_vec(),
    };
    let (server, client) = (common::SERVER, common::CLIENT);
    vec![
        option(server, "--bind", "ADDR", Some("127.0.0.1:9999".into()), &[]),
        option(
            server,
            "--timeout",
            "SECS",
            Some(DEFAULT_TIMEOUT_SECS.to_string()),
            &[format!("(fractions allowed, {secs})")],
        ),
        option(
            server,
            "--max-message",
            "BYTES",
            Some(DEFAULT_MAX_MESSAGE.to_string()),
            &[format!(
                "({MIN_MAX_MESSAGE} to {MAX_MAX_MESSAGE}, so any accepted text fits one \
                 datagram with its sender's label"
            )],
        ),
        option(
            server,
            "--max-clients",
            "N",
            Some(DEFAULT_MAX_CLIENTS.to_string()),
            &[format!("(at least {MIN_MAX_CLIENTS})")],
        ),
        option(
            server,
            "--max-per-host",
            "N",
            Some(DEFAULT_MAX_PER_HOST.to_string()),
            &[format!("at least {MIN_MAX_PER_HOST}; ")],
        ),
        option(
            server,
            "--rate",
            "MSGS_PER_SEC",
            Some(DEFAULT_RATE.to_string()),
            &["0 or more".to_string(), "fractions allowed".to_string()],
        ),
        option(
            server,
            "--burst",
            "N",
            Some(DEFAULT_BURST.to_string()),
            &[format!("(at least {MIN_BURST})")],
        ),
        option(
            server,
            "--history",
            "N",
            Some(DEFAULT_HISTORY.to_string()),
            &[format!(
                "0 to {MAX_HISTORY}, and at most {} KiB of them",
                HISTORY_BYTES / 1024
            )],
        ),
        option(
            server,
            "--repair-lines",
            "N",
            Some(DEFAULT_REPAIR_LINES.to_string()),
            &[format!(
                "0 to {MAX_REPAIR_LINES}, and at most {} KiB of them",
                SENT_BYTES / 1024
            )],
        ),
        option(
            client,
            "--heartbeat",
            "SECS",
            Some(DEFAULT_HEARTBEAT_SECS.to_string()),
            &[format!("(fractions allowed, {secs})")],
        ),
        option(
            client,
            "--name",
            "NAME",
            None,
            &[format!("1 to {MAX_NAME} ASCII letters, digits, ")],
        ),
        option(client, "--log", "FILE", None, &[]),
    ]
}

/// README's table row for `option`, as written (one line).
fn readme_row<'a>(readme: &'a str, option: &OptionDoc) -> &'a str {
    let start = format!("| `{} {}` |", option.option, option.value);
    readme
        .lines()
        .find(|line| line.starts_with(&start))
        .unwrap_or_else(|| panic!("README.md has no option table row starting {start:?}"))
}

/// `program --help`, its options one to a line (clap does not wrap them).
fn help(program: &str) -> String {
    let mut proc = common::Proc::spawn(program, &["--help"]);
    assert_eq!(proc.wait_exit().code(), Some(0), "{}", proc.report());
    proc.stdout_lines().join("\n")
}

#[test]
fn the_readme_option_tables_give_the_programs_defaults_and_ranges() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    for option in options() {
        // README names the unit after a range of lines (`0 to 1000 lines, and …`).
        let row = readme_row(&readme, &option).replace(" lines,", ",");
        let default = option.default.as_deref().unwrap_or("");
        let cell = match default {
            "" => " ".to_string(),
            default => format!(" `{default}` "),
        };
        assert!(
            row.starts_with(&format!("| `{} {}` |{cell}|", option.option, option.value)),
            "README.md should give {} the default {default:?}, which is what the program \
             does (udpchat::limits):\n{row}",
            option.option
        );
        for range in &option.range {
            assert!(
                row.contains(range.as_str()),
                "README.md should say {range:?} of {}, which is what the program takes \
                 (udpchat::limits):\n{row}",
                option.option
            );
        }
    }
    let name = "README.md";
    let doc = read_doc(name);
    for phrase in [
        format!("`* room is full for your host ({DEFAULT_MAX_PER_HOST} clients from one host)`"),
        "`0` for no limit".to_string(),
        format!("refuses a `--max-message` above {MACOS_MAX_MESSAGE} at start"),
        // Where our client splits a long typed line (`client::split`).
        format!(
            "longer than {DEFAULT_MAX_MESSAGE} bytes, the server's default `--max-message`, \
             is sent as several messages of at most {DEFAULT_MAX_MESSAGE} bytes"
        ),
        format!("The client cuts at {DEFAULT_MAX_MESSAGE} bytes whatever the server's limit"),
    ] {
        require(name, &doc, &phrase);
    }
}

#[test]
fn every_option_that_takes_a_value_says_its_range_in_help() {
    let options = options();
    for program in [common::SERVER, common::CLIENT] {
        let help = help(program);
        for line in help
            .lines()
            .filter(|line| line.trim_start().starts_with("--"))
        {
            let mut words = line.split_whitespace();
            let (Some(flag), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            if !value.starts_with('<') {
                continue; // A flag without a value.
            }
            assert!(
                options
                    .iter()
                    .any(|o| o.program == program && o.option == flag),
                "{program} --help has {flag}, which tests/docs.rs does not know: add its \
                 range to `options()`\n{help}"
            );
        }
        for option in options.iter().filter(|o| o.program == program) {
            let flag = format!("{} <{}>", option.option, option.value);
            let line = help
                .lines()
                .find(|line| line.trim_start().starts_with(&flag))
                .unwrap_or_else(|| panic!("{program} --help has no {flag}\n{help}"));
            for range in &option.range {
                assert!(
                    line.contains(range.as_str()),
                    "{program} --help should say {range:?} of {}:\n{line}",
                    option.option
                );
            }
            if let Some(default) = &option.default {
                assert!(
                    line.ends_with(&format!("[default: {default}]")),
                    "{program} --help:\n{line}"
                );
            }
        }
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

/// PROTOCOL's list of the names reserved by the server's notices is the list the
/// server derives from them: a new notice's first word joins it.
#[test]
fn the_reserved_names_protocol_lists_are_the_servers() {
    let protocol = read_doc("docs/PROTOCOL.md");
    let marker = "reserved under the same fold (";
    let at = protocol
        .find(marker)
        .unwrap_or_else(|| panic!("docs/PROTOCOL.md does not say {marker:?}"));
    let rest = &protocol[at + marker.len()..];
    let listed: Vec<String> = rest[..rest.find(')').expect("a closing parenthesis")]
        .split(", ")
        .map(|word| word.trim_matches('`').to_string())
        .collect();
    assert_eq!(
        listed,
        udpchat::proto::Notice::fixed_first_words(),
        "docs/PROTOCOL.md's reserved words"
    );
}
