//! Small pieces both binaries share: parsing durations and the logger's set-up.

use std::io::{self, Write};
use std::time::Duration;

/// Parses a positive number of seconds, fractions allowed (`5`, `0.5`).
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!(
            "`{text}` is out of range: give seconds above 0 and at most 86400"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Checks a name for `--name`, with the same rule the server applies to `/nick`.
pub fn parse_name(text: &str) -> Result<String, String> {
    if crate::proto::is_valid_name(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a valid name: use 1-{} ASCII letters, digits, _ or -, starting \
             with a letter, and not a word the server's notices start with",
            crate::proto::MAX_NAME
        ))
    }
}

/// An I/O error about `address` in a user's words: without the `(os error N)` suffix,
/// and with a hint when the port is missing.
pub fn describe_address_error(address: &str, error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    };
    if address
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        format!("{text} (write host:port, e.g. 127.0.0.1:9999)")
    } else {
        text
    }
}

/// A logger builder for a binary: `RUST_LOG` if set, else `default_level`, and lines
/// written by [`write_log_line`]. The binary calls `.init()`; the library never does.
pub fn logger(default_level: &str) -> env_logger::Builder {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    builder.format(write_log_line);
    builder
}

/// Writes one log record as `2026-11-24 22:40:01.123 INFO message`, in local time.
pub fn write_log_line(out: &mut impl Write, record: &log::Record<'_>) -> io::Result<()> {
    let time = chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f");
    writeln!(out, "{time} {} {}", record.level(), record.args())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_accepts_whole_and_fractional() {
        assert_eq!(parse_secs("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn secs_refuses_nonsense_with_a_reason() {
        for bad in ["", "abc", "0", "-1", "nan", "inf", "1e9"] {
            let err = parse_secs(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
    }

    #[test]
    fn address_errors_read_plainly() {
        let in_use = io::Error::from_raw_os_error(98);
        let text = describe_address_error("127.0.0.1:9999", &in_use);
        assert!(!text.contains("os error"), "{text}");
        let bad = io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address");
        assert_eq!(
            describe_address_error("127.0.0.1", &bad),
            "invalid socket address (write host:port, e.g. 127.0.0.1:9999)"
        );
    }

    #[test]
    fn log_line_has_timestamp_level_and_message() {
        let mut out = Vec::new();
        let record = log::Record::builder()
            .args(format_args!("127.0.0.1:5000 hello"))
            .level(log::Level::Info)
            .build();
        write_log_line(&mut out, &record).unwrap();
        let line = String::from_utf8(out).unwrap();
        // "YYYY-MM-DD HH:MM:SS.mmm " is 24 characters.
        assert_eq!(&line[24..], "INFO 127.0.0.1:5000 hello\n", "{line}");
        assert_eq!(line.as_bytes()[4], b'-');
        assert_eq!(line.as_bytes()[19], b'.');
    }
}
