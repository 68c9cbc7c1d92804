//! Small pieces both binaries share: parsing durations, names and addresses, plain
//! address errors, and a logger that never makes the logging thread wait.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::limits::{MAX_SECS, MIN_SECS};
use crate::proto::{Name, NameError, MAX_NAME};

/// How many log records may wait for the logging thread; past it, records are dropped
/// and counted, and the count is logged when there is room again.
pub const LOG_QUEUE_RECORDS: usize = 1024;

/// The writer env_logger hands each formatted record to: it queues the record for the
/// logging thread and returns at once, dropping (and counting) it if the queue is full.
/// So a paused terminal or an unread pipe on stderr can never stall the room's thread.
#[derive(Debug)]
pub struct QueueWriter {
    queue: SyncSender<LogMessage>,
    dropped: Arc<AtomicU64>,
}

/// Waits, at exit, for the records queued so far to be written.
#[derive(Debug, Clone)]
pub struct LogFlusher {
    queue: SyncSender<LogMessage>,
}

#[derive(Debug)]
enum LogMessage {
    Record(Vec<u8>),
    Flush(mpsc::Sender<()>),
}

/// A number of seconds on the command line: parsed by [`parse_secs`], shown in
/// `--help` as a plain number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Secs(pub Duration);

impl Secs {
    /// A whole number of seconds (the options' defaults).
    pub const fn whole(secs: u32) -> Secs {
        Secs(Duration::from_secs(secs as u64))
    }
}

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

impl std::str::FromStr for Secs {
    type Err = String;

    fn from_str(text: &str) -> Result<Secs, String> {
        parse_secs(text).map(Secs)
    }
}

/// Parses a positive number of seconds, fractions allowed (`5`, `0.5`).
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !secs.is_finite() || !(MIN_SECS..=f64::from(MAX_SECS)).contains(&secs) {
        return Err(format!(
            "`{text}` is out of range: give seconds from {MIN_SECS} to {MAX_SECS}"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Checks a name for `--name`, with the same rule the server applies to `/nick`.
pub fn parse_name(text: &str) -> Result<String, String> {
    match Name::parse(text) {
        Ok(name) => Ok(name.to_string()),
        Err(NameError::Reserved) => Err(format!(
            "`{text}` is reserved: the server's notices start with it"
        )),
        Err(NameError::Empty | NameError::Invalid) => Err(format!(
            "`{text}` is not a valid name: use 1-{MAX_NAME} ASCII letters, digits, _ or -, \
             starting with a letter"
        )),
    }
}

/// The port a server listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9999;

/// A server's address as the user wrote it (the client's SERVER, the server's
/// `--bind`), with [`DEFAULT_PORT`] added when it has no port: `localhost`,
/// `127.0.0.1`, `::1` and `[::1]` all get `:9999`. A bare number is left alone: it is
/// a port without its host (`9999`), which the resolver then refuses with a hint,
/// rather than an IPv4 address in the resolver's old shorthand (`0.0.39.15`).
pub fn server_address(text: &str) -> String {
    let text = text.trim();
    if text.parse::<std::net::SocketAddr>().is_ok()
        || (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
    {
        return text.to_string();
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => std::net::SocketAddr::new(ip, DEFAULT_PORT).to_string(),
        Err(_) if !text.contains(':') => format!("{text}:{DEFAULT_PORT}"),
        Err(_) => text.to_string(),
    }
}

/// An I/O error in a user's words: without the `(os error N)` suffix.
pub fn plain_error(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// An I/O error about `address` in a user's words ([`plain_error`]), with a hint when
/// the port is missing.
pub fn describe_address_error(address: &str, error: &io::Error) -> String {
    let text = plain_error(error);
    if address
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        format!("{text} (write host:port, e.g. 127.0.0.1:9999)")
    } else {
        text
    }
}

/// A logger builder for a binary: `RUST_LOG` if set, else `default_level`, lines
/// written by [`write_log_line`] to stderr by a logging thread of its own, handed to it
/// by a [`QueueWriter`]. The binary calls `.init()` (the library never does), and
/// [`LogFlusher::flush`] before it exits.
///
/// The logging thread is never joined: it lives as long as the process.
pub fn logger(default_level: &str) -> (env_logger::Builder, LogFlusher) {
    let (writer, flusher) = log_queue(io::stderr(), LOG_QUEUE_RECORDS);
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    builder
        .format(write_log_line)
        .target(env_logger::Target::Pipe(Box::new(writer)));
    (builder, flusher)
}

/// Starts a logging thread writing to `out`, fed by the [`QueueWriter`] returned, which
/// holds at most `capacity` records waiting.
pub fn log_queue(out: impl Write + Send + 'static, capacity: usize) -> (QueueWriter, LogFlusher) {
    let (queue, records) = mpsc::sync_channel(capacity);
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&dropped);
    thread::spawn(move || write_log(records, &counter, out));
    let flusher = LogFlusher {
        queue: queue.clone(),
    };
    (QueueWriter { queue, dropped }, flusher)
}

impl Write for QueueWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.queue.try_send(LogMessage::Record(buf.to_vec())) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogFlusher {
    /// Waits until every record queued before the call is written, or `timeout` passed
    /// (stderr may be a paused terminal); true if they were.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (ack, written) = mpsc::channel();
        let mut message = LogMessage::Flush(ack);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    thread::sleep(Duration::from_millis(5));
                }
                Err(TrySendError::Full(_)) => return false,
            }
        }
        written
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}

