//! What our client sends, in order and paced: typed lines wait here and go out no
//! faster than the room's rate limit (its welcome says what it is), so a paste of thirty
//! lines reaches the room whole. Lines sent are remembered until the room relays them
//! back, so the ones it dropped can be sent again and the ones never relayed are named.
//!
//! In a session, what was sent is also numbered ([`Typed`]) and sent again until the
//! server says it took that number. One rule confirms a line, in a session or not: the
//! room relaying it back ([`Outgoing::confirm`]); being taken only stops the resending.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::proto::frame::{self, Token};
use crate::proto::{self, Chat, Command, RateLimit};

use super::{RESEND_TYPED_AFTER, RESEND_TYPED_TIMES};

/// The limit assumed until the room's welcome tells its own: our server's default.
pub const DEFAULT_LIMIT: RateLimit = RateLimit {
    per_sec: 5.0,
    burst: 10,
};
/// How long a line sent may go without the room relaying it before it is named as not
/// confirmed.
pub const UNCONFIRMED_AFTER: Duration = Duration::from_secs(3);
/// The same in a session, where a line lost on the way is sent again under its number
/// for a while first (see `session::RESEND_TYPED_TIMES`).
pub const UNCONFIRMED_IN_SESSION: Duration = Duration::from_secs(10);
/// How many times a dropped line is sent again at most.
const MAX_RESENDS: u32 = 3;
/// How long the client waits for the room's welcome (which tells its limit) before it
/// sends at the default pace: a classic server sends no welcome.
pub const WELCOME_WAIT: Duration = Duration::from_secs(1);
/// The share of the room's rate the client uses: a margin for clocks and timing.
const RATE_MARGIN: f64 = 0.9;
/// The most lines remembered as sent and not yet relayed back.
const MAX_AWAITED: usize = 256;

/// The most typed lines awaiting the server's answer.
const TYPED_UNACKED_MAX: usize = 256;

/// The lines we typed in our session: each numbered, and sent again every
/// [`RESEND_TYPED_AFTER`] (at most [`RESEND_TYPED_TIMES`] times) until an answer from
/// the server says it took that number. The server takes each number once, in order.
#[derive(Debug, Default)]
pub(super) struct Typed {
    /// The last number given.
    last: u64,
    /// Frames sent and not yet taken: number, bytes, when last sent, times sent again.
    unacked: VecDeque<(u64, Vec<u8>, Instant, u32)>,
}

/// Lines waiting to be sent, and lines sent awaiting the room's echo.
#[derive(Debug)]
pub struct Outgoing {
    waiting: VecDeque<Piece>,
    awaited: VecDeque<Awaited>,
    limit: Option<RateLimit>,
    tokens: f64,
    updated: Instant,
    /// Nothing goes out before this, unless the room's welcome comes first.
    held_until: Option<Instant>,
    /// How long a line sent may wait for its echo before it is named.
    patience: Duration,
}

/// A message to send, and how many times it was sent already.
#[derive(Debug, Clone)]
struct Piece {
    text: String,
    resends: u32,
}

/// A message sent whose echo the room should relay back to us.
#[derive(Debug)]
struct Awaited {
    piece: Piece,
    /// The echo without our label: chat text as relayed, or a `/me` action.
    echo: Echo,
    sent_at: Instant,
}

#[derive(Debug, PartialEq, Eq)]
enum Echo {
    /// Relayed as `<label> <text>`.
    Chat(String),
    /// Relayed as `* <label> <action>`.
    Action(String),
    /// A command whose answer we do not match.
    None,
}

impl Outgoing {
    /// Nothing waiting, the default limit with its burst available.
    pub fn new(now: Instant) -> Outgoing {
        Outgoing {
            waiting: VecDeque::new(),
            awaited: VecDeque::new(),
            limit: Some(DEFAULT_LIMIT),
            tokens: capacity(DEFAULT_LIMIT),
            updated: now,
            held_until: Some(now + WELCOME_WAIT),
            patience: UNCONFIRMED_AFTER,
        }
    }

