//! The transcript `--log FILE` keeps: every line shown in the scroll area, after its
//! full local date and time, as plain text (no colors, no escapes, never the line being
//! typed), one write and one flush a line, so it can be read with `grep` or `tail -f`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Local};

use super::screen::EARLIER;
use super::session::{Action, ClientNotice};
use crate::cli;
use crate::proto;

/// A line's date and time: full, local, to the second (`2026-12-05 14:03:07`).
const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S";
/// The date and time in the `--- log opened` and `--- log closed` lines, with the
/// offset from UTC, so a transcript says which local time its lines are in.
const DATE_TIME_ZONE: &str = "%Y-%m-%d %H:%M:%S %:z";

/// Where the lines the person sees are appended, if anywhere. A write that fails stops
/// it for good (the caller shows the notice [`Transcript::record`] returns, once);
/// dropping it writes the `--- log closed` line.
#[derive(Debug)]
pub struct Transcript<W: Write = File> {
    /// `None` with no `--log`, or once a write failed.
    out: Option<W>,
    /// The file as the notice names it (terminal-safe).
    name: String,
}

impl Transcript<File> {
    /// Opens `path` to append to (created if missing; on Unix readable by its owner
    /// only, as irssi's logs: private messages end up there) and writes the
    /// `--- log opened` line.
    pub fn open(path: &Path) -> io::Result<Transcript> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Transcript::start(file, &path.display().to_string(), Local::now())
    }
}

impl<W: Write> Transcript<W> {
    /// No transcript: records nothing.
    pub fn off() -> Transcript<W> {
        Transcript {
            out: None,
            name: String::new(),
        }
    }

    /// A transcript written to `out`, called `name` in the notice if it fails; writes
    /// the `--- log opened` line, and fails if that cannot be written.
    pub fn start(mut out: W, name: &str, now: DateTime<Local>) -> io::Result<Transcript<W>> {
        let opened = format!("--- log opened {}\n", now.format(DATE_TIME_ZONE));
        out.write_all(opened.as_bytes())?;
        out.flush()?;
        Ok(Transcript {
            out: Some(out),
            name: proto::terminal_safe(name).into_owned(),
        })
    }

    /// Appends each line `actions` show (up to the session's end), `now` for a line
    /// shown now, when it was said for one from before we joined (if the server said;
    /// `now` if not), both marked [`EARLIER`]. If a write fails, the transcript stops
    /// and this returns the notice that says so, to be shown.
    pub fn record(&mut self, actions: &[Action], now: DateTime<Local>) -> Option<Action> {
        for action in actions {
            let stopped = match action {
                Action::Show { text, .. } => self.line(now, None, text),
                Action::ShowEarlier { text, age } => {
                    let said_at = age
                        .and_then(|age| chrono::Duration::from_std(age).ok())
                        .and_then(|age| now.checked_sub_signed(age))
                        .unwrap_or(now);
                    self.line(said_at, Some(EARLIER), text)
                }
                Action::End(_) => break,
                Action::Send(_) => None,
            };
            if stopped.is_some() {
                return stopped;
            }
        }
        None
    }

    /// Writes the `--- log closed` line and ends the transcript.
    pub fn close(mut self, now: DateTime<Local>) {
        self.finish(now);
    }

    /// Appends `2026-12-05 14:03:07 [mark ]text`, the text as safe as on a terminal.
    fn line(&mut self, at: DateTime<Local>, mark: Option<&str>, text: &str) -> Option<Action> {
        // Stopped or off: not even formatted.
        self.out.as_ref()?;
        let mark = mark.map_or(String::new(), |mark| format!("{mark} "));
        let text = proto::terminal_safe(text);
        self.write(&format!("{} {mark}{text}\n", at.format(DATE_TIME)))
    }

    /// Writes one whole line and flushes it; on failure, stops and returns the notice.
    fn write(&mut self, line: &str) -> Option<Action> {
        let out = self.out.as_mut()?;
        let error = out
            .write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .err()?;
        self.out = None;
        Some(Action::notice(ClientNotice::LogStopped {
            path: &self.name,
            error: &cli::plain_error(&error),
        }))
    }

    /// The `--- log closed` line, if the transcript is still going.
    fn finish(&mut self, now: DateTime<Local>) {
        if let Some(mut out) = self.out.take() {
            let closed = format!("--- log closed {}\n", now.format(DATE_TIME_ZONE));
            let _ = out.write_all(closed.as_bytes()).and_then(|()| out.flush());
        }
    }
}