/// The logging thread: writes each record, telling first how many were dropped.
fn write_log(records: Receiver<LogMessage>, dropped: &AtomicU64, mut out: impl Write) {
    for message in records {
        let n = dropped.swap(0, Ordering::Relaxed);
        if n > 0 {
            let _ = write_log_line(
                &mut out,
                &log::Record::builder()
                    .args(format_args!(
                        "{n} log records dropped: the log could not keep up"
                    ))
                    .level(log::Level::Warn)
                    .build(),
            );
        }
        match message {
            LogMessage::Record(bytes) => {
                let _ = out.write_all(&bytes);
            }
            LogMessage::Flush(ack) => {
                let _ = out.flush();
                let _ = ack.send(());
            }
        }
    }
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
        for bad in ["", "abc", "0", "-1", "nan", "inf", "1e9", "1e-10", "0.0009"] {
            let err = parse_secs(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
    }

    #[test]
    fn a_server_without_a_port_gets_the_default_one() {
        assert_eq!(server_address("127.0.0.1:5"), "127.0.0.1:5");
        assert_eq!(server_address("127.0.0.1"), "127.0.0.1:9999");
        assert_eq!(server_address("::1"), "[::1]:9999");
        assert_eq!(server_address("[::1]"), "[::1]:9999");
        assert_eq!(server_address("[::1]:7"), "[::1]:7");
        assert_eq!(server_address("localhost"), "localhost:9999");
        assert_eq!(server_address("localhost:12"), "localhost:12");
        assert_eq!(server_address(" 0.0.0.0 "), "0.0.0.0:9999");
        assert_eq!(server_address("::"), "[::]:9999");
        assert_eq!(server_address("[::]"), "[::]:9999");
        assert_eq!(server_address("[fe80::1%2]:5"), "[fe80::1%2]:5");
    }

    #[test]
    fn a_bare_number_is_a_port_without_its_host_and_stays_as_written() {
        // The resolver refuses it, and the error says to write host:port.
        assert_eq!(server_address("9999"), "9999");
        let error = io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address");
        assert!(describe_address_error("9999", &error).contains("write host:port"));
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
    fn names_for_the_command_line_follow_the_servers_rule() {
        assert_eq!(parse_name("alice"), Ok("alice".to_string()));
        assert!(parse_name("you").unwrap_err().contains("reserved"));
        assert!(parse_name("that").unwrap_err().contains("reserved"));
        assert!(parse_name("a b").unwrap_err().contains("not a valid name"));
    }

    /// A writer that blocks until told to go on, like a paused terminal.
    struct Paused(Arc<std::sync::Mutex<Vec<u8>>>, Receiver<()>);

    impl Write for Paused {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _ = self.1.recv();
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_log_never_stalls_the_writer_and_counts_what_it_drops() {
        let written = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (resume, paused) = mpsc::channel();
        let (mut writer, flusher) = log_queue(Paused(Arc::clone(&written), paused), 4);
        // The logging thread takes one record and blocks on it; 4 more fill the queue;
        // the rest are dropped, and none of the writes waits.
        for i in 0..100 {
            writer
                .write_all(format!("record {i}\n").as_bytes())
                .unwrap();
        }
        // Let everything through: the drop count comes before the next record.
        for _ in 0..1000 {
            let _ = resume.send(());
        }
        assert!(flusher.flush(Duration::from_secs(5)));
        writer.write_all(b"after\n").unwrap();
        assert!(flusher.flush(Duration::from_secs(5)));
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let records = text.lines().filter(|l| l.starts_with("record ")).count();
        let dropped: usize = text
            .lines()
            .filter_map(|l| l.split(" WARN ").nth(1))
            .filter_map(|l| l.strip_suffix(" log records dropped: the log could not keep up"))
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        assert!(
            records <= 5,
            "the queue holds 4 and the thread 1: {records}\n{text}"
        );
        assert_eq!(
            records + dropped,
            100,
            "every record written or counted\n{text}"
        );
        assert!(text.ends_with("after\n"), "{text}");
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