    /// How long a line sent may wait for its echo before it is named: longer in a
    /// session, where lost lines are sent again.
    pub fn set_patience(&mut self, patience: Duration) {
        self.patience = patience;
    }

    /// Queues a message (already split to the message limit) after those waiting.
    pub fn push(&mut self, text: String) {
        self.waiting.push_back(Piece { text, resends: 0 });
    }

    /// Queues a message before those waiting (a `/nick` the name keeper needs).
    pub fn push_front(&mut self, text: String) {
        self.waiting.push_front(Piece { text, resends: 0 });
    }

    /// Takes the room's limit from its welcome (`None`: no limit). A welcome means a
    /// fresh allowance on the server's side too.
    pub fn set_limit(&mut self, limit: Option<RateLimit>, now: Instant) {
        self.held_until = None;
        self.limit = limit;
        self.tokens = limit.map_or(0.0, capacity);
        self.updated = now;
    }

    /// The next message to send now, if one waits and the pace allows; it is remembered
    /// until its echo comes if `echoed` (we know how the room shows us, so an echo can
    /// be recognised).
    pub fn take_due(&mut self, now: Instant, echoed: bool) -> Option<String> {
        self.waiting.front()?;
        match self.held_until {
            Some(until) if now < until => return None,
            Some(_) => self.held_until = None,
            None => {}
        }
        if let Some(limit) = self.limit {
            self.refill(limit, now);
            // A hair of tolerance, so the instant `next_due` names is always enough.
            if self.tokens < 1.0 - 1e-6 {
                return None;
            }
            self.tokens -= 1.0;
        }
        let piece = self.waiting.pop_front()?;
        let text = piece.text.clone();
        let echo = echo_of(&piece.text);
        if echoed && echo != Echo::None {
            if self.awaited.len() >= MAX_AWAITED {
                self.awaited.pop_front();
            }
            self.awaited.push_back(Awaited {
                piece,
                echo,
                sent_at: now,
            });
        }
        Some(text)
    }

    /// When the next waiting message may go, if one waits.
    pub fn next_due(&self) -> Option<Instant> {
        self.waiting.front()?;
        let paced = match self.limit {
            None => self.updated,
            Some(limit) => {
                let missing = (1.0 - self.tokens).max(0.0);
                let rate = limit.per_sec * RATE_MARGIN;
                let wait = Duration::from_secs_f64(missing / rate.max(1e-3));
                self.updated + wait + Duration::from_micros(1)
            }
        };
        Some(self.held_until.map_or(paced, |until| until.max(paced)))
    }

    /// How many messages wait to be sent.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Whether `line` from the room is the echo of a message we sent, shown as `label`;
    /// if so it is confirmed. Echoes come in the order sent, others' lines between them.
    pub fn confirm(&mut self, line: &str, label: &str) -> bool {
        let matches = |echo: &Echo| match echo {
            Echo::Chat(text) => line
                .strip_prefix(label)
                .and_then(|rest| rest.strip_prefix(' '))
                .is_some_and(|rest| rest == text),
            Echo::Action(action) => line
                .strip_prefix(proto::NOTICE_PREFIX)
                .and_then(|rest| rest.strip_prefix(label))
                .and_then(|rest| rest.strip_prefix(' '))
                .is_some_and(|rest| rest == action),
            Echo::None => false,
        };
        match self.awaited.iter().position(|a| matches(&a.echo)) {
            Some(at) => {
                self.awaited.remove(at);
                true
            }
            None => false,
        }
    }