impl<W: Write> Drop for Transcript<W> {
    fn drop(&mut self) {
        self.finish(Local::now());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::client::Outcome;

    /// 2026-12-05 14:03:07 here (no time zone changes its clocks in December's middle).
    fn at(secs_later: u32) -> DateTime<Local> {
        Local
            .with_ymd_and_hms(2026, 12, 5, 14, 3, 7)
            .single()
            .expect("a plain local time")
            + chrono::Duration::seconds(i64::from(secs_later))
    }

    fn show(text: &str) -> Action {
        Action::Show {
            text: text.to_string(),
            bell: true,
        }
    }

    fn zone() -> String {
        at(0).format("%:z").to_string()
    }

    #[test]
    fn each_line_shown_is_appended_after_its_full_date_and_time() {
        let mut written = Vec::new();
        let mut transcript = Transcript::start(&mut written, "chat.log", at(0)).unwrap();
        let actions = [
            show("* you joined as 127.0.0.1:5000 (1 here)"),
            Action::Send(b"@im@".to_vec()),
            show("alice hi"),
            show("-!- back in the room"),
        ];
        assert!(transcript.record(&actions, at(1)).is_none());
        transcript.close(at(2));
        let zone = zone();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            format!(
                "--- log opened 2026-12-05 14:03:07 {zone}\n\
                 2026-12-05 14:03:08 * you joined as 127.0.0.1:5000 (1 here)\n\
                 2026-12-05 14:03:08 alice hi\n\
                 2026-12-05 14:03:08 -!- back in the room\n\
                 --- log closed 2026-12-05 14:03:09 {zone}\n"
            )
        );
    }

    #[test]
    fn a_line_from_before_we_joined_is_marked_and_dated_when_it_was_said() {
        let mut written = Vec::new();
        let mut transcript = Transcript::start(&mut written, "chat.log", at(0)).unwrap();
        let actions = [
            Action::ShowEarlier {
                text: "bob said this a minute ago".to_string(),
                age: Some(Duration::from_secs(65)),
            },
            Action::ShowEarlier {
                text: "bob said this at some time".to_string(),
                age: None,
            },
        ];
        assert!(transcript.record(&actions, at(120)).is_none());
        drop(transcript);
        let text = String::from_utf8(written).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "2026-12-05 14:04:02 earlier: bob said this a minute ago"
        );
        assert_eq!(
            lines[2],
            "2026-12-05 14:05:07 earlier: bob said this at some time"
        );
        // Dropped, it says it closed, with the time it closed (the clock's).
        assert!(lines[3].starts_with("--- log closed "), "{text}");
        assert_eq!(lines.len(), 4, "{text}");
    }

    #[test]
    fn no_escape_or_control_character_reaches_the_transcript() {
        let mut written = Vec::new();
        let mut transcript = Transcript::start(&mut written, "chat.log", at(0)).unwrap();
        let actions = [show(
            "alice \u{1b}[31mred\u{1b}[0m\u{7} and\r\nmore\u{202e}",
        )];
        assert!(transcript.record(&actions, at(0)).is_none());
        transcript.close(at(0));
        let text = String::from_utf8(written).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some("2026-12-05 14:03:07 alice red and more")
        );
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }

    #[test]
    fn lines_after_the_end_are_not_recorded() {
        let mut written = Vec::new();
        let mut transcript = Transcript::start(&mut written, "chat.log", at(0)).unwrap();
        let actions = [
            show("shown"),
            Action::End(Outcome::Quit),
            show("never shown"),
        ];
        assert!(transcript.record(&actions, at(0)).is_none());
        transcript.close(at(0));
        let text = String::from_utf8(written).unwrap();
        assert!(
            text.contains(" shown\n") && !text.contains("never"),
            "{text}"
        );
    }

    /// Takes `room` bytes, then fails every write as a full disk does.
    #[derive(Debug)]
    struct FullDisk {
        written: Vec<u8>,
        room: usize,
        attempts: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.attempts += 1;
            let n = buf.len().min(self.room - self.written.len());
            if n == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC on Linux.
            }
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_stops_the_transcript_and_says_so_once() {
        let mut disk = FullDisk {
            written: Vec::new(),
            room: 100,
            attempts: 0,
        };
        let mut transcript = Transcript::start(&mut disk, "/tmp/chat\u{1b}[2J.log", at(0))
            .expect("the first line fits");
        let long = "x".repeat(80);
        let told = transcript.record(&[show(&long), show("after")], at(0));
        let Some(Action::Show { text, bell: false }) = told else {
            panic!("one notice, not a bell: {told:?}");
        };
        assert!(text.starts_with("-!- the log stopped: cannot write /tmp/chat.log: "));
        assert!(text.ends_with("; the chat goes on without it"), "{text}");
        assert!(!text.contains("os error"), "{text}");
        // Nothing more is told, nor tried: not `after`, `later` or the closing line.
        assert!(transcript.record(&[show("later")], at(1)).is_none());
        transcript.close(at(2));
        // The opening line, then part of the long one and the write that failed.
        assert_eq!(disk.attempts, 3);
        assert_eq!(disk.written.len(), 100);
    }

    #[test]
    fn an_unwritable_start_is_an_error_for_the_caller() {
        let disk = FullDisk {
            written: Vec::new(),
            room: 0,
            attempts: 0,
        };
        assert!(Transcript::start(disk, "chat.log", at(0)).is_err());
    }

    /// A path for this test in the target directory, removed first.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!("transcript-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn a_file_is_created_then_appended_to() {
        let path = scratch("appended.log");
        for word in ["first", "second"] {
            let mut transcript = Transcript::open(&path).unwrap();
            assert!(transcript.record(&[show(word)], at(0)).is_none());
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let kinds: Vec<&str> = text
            .lines()
            .map(|line| line.split(' ').take(3).last().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            ["opened", "first", "closed", "opened", "second", "closed"],
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}: readable by its owner only");
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_an_error() {
        let dir = scratch("a-directory");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Transcript::open(&dir).is_err());
        let _ = std::fs::remove_dir(&dir);
    }
}