    /// The room dropped `n` of our messages for our rate: the oldest `n` not yet
    /// relayed go back to the front of the queue, in order (a message is sent again at
    /// most a few times), and the pace starts over from nothing.
    /// Returns the messages given up on (sent [`MAX_RESENDS`] times already).
    pub fn resend_dropped(&mut self, n: u64, now: Instant) -> Vec<String> {
        let n = usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(self.awaited.len());
        let dropped: Vec<Awaited> = self.awaited.drain(..n).collect();
        let mut given_up = Vec::new();
        for awaited in dropped.into_iter().rev() {
            let mut piece = awaited.piece;
            if piece.resends < MAX_RESENDS {
                piece.resends += 1;
                self.waiting.push_front(piece);
            } else {
                given_up.push(piece.text);
            }
        }
        given_up.reverse();
        self.tokens = 0.0;
        self.updated = now;
        given_up
    }

    /// How many messages sent await the room's echo.
    pub fn unconfirmed(&self) -> usize {
        self.awaited.len()
    }

    /// Empties the queue, for the end: the messages never sent, and those sent and
    /// not relayed back.
    pub fn drain(&mut self) -> (Vec<String>, Vec<String>) {
        let waiting = self.waiting.drain(..).map(|p| p.text).collect();
        let awaited = self.awaited.drain(..).map(|a| a.piece.text).collect();
        (waiting, awaited)
    }

    /// Whether every message sent has been relayed back (or given up on).
    pub fn all_confirmed(&self) -> bool {
        self.awaited.is_empty()
    }

    /// The server went away: messages not relayed back may never have arrived, so they
    /// go back to the front of the queue, in order, to be sent when it is back.
    pub fn resend_unconfirmed(&mut self) {
        for awaited in self.awaited.drain(..).rev() {
            self.waiting.push_front(awaited.piece);
        }
    }

    /// Messages sent longer than [`UNCONFIRMED_AFTER`] ago that the room never relayed:
    /// forgotten, and returned to be named.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut expired = Vec::new();
        while let Some(front) = self.awaited.front() {
            if now.saturating_duration_since(front.sent_at) < self.patience {
                break;
            }
            if let Some(awaited) = self.awaited.pop_front() {
                expired.push(awaited.piece.text);
            }
        }
        expired
    }

    /// When the oldest message awaiting its echo expires, if any awaits.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.awaited.front().map(|a| a.sent_at + self.patience)
    }

    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_sec * RATE_MARGIN).min(capacity(limit));
        self.updated = self.updated.max(now);
    }
}

impl Typed {
    /// Numbers `body` and returns its frame, kept until taken.
    pub(super) fn send(&mut self, token: Token, body: &[u8], now: Instant) -> Vec<u8> {
        self.last += 1;
        let frame = frame::typed(token, self.last, body);
        if self.unacked.len() == TYPED_UNACKED_MAX {
            self.unacked.pop_front();
        }
        self.unacked.push_back((self.last, frame.clone(), now, 0));
        frame
    }

    /// The server took every number up to `received`.
    pub(super) fn taken(&mut self, received: u64) {
        self.unacked.retain(|&(seq, ..)| seq > received);
    }

    /// The frames due to be sent again at `now`.
    pub(super) fn due(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut again = Vec::new();
        self.unacked.retain_mut(|(_, frame, sent_at, times)| {
            if now < *sent_at + RESEND_TYPED_AFTER {
                return true;
            }
            if *times >= RESEND_TYPED_TIMES {
                return false;
            }
            *times += 1;
            *sent_at = now;
            again.push(frame.clone());
            true
        });
        again
    }

    /// When the next frame is due to be sent again, if any waits.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.unacked
            .iter()
            .map(|&(_, _, sent_at, _)| sent_at + RESEND_TYPED_AFTER)
            .min()
    }
}

/// The burst the client allows itself: one less than the room's, for the margin.
fn capacity(limit: RateLimit) -> f64 {
    f64::from(limit.burst.saturating_sub(1).max(1))
}

/// What the room relays back to the sender for `text`, as the server reads it.
fn echo_of(text: &str) -> Echo {
    let safe = proto::terminal_safe(text);
    match proto::parse_chat(&safe) {
        Chat::Text("") => Echo::None,
        Chat::Text(text) => Echo::Chat(text.to_string()),
        Chat::Command(Command::Me(action)) if !action.is_empty() => {
            Echo::Action(action.to_string())
        }
        Chat::Command(_) => Echo::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut Outgoing, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| out.take_due(now, true)).collect()
    }

    #[test]
    fn a_paste_goes_out_in_order_at_the_rooms_pace() {
        let t = Instant::now();
        let mut out = Outgoing::new(t);
        out.set_limit(Some(DEFAULT_LIMIT), t);
        out.set_limit(
            Some(RateLimit {
                per_sec: 5.0,
                burst: 10,
            }),
            t,
        );
        for i in 0..30 {
            out.push(format!("line {i}"));
        }
        let mut sent = drain(&mut out, t);
        assert_eq!(sent.len(), 9, "the burst less one");
        assert_eq!(out.waiting(), 21);
        let mut now = t;
        for _ in 0..1000 {
            if out.waiting() == 0 {
                break;
            }
            now = out.next_due().expect("a time for the next");
            sent.extend(drain(&mut out, now));
        }
        let want: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
        assert_eq!(sent, want);
        // 21 more at 4.5 a second: a little under five seconds.
        let took = (now - t).as_secs_f64();
        assert!((4.4..5.0).contains(&took), "{took}");
    }

    #[test]
    fn without_a_limit_everything_goes_at_once() {
        let t = Instant::now();
        let mut out = Outgoing::new(t);
        out.set_limit(None, t);
        for i in 0..100 {
            out.push(format!("{i}"));
        }
        assert_eq!(drain(&mut out, t).len(), 100);
    }

    #[test]
    fn nothing_goes_before_the_welcome_or_a_second() {
        let t = Instant::now();
        let mut out = Outgoing::new(t);
        out.push("early".into());
        assert_eq!(out.take_due(t, true), None);
        assert_eq!(out.next_due(), Some(t + WELCOME_WAIT));
        assert_eq!(
            out.take_due(t + WELCOME_WAIT, true).as_deref(),
            Some("early"),
            "a classic server"
        );
        // Past the wait, the pace alone decides when the next goes: no busy loop.
        for i in 0..20 {
            out.push(format!("{i}"));
        }
        while out.take_due(t + WELCOME_WAIT, true).is_some() {}
        assert!(out.next_due().expect("more wait") > t + WELCOME_WAIT);
        let mut out = Outgoing::new(t);
        out.push("early".into());
        out.set_limit(None, t);
        assert_eq!(out.take_due(t, true).as_deref(), Some("early"), "welcomed");
    }

    #[test]
    fn echoes_confirm_and_the_dropped_are_sent_again_in_order() {
        let t = Instant::now();
        let mut out = Outgoing::new(t);
        out.set_limit(Some(DEFAULT_LIMIT), t);
        for text in ["one", "//two", "/me waves", "/who", "three"] {
            out.push(text.to_string());
        }
        assert_eq!(drain(&mut out, t).len(), 5);
        assert!(out.confirm("alice one", "alice"));
        assert!(!out.confirm("bob one", "alice"), "someone else's line");
        assert!(out.confirm("* alice waves", "alice"));
        // "/two" and "three" were dropped; the room says so.
        out.resend_dropped(2, t);
        assert_eq!(out.waiting(), 2);
        let later = out.next_due().expect("due later");
        assert!(later > t, "the pace starts over");
        assert_eq!(
            drain(&mut out, later + Duration::from_secs(1)),
            ["//two", "three"]
        );
        assert!(out.confirm("alice /two", "alice"), "relayed with one slash");
        assert!(out.expire(t + Duration::from_secs(1)).is_empty());
        assert_eq!(
            out.expire(later + Duration::from_secs(1) + UNCONFIRMED_AFTER),
            ["three"]
        );
    }
}
