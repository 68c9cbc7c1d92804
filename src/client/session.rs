//! The client as a state machine without I/O: what the user typed, what the server
//! sent and the passing of time go in; datagrams to send, lines to show and the end of
//! the session come out. The threads around it (in `client`) only move bytes.
//!
//! Its first datagram, and its heartbeat until it has a session, is `@IM@`: a classic
//! server takes it as a heartbeat; ours answers with a cookie, which the session echoes
//! with a token it chose. From the server's first frame with that token on, every
//! datagram both ways carries it, and nothing without it is acted on (see
//! [`proto::frame`]).

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use super::inbound::{InOrder, Inbound};
use super::outgoing::{Outgoing, UNCONFIRMED_AFTER, UNCONFIRMED_IN_SESSION};
use super::split::split_typed_line;
use crate::proto::frame::{self, Cookie, Framed, Token, TOKEN_LEN};
use crate::proto::{self, name, Notice, Reply};

/// How long a `/nick` may go unanswered before it counts as lost.
pub const NICK_ANSWER_WAIT: Duration = Duration::from_secs(2);
/// How much shorter than the configured one a heartbeat interval may be, at random:
/// clients that joined together (after a restart of the server, say) drift apart
/// instead of bursting at the server together for ever. Never longer, so two intervals
/// stay within the server's timeout (twice the interval by default), and one lost
/// heartbeat never gets a client evicted.
pub const HEARTBEAT_JITTER: f64 = 0.2;
/// The least time between two lines telling how many received lines were dropped.
pub const DROPS_TOLD_EVERY: Duration = Duration::from_secs(1);
/// The first wait before trying the server again once it went away; it doubles up to
/// [`RECONNECT_MAX`], each wait shortened by up to [`HEARTBEAT_JITTER`] at random.
pub const RECONNECT_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
pub const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// How often a hello is sent again while a server that speaks sessions has not opened
/// ours yet (a cookie or an echo was lost).
pub const HANDSHAKE_RETRY: Duration = Duration::from_secs(1);
/// How long typed lines wait, after a cookie, for the session it should open, before
/// they go as to a classic server. Against a server that never opened one with us, a
/// cookie is answered for at most [`MAX_FAILED_HANDSHAKES`] such waits: cookies forged
/// from a classic server's address cannot hold our lines for ever.
pub const HANDSHAKE_WAIT: Duration = Duration::from_secs(3);
/// See [`HANDSHAKE_WAIT`].
pub const MAX_FAILED_HANDSHAKES: u32 = 3;
/// The longest wait between heartbeats sent again while one goes unanswered.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a line we typed in a session may go without the server saying it took it
/// before it is sent again.
pub const RESEND_TYPED_AFTER: Duration = Duration::from_millis(300);
/// The most times a typed line is sent again for want of the server's answer; after
/// that, the room not relaying it names it (see `outgoing::UNCONFIRMED_IN_SESSION`).
pub const RESEND_TYPED_TIMES: u32 = 6;
/// The most typed lines awaiting the server's answer.
const TYPED_UNACKED_MAX: usize = 256;
/// The least time between two lines telling of datagrams ignored for want of our token.
pub const FORGED_TOLD_EVERY: Duration = Duration::from_secs(10);
/// How many cookies are echoed for each hello sent: a cookie cannot be told from a
/// forged one, so several are answered (the server's comes back within a round trip,
/// and a forger must land this many first to hide it), yet forged cookies cannot make
/// us a fountain of datagrams to the server.
const ECHOES_PER_HELLO: u32 = 4;
/// What the session says when the server goes away, and when it is back.
pub const AWAY_NOTICE: &str = "* server went away; trying again — Ctrl-D to leave";
/// See [`AWAY_NOTICE`].
pub const BACK_NOTICE: &str = "* back in the room";

/// What the session needs to know.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// Lines longer than this many bytes are sent as several messages.
    pub max_message_bytes: usize,
    /// A name to take with `/nick` right after joining, and again whenever the server
    /// forgets it.
    pub name: Option<String>,
    /// Ring the terminal bell on a private message, or a chat line mentioning our name.
    pub bell: bool,
    /// When the server goes away, keep trying it rather than end.
    pub reconnect: bool,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The user typed `quit` or closed the input.
    Quit,
    /// The server said it is going away, or its port is closed.
    ServerDown,
    /// The server's operator removed us from the room.
    Removed,
}

/// Something that happened, for the session to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A line the user typed, its line end trimmed.
    Typed(&'a str),
    /// The user's input ended.
    InputClosed,
    /// A datagram from the server.
    Datagram(&'a [u8]),
    /// Datagrams the receiving side had to drop, arriving faster than they were shown.
    Dropped(u64),
    /// Datagrams the receiving side dropped unseen, as the [`Gate`] judged them forged.
    Forged(u64),
    /// A send or a receive found the server's port closed.
    Refused,
    /// Ctrl-C, or Ctrl-D on an empty line: leave now, whatever waits.
    Interrupt,
}

/// What the session wants done, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this datagram to the server.
    Send(Vec<u8>),
    /// Show this line (already terminal-safe), after a bell if `bell`.
    Show { text: String, bell: bool },
    /// Show this line (already terminal-safe), said in the room before we joined it.
    ShowEarlier(String),
    /// The session is over; nothing after this is done.
    End(Outcome),
}

/// One client's conversation with the server.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    name: NameKeeper,
    /// Where the heartbeat's jitter comes from.
    random: Random,
    /// `None` when the interval is too long to add to a clock.
    next_heartbeat: Option<Instant>,
    /// Received lines dropped (arriving faster than shown) and not told of yet.
    n_dropped_untold: u64,
    /// When the next line about drops may be shown.
    next_drops_told: Instant,
    /// What we send, paced, and what awaits the room's echo.
    outgoing: Outgoing,
    /// How we are shown in the room: the welcome's label, or the name we took.
    label: Option<String>,
    /// Whether the server ever answered: only then is it worth waiting for it again.
    heard_from_server: bool,
    /// While the server is away: when to try it next, and the wait after that.
    away: Option<Away>,
    /// The input ended: leave once every line typed has been sent.
    closing: bool,
    ended: bool,
    /// Our session with the server, or the one we are opening.
    link: Link,
    /// The numbered lines of our session, put back in order.
    inbound: Inbound,
    /// What we typed in our session, numbered, until the server says it took it.
    typed: Typed,
    /// The token of the session before, if it was given up: the server may still send
    /// in it for a while, and that is no forgery.
    old_token: Option<Token>,
    /// Whether the server ever opened a session with us: from then on nothing goes to
    /// it outside a session, and nothing from it without our token is acted on.
    secured_once: bool,
    /// A cookie came, and our lines wait this long for the session it should open;
    /// past it, they go as to a classic server (a forged cookie must not mute us).
    handshake_until: Option<Instant>,
    /// Handshakes that came to nothing since our last session: past
    /// [`MAX_FAILED_HANDSHAKES`], cookies are no longer answered.
    failed_handshakes: u32,
    /// The first heartbeat of our session not answered yet: past two heartbeat
    /// intervals with no answer, the session is lost.
    unanswered_since: Option<Instant>,
    /// When an unanswered heartbeat is sent again.
    next_probe: Option<Instant>,
    /// Cookies that may still be echoed for the last hello sent.
    echoes_left: u32,
    /// Datagrams from the server's address without our token, not told of yet.
    n_forged_untold: u64,
    /// When the next line about them may be shown.
    next_forged_told: Instant,
}

/// Which datagrams from the server the session wants, as of its last step: one rule,
/// used by the session and by the receiving thread (which drops the rest before they
/// take a place in the queue, so forged datagrams cannot crowd out the room's lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    token: Token,
    secured: bool,
    secured_once: bool,
    old_token: Option<Token>,
}

/// What the [`Gate`] says of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// For the session to read.
    Pass,
    /// Of no use, and no forgery: a cookie for an older hello, a frame of the session
    /// given up.
    Ignore,
    /// Claims to be from the server, without our token: only a forger sends it.
    Forged,
}

/// The lines we typed in our session: each numbered, and sent again every
/// [`RESEND_TYPED_AFTER`] (at most [`RESEND_TYPED_TIMES`] times) until an answer from
/// the server says it took that number. The server takes each number once, in order.
#[derive(Debug, Default)]
struct Typed {
    /// The last number given.
    last: u64,
    /// Frames sent and not yet taken: number, bytes, when last sent, times sent again.
    unacked: VecDeque<(u64, Vec<u8>, Instant, u32)>,
}

/// The session's tie to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No session: our heartbeat is a hello, and what we send goes bare (a classic
    /// server needs it so). A cookie is echoed with this token.
    Opening(Token),
    /// The server opened our session: every datagram carries the token.
    Secured(Token),
}

/// The server went away: the session tries it again now and then.
#[derive(Debug, Clone, Copy)]
struct Away {
    next_try: Instant,
    backoff: Duration,
}

/// A small random number generator (xorshift64*), seeded by the caller: the session
/// reads no entropy itself, so tests can replay it. Made with [`Random::from_entropy`],
/// its tokens also go through std's randomly keyed hasher, so no one can work them out
/// from the jitter of our heartbeats.
#[derive(Debug, Clone)]
pub struct Random {
    state: u64,
    keys: Option<RandomState>,
}

/// Keeps our name in the room: learns it from the server's confirmations, and asks for
/// it again when the server welcomes us as a newcomer (after an eviction, a restart of
/// the server, or a start in a full room).
#[derive(Debug)]
struct NameKeeper {
    /// The name we want: `--name`, or the last one the server confirmed.
    wanted: Option<String>,
    /// Our name as the server knows it now.
    confirmed: Option<String>,
    /// When a `/nick` went out that is not answered yet. After [`NICK_ANSWER_WAIT`] it
    /// counts as lost (UDP), and the next welcome asks again.
    pending_since: Option<Instant>,
}

impl Session {
    /// A session whose first heartbeat went out `now` (it found the server); its first
    /// actions (taking the name) go into `actions`. `random` jitters its heartbeats.
    pub fn start(
        config: SessionConfig,
        random: Random,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> Session {
        // The name is asked for on the welcome: a classic server sends none, and would
        // relay a `/nick` to everyone as chat.
        let name = NameKeeper::new(config.name.clone());
        let outgoing = Outgoing::new(now);
        let mut random = random;
        let link = Link::Opening(random.token());
        let mut session = Session {
            next_heartbeat: None,
            config,
            name,
            random,
            n_dropped_untold: 0,
            next_drops_told: now,
            outgoing,
            label: None,
            heard_from_server: false,
            away: None,
            closing: false,
            ended: false,
            link,
            inbound: Inbound::new(),
            typed: Typed::default(),
            old_token: None,
            secured_once: false,
            handshake_until: None,
            failed_handshakes: 0,
            unanswered_since: None,
            next_probe: None,
            // The hello that found the server went out as the session started.
            echoes_left: ECHOES_PER_HELLO,
            n_forged_untold: 0,
            next_forged_told: now,
        };
        session.next_heartbeat = session.after_heartbeat_interval(now);
        session.pump(now, actions);
        session
    }

    /// Acts on `input`.
    pub fn handle(&mut self, input: Input<'_>, now: Instant, actions: &mut Vec<Action>) {
        if self.ended {
            return;
        }
        self.expire_handshake(now);
        match input {
            // What was typed before `quit` is sent first, as piped input would expect.
            Input::Typed(line) if is_quit(line) && self.away.is_none() => self.closing = true,
            Input::Typed(line) if is_quit(line) => self.leave(now, actions),
            Input::Interrupt => self.leave(now, actions),
            Input::Typed(line) if line.trim().is_empty() => {}
            Input::Typed(line) => {
                for piece in split_typed_line(line, self.config.max_message_bytes) {
                    self.outgoing.push(piece);
                }
            }
            // Lines piped in are all sent before leaving, unless no one is there.
            Input::InputClosed if self.away.is_some() => self.leave(now, actions),
            Input::InputClosed => self.closing = true,
            Input::Datagram(datagram) => self.receive(datagram, now, actions),
            Input::Dropped(n) => {
                self.n_dropped_untold += n;
                self.tell_drops(now, actions);
            }
            Input::Forged(n) => self.ignore_forged(n, now, actions),
            Input::Refused => self.lost_server(now, actions),
        }
        self.pump(now, actions);
    }

    /// Does what is due at `now`: the heartbeat or the next try of an absent server,
    /// paced messages, telling of drops and of messages the room never relayed.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.ended {
            return;
        }
        self.tell_drops(now, actions);
        self.tell_forged(now, actions);
        self.expire_handshake(now);
        match self.away {
            Some(away) if now >= away.next_try => {
                actions.push(self.heartbeat());
                let backoff = (away.backoff * 2).min(RECONNECT_MAX);
                self.away = Some(Away {
                    next_try: now + self.jittered(away.backoff),
                    backoff,
                });
            }
            Some(_) => {}
            None => {
                if self.check_session(now, actions) {
                    return;
                }
                let probe_due = self.next_probe.is_some_and(|due| now >= due);
                if self.next_heartbeat.is_some_and(|due| now >= due) || probe_due {
                    actions.push(self.heartbeat());
                    self.after_heartbeat(now);
                }
                for text in self.outgoing.expire(now) {
                    actions.push(Action::Show {
                        text: format!("* not relayed by the room: {text}"),
                        bell: false,
                    });
                }
                self.settle_inbound(now, actions);
                for frame in self.typed.due(now) {
                    actions.push(Action::Send(frame));
                }
            }
        }
        self.pump(now, actions);
    }

    /// How many typed messages wait to be sent.
    pub fn waiting(&self) -> usize {
        self.outgoing.waiting()
    }

    /// Whether the server is away and being tried again.
    pub fn is_away(&self) -> bool {
        self.away.is_some()
    }

    /// Sends what the pace allows, unless the server is away, or speaks sessions and
    /// has not opened ours yet.
    fn pump(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.ended || self.away.is_some() {
            return;
        }
        if !self.waiting_for_session() {
            let echoed = self.label.is_some();
            while let Some(text) = self.outgoing.take_due(now, echoed) {
                actions.push(self.send_typed(text.as_bytes(), now));
            }
        }
        // Piped input ends once everything typed was sent and relayed back (or
        // named as not relayed), so its echoes are shown before the client leaves.
        if self.closing && self.outgoing.waiting() == 0 && self.outgoing.all_confirmed() {
            self.leave(now, actions);
        }
    }

    /// The server's port is closed, or it said goodbye: try it again, or end.
    fn lost_server(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.away.is_some() {
            return;
        }
        if !(self.config.reconnect && self.heard_from_server) || self.closing {
            return self.end(Outcome::ServerDown, now, actions);
        }
        self.reopen();
        self.outgoing.resend_unconfirmed();
        actions.push(Action::Show {
            text: AWAY_NOTICE.to_string(),
            bell: false,
        });
        self.away = Some(Away {
            next_try: now + self.jittered(RECONNECT_FIRST),
            backoff: RECONNECT_FIRST * 2,
        });
    }

    /// `interval` shortened by up to [`HEARTBEAT_JITTER`] at random.
    fn jittered(&mut self, interval: Duration) -> Duration {
        interval.mul_f64(1.0 - HEARTBEAT_JITTER * self.random.next_unit())
    }

    /// When the next heartbeat is due: the interval shortened by up to
    /// [`HEARTBEAT_JITTER`] at random, from `now`; `None` if that is beyond the clock.
    /// While a server that speaks sessions has not opened ours, a hello goes at least
    /// every [`HANDSHAKE_RETRY`].
    fn after_heartbeat_interval(&mut self, now: Instant) -> Option<Instant> {
        let factor = 1.0 - HEARTBEAT_JITTER * self.random.next_unit();
        let interval = Duration::try_from_secs_f64(self.config.heartbeat.as_secs_f64() * factor);
        let due = now.checked_add(interval.ok()?);
        if self.waiting_for_session() {
            let retry = now + HANDSHAKE_RETRY;
            return Some(due.map_or(retry, |due| due.min(retry)));
        }
        due
    }

    /// The heartbeat: a hello until we have a session, then `@im@` in our frame.
    fn heartbeat(&mut self) -> Action {
        match self.link {
            Link::Opening(_) => {
                self.echoes_left = ECHOES_PER_HELLO;
                Action::Send(frame::HELLO.to_vec())
            }
            Link::Secured(_) => self.send(proto::HEARTBEAT),
        }
    }

    /// Schedules what follows a heartbeat sent `now`: the next one, and, in a session,
    /// a probe if this one goes unanswered.
    fn after_heartbeat(&mut self, now: Instant) {
        self.next_heartbeat = self.after_heartbeat_interval(now);
        if let Link::Secured(_) = self.link {
            self.unanswered_since.get_or_insert(now);
            let probe = (self.config.heartbeat / 5).min(PROBE_EVERY);
            self.next_probe = now.checked_add(probe);
        }
    }

    /// Whether our session went unanswered for two heartbeat intervals: then it is
    /// lost (the server restarted, or forgot us), as if the server went away.
    fn check_session(&mut self, now: Instant, actions: &mut Vec<Action>) -> bool {
        let Some(since) = self.unanswered_since else {
            return false;
        };
        let lost_after = self.config.heartbeat.saturating_mul(2);
        if now.saturating_duration_since(since) < lost_after {
            return false;
        }
        self.lost_server(now, actions);
        true
    }

    /// Whether a session is due and not open yet: lines wait for it.
    fn waiting_for_session(&self) -> bool {
        matches!(self.link, Link::Opening(_))
            && (self.secured_once || self.handshake_until.is_some())
    }

    /// Gives up waiting for a session a cookie promised, once its time is over.
    fn expire_handshake(&mut self, now: Instant) {
        if self.handshake_until.is_some_and(|until| now >= until) {
            self.handshake_until = None;
            self.failed_handshakes += 1;
        }
    }

    /// Gives up our session (the server went away, or has no place for us): the next
    /// one is opened with a new token.
    fn reopen(&mut self) {
        if let Link::Secured(token) = self.link {
            self.old_token = Some(token);
        }
        self.link = Link::Opening(self.random.token());
        self.unanswered_since = None;
        self.next_probe = None;
        // The next session numbers what we type from 1 again; what was not taken is
        // sent again from the queue (see `Outgoing::resend_unconfirmed`).
        self.typed = Typed::default();
        self.outgoing.set_patience(UNCONFIRMED_AFTER);
    }

    /// A line we typed, for the server: numbered in our session's frame, and sent
    /// again until the server says it took it; bare to a classic server.
    fn send_typed(&mut self, body: &[u8], now: Instant) -> Action {
        match self.link {
            Link::Secured(token) => Action::Send(self.typed.send(token, body, now)),
            Link::Opening(_) => Action::Send(body.to_vec()),
        }
    }

    /// `body` as a datagram for the server: in our session's frame, if we have one.
    fn send(&self, body: &[u8]) -> Action {
        match self.link {
            Link::Secured(token) => Action::Send(frame::session(token, body)),
            Link::Opening(_) => Action::Send(body.to_vec()),
        }
    }

    /// When [`Session::handle_timeout`] next has something to do, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let drops = (self.n_dropped_untold > 0).then_some(self.next_drops_told);
        let forged = (self.n_forged_untold > 0).then_some(self.next_forged_told);
        let session_lost = self
            .unanswered_since
            .and_then(|since| since.checked_add(self.config.heartbeat.saturating_mul(2)));
        let due = match self.away {
            Some(away) => [
                Some(away.next_try),
                drops,
                forged,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ],
            None => [
                self.next_heartbeat,
                drops,
                forged,
                // Lines wait for our session, not for a time, once the server speaks
                // sessions: no busy loop for them.
                self.outgoing
                    .next_due()
                    .filter(|_| !self.waiting_for_session()),
                self.outgoing.next_expiry(),
                self.next_probe,
                session_lost,
                self.handshake_until,
                self.inbound.next_deadline(),
                self.typed.next_due(),
            ],
        };
        due.into_iter().flatten().min()
    }

    /// Shows how many datagrams were ignored for want of our token: at once for the
    /// first, then at most every [`FORGED_TOLD_EVERY`]. Only a forger sends them.
    fn tell_forged(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.n_forged_untold == 0 || now < self.next_forged_told {
            return;
        }
        let n = std::mem::take(&mut self.n_forged_untold);
        let datagrams = if n == 1 { "datagram" } else { "datagrams" };
        actions.push(Action::Show {
            text: format!(
                "* ignored {n} {datagrams} claiming to be from the server without our \
                 session's token (forged?)"
            ),
            bell: false,
        });
        self.next_forged_told = now + FORGED_TOLD_EVERY;
    }

    /// Counts datagrams ignored for want of our token, and tells of them when due.
    fn ignore_forged(&mut self, n: u64, now: Instant, actions: &mut Vec<Action>) {
        self.n_forged_untold += n;
        self.tell_forged(now, actions);
    }

    /// A cookie from the server: it speaks sessions. Echoed with our token while we
    /// open a session; ignored once we have one (the answer to an older hello).
    fn on_cookie(&mut self, cookie: Cookie, now: Instant, actions: &mut Vec<Action>) {
        let Link::Opening(token) = self.link else {
            return;
        };
        if self.echoes_left == 0
            || (!self.secured_once && self.failed_handshakes >= MAX_FAILED_HANDSHAKES)
        {
            return;
        }
        self.echoes_left -= 1;
        if self.handshake_until.is_none() {
            self.handshake_until = Some(now + HANDSHAKE_WAIT);
            // Hellos go again soon if this echo is lost.
            self.next_heartbeat = self.after_heartbeat_interval(now);
        }
        let mut echo = Vec::with_capacity(frame::ECHO_FRAME);
        frame::write_echo(&mut echo, cookie, token);
        actions.push(Action::Send(echo));
    }

    /// Shows how many received lines were dropped, at once for the first drops, then at
    /// most every [`DROPS_TOLD_EVERY`], and always before the session ends.
    fn tell_drops(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.n_dropped_untold == 0 || (now < self.next_drops_told && !self.ended) {
            return;
        }
        let n = std::mem::take(&mut self.n_dropped_untold);
        let lines = if n == 1 { "line" } else { "lines" };
        actions.push(Action::Show {
            text: format!("* {n} {lines} dropped here: they came faster than they could be shown"),
            bell: false,
        });
        self.next_drops_told = now + DROPS_TOLD_EVERY;
    }

    /// Our name as the server last confirmed it.
    pub fn name(&self) -> Option<&str> {
        self.name.confirmed.as_deref()
    }

    fn leave(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.ended {
            return;
        }
        // Framed in our session, or in the one we lost track of: the server may still
        // hold it, and would take a bare `quit` from its address for a forgery.
        let quit = match (self.link, self.old_token) {
            (Link::Opening(_), Some(old)) => Action::Send(frame::session(old, proto::QUIT)),
            _ => self.send(proto::QUIT),
        };
        actions.push(quit);
        self.end(Outcome::Quit, now, actions);
    }

    fn end(&mut self, outcome: Outcome, now: Instant, actions: &mut Vec<Action>) {
        self.ended = true;
        self.tell_drops(now, actions);
        self.next_forged_told = now;
        self.tell_forged(now, actions);
        actions.push(Action::End(outcome));
    }

    /// Which datagrams the session wants now.
    pub fn gate(&self) -> Gate {
        Gate {
            token: self.link.token(),
            secured: matches!(self.link, Link::Secured(_)),
            secured_once: self.secured_once,
            old_token: self.old_token,
        }
    }

    fn receive(&mut self, datagram: &[u8], now: Instant, actions: &mut Vec<Action>) {
        match self.gate().judge(datagram) {
            Verdict::Pass => {}
            Verdict::Ignore => return,
            Verdict::Forged => return self.ignore_forged(1, now, actions),
        }
        match frame::read(datagram) {
            Framed::Cookie(cookie) => self.on_cookie(cookie, now, actions),
            // Unnumbered, in our frame: the goodbye, or the answer to an echo when the
            // room had no place for us. Neither opens the session; lines go as they
            // would (to be refused and named, not held), and the next hello tries again.
            Framed::Session { body, .. } => {
                if matches!(self.link, Link::Opening(_)) {
                    self.handshake_until = None;
                    self.failed_handshakes = 0;
                }
                self.read_line(body, now, actions);
            }
            Framed::Line { token, seq, line } => {
                self.numbered(token, seq, line, false, now, actions);
            }
            Framed::History { token, seq, line } => {
                self.numbered(token, seq, line, true, now, actions);
            }
            Framed::Answer {
                token,
                latest,
                received,
            } => {
                self.heard_in_session(token);
                // Taken stops its being sent again; only the room's echo confirms it
                // was relayed (a line dropped for our rate was taken, and is sent
                // again, under a new number, when a `slow down` says so).
                self.typed.taken(received);
                self.inbound.latest(latest, now);
                self.settle_inbound(now, actions);
            }
            Framed::Lost { upto, .. } => {
                let in_order = self.inbound.lost(upto, now);
                self.tell_lost(actions);
                self.show_in_order(in_order, now, actions);
                self.settle_inbound(now, actions);
            }
            Framed::Plain(datagram) => self.read_line(datagram, now, actions),
            // The gate passed nothing else.
            _ => {}
        }
    }

    /// A numbered line of our session (said before we joined, if `earlier`).
    fn numbered(
        &mut self,
        token: Token,
        seq: u64,
        line: &[u8],
        earlier: bool,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        self.heard_in_session(token);
        let in_order = self.inbound.line(seq, line, earlier, now);
        self.show_in_order(in_order, now, actions);
        self.settle_inbound(now, actions);
    }

    /// The server spoke in our session: the first time, it is open (a numbered line
    /// goes only to a member); and it stands.
    fn heard_in_session(&mut self, token: Token) {
        if let Link::Opening(opening) = self.link {
            if opening == token {
                self.link = Link::Secured(token);
                self.secured_once = true;
                self.handshake_until = None;
                self.failed_handshakes = 0;
                self.inbound = Inbound::new();
                self.outgoing.set_patience(UNCONFIRMED_IN_SESSION);
            }
        }
        self.unanswered_since = None;
        self.next_probe = None;
    }

    /// Shows lines now in order: those from before we joined as earlier, the rest read
    /// as any line from the server.
    fn show_in_order(&mut self, lines: Vec<InOrder>, now: Instant, actions: &mut Vec<Action>) {
        for (line, earlier) in lines {
            if self.ended {
                return;
            }
            if earlier {
                let decoded = proto::decode(proto::trim_line_end(&line));
                actions.push(Action::ShowEarlier(
                    proto::terminal_safe(&decoded).into_owned(),
                ));
            } else {
                self.read_line(&line, now, actions);
            }
        }
    }

    /// Does what the numbering of our session asks now: asks again for lines missed,
    /// goes on past those given up on, and tells how many were lost.
    fn settle_inbound(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let due = self.inbound.due(now);
        if let (Some((from, to)), Link::Secured(token)) = (due.ask, self.link) {
            let mut repair = Vec::with_capacity(frame::SESSION_HEADER + 16);
            frame::write_repair(&mut repair, token, from, to);
            actions.push(Action::Send(repair));
        }
        self.tell_lost(actions);
        self.show_in_order(due.lines, now, actions);
    }

    /// Tells how many lines were given up on, where they would have been.
    fn tell_lost(&mut self, actions: &mut Vec<Action>) {
        let lost = self.inbound.take_lost();
        if lost > 0 {
            let messages = if lost == 1 { "message" } else { "messages" };
            actions.push(Action::Show {
                text: format!("* {lost} {messages} lost"),
                bell: false,
            });
        }
    }

    /// A line from the server (or its goodbye), as a classic datagram would carry it.
    fn read_line(&mut self, datagram: &[u8], now: Instant, actions: &mut Vec<Action>) {
        let line = match proto::parse_reply(datagram) {
            Reply::ServerGone => return self.lost_server(now, actions),
            Reply::Line(line) => line,
        };
        self.heard_from_server = true;
        if self.away.take().is_some() {
            actions.push(Action::Show {
                text: BACK_NOTICE.to_string(),
                bell: false,
            });
            self.next_heartbeat = self.after_heartbeat_interval(now);
        }
        let decoded = proto::decode(line);
        let text = proto::terminal_safe(&decoded);
        let notice = Notice::parse(&text);
        match notice {
            Some(Notice::YouWereRemoved) => return self.end(Outcome::Removed, now, actions),
            Some(Notice::Welcome { who, limit, .. }) => {
                self.label = Some(who.to_string());
                self.outgoing.set_limit(limit, now);
            }
            Some(Notice::NowCalled(name)) => self.label = Some(name.to_string()),
            // A verifying server took us for a classic client (our hello went unanswered
            // for a while): prove the address the way a person would.
            Some(Notice::JoinWith(code)) if !self.secured_once => {
                self.outgoing.push_front(format!("/join {code}"));
            }
            Some(Notice::SlowDown { dropped }) => {
                for text in self.outgoing.resend_dropped(dropped, now) {
                    actions.push(Action::Show {
                        text: format!("* not relayed by the room: {text}"),
                        bell: false,
                    });
                }
            }
            _ => {}
        }
        if let Some(label) = &self.label {
            self.outgoing.confirm(&text, label);
        }
        if let Some(request) = notice.and_then(|n| self.name.on_notice(n, now)) {
            self.outgoing.push_front(request);
        }
        let bell = self.config.bell && should_ring(&text, notice, self.name());
        actions.push(Action::Show {
            text: text.into_owned(),
            bell,
        });
    }
}

/// Whether a typed line means leaving: `quit` (which the server reads as such), or the
/// client's own `/quit` and `/exit`, in any case.
fn is_quit(line: &str) -> bool {
    let line = line.trim();
    ["quit", "/quit", "/exit"]
        .iter()
        .any(|word| line.eq_ignore_ascii_case(word))
}

impl Typed {
    /// Numbers `body` and returns its frame, kept until taken.
    fn send(&mut self, token: Token, body: &[u8], now: Instant) -> Vec<u8> {
        self.last += 1;
        let frame = frame::typed(token, self.last, body);
        if self.unacked.len() == TYPED_UNACKED_MAX {
            self.unacked.pop_front();
        }
        self.unacked.push_back((self.last, frame.clone(), now, 0));
        frame
    }

    /// The server took every number up to `received`.
    fn taken(&mut self, received: u64) {
        self.unacked.retain(|&(seq, ..)| seq > received);
    }

    /// The frames due to be sent again at `now`.
    fn due(&mut self, now: Instant) -> Vec<Vec<u8>> {
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
    fn next_due(&self) -> Option<Instant> {
        self.unacked
            .iter()
            .map(|&(_, _, sent_at, _)| sent_at + RESEND_TYPED_AFTER)
            .min()
    }
}

impl Gate {
    /// A gate that passes everything: before the session has spoken.
    pub fn open() -> Gate {
        Gate {
            token: Token([0; TOKEN_LEN]),
            secured: false,
            secured_once: false,
            old_token: None,
        }
    }

    /// Whether the session wants `datagram`. Once it has had a session, nothing from
    /// the server goes without a frame of our token; before, anything does.
    pub fn judge(&self, datagram: &[u8]) -> Verdict {
        let framed = frame::read(datagram);
        match (framed, framed.from_server_in_session()) {
            (Framed::Cookie(_), _) if self.secured => Verdict::Ignore,
            (Framed::Cookie(_), _) => Verdict::Pass,
            (_, Some(token)) if token == self.token => Verdict::Pass,
            (_, Some(token)) if Some(token) == self.old_token => Verdict::Ignore,
            (Framed::Plain(_), _) if !self.secured_once => Verdict::Pass,
            _ => Verdict::Forged,
        }
    }
}

impl Link {
    /// The token of our session, or of the one we are opening.
    fn token(&self) -> Token {
        match *self {
            Link::Opening(token) | Link::Secured(token) => token,
        }
    }
}

impl Random {
    /// A generator from `seed` (any value; zero is replaced): replayable, for tests.
    pub fn new(seed: u64) -> Random {
        Random {
            state: seed.max(1),
            keys: None,
        }
    }

    /// A generator seeded and keyed by std's randomly keyed hasher.
    pub fn from_entropy() -> Random {
        let keys = RandomState::new();
        Random {
            state: keys.hash_one("seed").max(1),
            keys: Some(keys),
        }
    }

    /// The next number, uniform in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A new session token.
    pub fn token(&mut self) -> Token {
        let n = self.next_u64();
        let bits = match &self.keys {
            Some(keys) => keys.hash_one(n),
            None => n,
        };
        let mut token = [0u8; TOKEN_LEN];
        token.copy_from_slice(&bits.to_le_bytes()[..TOKEN_LEN]);
        Token(token)
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl NameKeeper {
    /// `wanted` is `--name`, asked for at the first welcome.
    fn new(wanted: Option<String>) -> NameKeeper {
        NameKeeper {
            pending_since: None,
            wanted,
            confirmed: None,
        }
    }

    /// Reads a notice from the server; returns a `/nick` to send, if one is needed.
    fn on_notice(&mut self, notice: Notice<'_>, now: Instant) -> Option<String> {
        match notice {
            Notice::NowCalled(name) | Notice::AlreadyCalled(name) => {
                self.confirmed = Some(name.to_string());
                self.wanted = Some(name.to_string());
                self.pending_since = None;
            }
            // Answered (no), or never reached the room: the next welcome tries again.
            Notice::NameReserved(_)
            | Notice::NameTaken(_)
            | Notice::NameTooLike { .. }
            | Notice::NameInvalid(_)
            | Notice::NickUsage
            | Notice::RoomFull { .. }
            | Notice::SlowDown { .. } => self.pending_since = None,
            Notice::Welcome { who, .. } => {
                // The server may have kept our name for our address: then all is well.
                if self.wanted.as_deref() == Some(who) {
                    self.confirmed = Some(who.to_string());
                    self.pending_since = None;
                    return None;
                }
                self.confirmed = None;
                let pending = self
                    .pending_since
                    .is_some_and(|since| now.saturating_duration_since(since) < NICK_ANSWER_WAIT);
                if !pending {
                    let wanted = self.wanted.as_ref()?;
                    self.pending_since = Some(now);
                    return Some(format!("/nick {wanted}"));
                }
            }
            _ => {}
        }
        None
    }
}

/// Whether a line from the server deserves the bell: a private message to us, or
/// someone else's chat line that mentions our name as a word.
fn should_ring(line: &str, notice: Option<Notice<'_>>, own_name: Option<&str>) -> bool {
    if matches!(notice, Some(Notice::PrivateFrom { .. })) {
        return true;
    }
    if line.starts_with(proto::NOTICE_PREFIX) {
        return false;
    }
    let Some(own) = own_name else {
        return false;
    };
    match line.split_once(' ') {
        Some((sender, text)) => !sender.eq_ignore_ascii_case(own) && name::mentions(text, own),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEARTBEAT: Duration = Duration::from_secs(5);
    const WELCOME: &[u8] = b"* you joined as 127.0.0.1:5 (1 here; /help for commands)";

    fn config(name: Option<&str>) -> SessionConfig {
        SessionConfig {
            heartbeat: HEARTBEAT,
            max_message_bytes: 1024,
            name: name.map(str::to_string),
            bell: true,
            reconnect: false,
        }
    }

    fn start(name: Option<&str>, t: Instant) -> (Session, Vec<Action>) {
        let mut actions = Vec::new();
        let session = Session::start(config(name), Random::new(7), t, &mut actions);
        (session, actions)
    }

    fn step(session: &mut Session, input: Input<'_>, t: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        session.handle(input, t, &mut actions);
        actions
    }

    fn send(bytes: &[u8]) -> Action {
        Action::Send(bytes.to_vec())
    }

    fn show(text: &str, bell: bool) -> Action {
        Action::Show {
            text: text.into(),
            bell,
        }
    }

    #[test]
    fn a_named_session_asks_for_its_name_first() {
        let t = Instant::now();
        let (mut s, started) = start(Some("alice"), t);
        assert!(started.is_empty(), "nothing before the server is known");
        step(&mut s, Input::Typed("hi"), t);
        let welcomed = step(&mut s, Input::Datagram(WELCOME), t);
        assert_eq!(sends(&welcomed), ["/nick alice", "hi"]);
        assert!(start(None, t).1.is_empty());
    }

    #[test]
    fn typed_lines_are_sent_and_quit_ends() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        assert!(
            step(&mut s, Input::Typed("early"), t).is_empty(),
            "held for the welcome"
        );
        assert!(
            step(&mut s, Input::Datagram(WELCOME), t).contains(&send(b"early")),
            "the welcome lets it go"
        );
        assert_eq!(step(&mut s, Input::Typed("hello"), t), vec![send(b"hello")]);
        assert!(step(&mut s, Input::Typed("   "), t).is_empty());
        assert!(
            step(&mut s, Input::Typed(" QUIT "), t).is_empty(),
            "not before what was sent is relayed back"
        );
        step(&mut s, Input::Datagram(b"127.0.0.1:5 early"), t);
        assert_eq!(
            step(&mut s, Input::Datagram(b"127.0.0.1:5 hello"), t)[1..],
            [send(b"quit"), Action::End(Outcome::Quit)]
        );
        assert!(step(&mut s, Input::Typed("after"), t).is_empty(), "ended");
    }

    #[test]
    fn closed_input_leaves_and_long_lines_are_split() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        step(&mut s, Input::Datagram(WELCOME), t);
        let long = "x".repeat(1500);
        let sent = step(&mut s, Input::Typed(&long), t);
        assert_eq!(sent.len(), 2);
        assert!(
            step(&mut s, Input::InputClosed, t).is_empty(),
            "echoes first"
        );
        // None comes back: after a while both are named, and the session ends.
        let mut actions = Vec::new();
        s.handle_timeout(t + UNCONFIRMED_AFTER, &mut actions);
        assert_eq!(actions.len(), 4, "{actions:?}");
        assert_eq!(actions[2..], [send(b"quit"), Action::End(Outcome::Quit)]);
    }

    #[test]
    fn heartbeats_go_out_on_time_never_later_than_configured() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        let mut now = t;
        let mut intervals = Vec::new();
        for _ in 0..200 {
            let due = s.next_deadline().expect("a heartbeat is due");
            let mut actions = Vec::new();
            s.handle_timeout(due - Duration::from_millis(1), &mut actions);
            assert!(actions.is_empty(), "not before it is due");
            s.handle_timeout(due, &mut actions);
            assert_eq!(
                actions,
                vec![send(frame::HELLO)],
                "a classic server's heartbeat"
            );
            intervals.push((due - now).as_secs_f64());
            now = due;
        }
        let secs = HEARTBEAT.as_secs_f64();
        let (shortest, longest) = intervals
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &i| (lo.min(i), hi.max(i)));
        assert!(longest <= secs, "never longer than configured: {longest}");
        assert!(shortest >= secs * 0.8, "at most 20 % shorter: {shortest}");
        let mean = intervals.iter().sum::<f64>() / intervals.len() as f64;
        assert!((mean - secs * 0.9).abs() < secs * 0.02, "mean {mean}");
        assert!(longest - shortest > secs * 0.15, "the intervals vary");
    }

    #[test]
    fn clients_that_joined_together_drift_apart() {
        // 1 000 sessions started at the same instant: after a few intervals their
        // heartbeats no longer come in one burst.
        let t = Instant::now();
        let mut sessions: Vec<Session> = (0..1000u64)
            .map(|seed| {
                Session::start(
                    config(None),
                    Random::new(seed * 7919 + 1),
                    t,
                    &mut Vec::new(),
                )
            })
            .collect();
        let mut latest = Vec::new();
        for _ in 0..5 {
            latest.clear();
            for session in &mut sessions {
                let due = session.next_deadline().expect("due");
                session.handle_timeout(due, &mut Vec::new());
                latest.push(due);
            }
        }
        // The busiest tenth of a second now holds a small share of them, not all.
        latest.sort();
        let window = Duration::from_millis(100);
        let busiest = (0..latest.len())
            .map(|i| {
                latest[i..]
                    .iter()
                    .take_while(|&&at| at - latest[i] < window)
                    .count()
            })
            .max()
            .unwrap_or(0);
        assert!(busiest <= 150, "{busiest} heartbeats within 100 ms");
    }

    #[test]
    fn the_servers_lines_are_shown_safe_and_its_goodbye_ends() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        assert_eq!(
            step(
                &mut s,
                Input::Datagram(b"1.2.3.4:5 \x1b[2Jgotcha\x07\xe2\x80\xae!\n"),
                t
            ),
            vec![show("1.2.3.4:5 gotcha!", false)]
        );
        assert_eq!(
            step(&mut s, Input::Datagram(b"a\nb"), t),
            vec![show("a b", false)],
            "no line of its own"
        );
        assert_eq!(
            step(&mut s, Input::Datagram(b""), t),
            vec![Action::End(Outcome::ServerDown)]
        );
    }

    #[test]
    fn removal_ends_the_session() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        assert_eq!(
            step(
                &mut s,
                Input::Datagram(b"* you were removed by the server"),
                t
            ),
            vec![Action::End(Outcome::Removed)]
        );
        let (mut s, _) = start(None, t);
        assert_eq!(
            step(
                &mut s,
                Input::Datagram(b"bob * you were removed by the server"),
                t
            )
            .len(),
            1,
            "a chat line is shown, not obeyed"
        );
    }

    #[test]
    fn drops_on_the_receiving_side_are_told_once_a_second_and_before_the_end() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        let told = |actions: &[Action]| -> Vec<String> {
            actions
                .iter()
                .filter_map(|a| match a {
                    Action::Show { text, .. } if text.contains("dropped here") => {
                        Some(text.clone())
                    }
                    _ => None,
                })
                .collect()
        };
        let first = step(&mut s, Input::Dropped(7), t);
        assert_eq!(
            told(&first),
            ["* 7 lines dropped here: they came faster than they could be shown"]
        );
        assert!(
            told(&step(&mut s, Input::Dropped(2), t)).is_empty(),
            "not twice in a second"
        );
        assert!(told(&step(&mut s, Input::Dropped(1), t)).is_empty());
        assert_eq!(s.next_deadline(), Some(t + DROPS_TOLD_EVERY));
        let mut actions = Vec::new();
        s.handle_timeout(t + DROPS_TOLD_EVERY, &mut actions);
        assert_eq!(
            told(&actions),
            ["* 3 lines dropped here: they came faster than they could be shown"]
        );
        step(&mut s, Input::Dropped(1), t + DROPS_TOLD_EVERY);
        let end = step(&mut s, Input::Datagram(b""), t + DROPS_TOLD_EVERY);
        assert_eq!(told(&end).len(), 1, "told before the end: {end:?}");
        assert_eq!(end.last(), Some(&Action::End(Outcome::ServerDown)));
    }

    #[test]
    fn an_endless_heartbeat_interval_never_panics() {
        let t = Instant::now();
        let mut actions = Vec::new();
        let mut s = Session::start(
            SessionConfig {
                heartbeat: Duration::MAX,
                ..config(None)
            },
            Random::new(7),
            t,
            &mut actions,
        );
        assert_eq!(s.next_deadline(), None);
        s.handle_timeout(t + Duration::from_secs(1 << 40), &mut actions);
        assert!(actions.is_empty());
    }

    #[test]
    fn the_name_is_asked_for_again_when_welcomed_after_having_it() {
        let t = Instant::now();
        let (mut s, _) = start(Some("alice"), t);
        // The first welcome lets the /nick waiting since the start go, once.
        let first = step(&mut s, Input::Datagram(WELCOME), t);
        assert_eq!(sends(&first), ["/nick alice"]);
        step(&mut s, Input::Datagram(b"* you are now alice"), t);
        assert_eq!(s.name(), Some("alice"));
        // Evicted and back: welcomed again.
        let again = step(&mut s, Input::Datagram(WELCOME), t);
        assert!(again.contains(&send(b"/nick alice")));
        assert_eq!(s.name(), None);
        assert_eq!(
            step(&mut s, Input::Datagram(WELCOME), t).len(),
            1,
            "still pending"
        );
    }

    #[test]
    fn a_name_the_server_kept_is_not_asked_for_again() {
        let t = Instant::now();
        let (mut s, _) = start(Some("alice"), t);
        step(&mut s, Input::Datagram(WELCOME), t);
        step(&mut s, Input::Datagram(b"* you are now alice"), t);
        let kept = b"* you joined as alice (2 here; /help for commands)";
        assert_eq!(step(&mut s, Input::Datagram(kept), t).len(), 1);
        assert_eq!(s.name(), Some("alice"));
    }

    #[test]
    fn a_start_in_a_full_room_takes_the_name_once_let_in() {
        let t = Instant::now();
        let (mut s, _) = start(Some("hank"), t);
        step(&mut s, Input::Datagram(b"* room is full (1 client)"), t);
        let later = step(&mut s, Input::Datagram(WELCOME), t);
        assert!(later.contains(&send(b"/nick hank")));
    }

    #[test]
    fn a_name_chosen_later_is_the_one_kept() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        assert_eq!(step(&mut s, Input::Datagram(WELCOME), t).len(), 1);
        step(&mut s, Input::Datagram(b"* you are now zed"), t);
        assert!(step(&mut s, Input::Datagram(WELCOME), t).contains(&send(b"/nick zed")));
        step(&mut s, Input::Datagram(b"* the name zed is taken"), t);
        assert!(step(&mut s, Input::Datagram(WELCOME), t).contains(&send(b"/nick zed")));
    }

    #[test]
    fn a_lost_nick_is_asked_for_again_at_a_later_welcome() {
        let t = Instant::now();
        let (mut s, _) = start(Some("ivy"), t);
        assert_eq!(
            sends(&step(&mut s, Input::Datagram(WELCOME), t)),
            ["/nick ivy"],
            "once: the first /nick goes now"
        );
        let later = t + NICK_ANSWER_WAIT;
        assert!(step(&mut s, Input::Datagram(WELCOME), later).contains(&send(b"/nick ivy")));
    }

    #[test]
    fn bell_rings_for_mentions_by_others_and_private_messages() {
        let t = Instant::now();
        let (mut s, _) = start(Some("alice"), t);
        step(&mut s, Input::Datagram(b"* you are now alice"), t);
        for (line, ring) in [
            (&b"bob hey Alice, look"[..], true),
            (b"127.0.0.1:5000 alice?", true),
            (b"* private from bob: psst", true),
            (b"alice I am alice", false),
            (b"ALICE shouting my own name", false),
            (b"bob malice", false),
            (b"* alice joined", false),
            (b"* private to bob: hi alice", false),
        ] {
            let shown = step(&mut s, Input::Datagram(line), t);
            assert!(
                matches!(&shown[..], [Action::Show { bell, .. }] if *bell == ring),
                "{:?}: {shown:?}",
                String::from_utf8_lossy(line)
            );
        }
        let (mut nameless, _) = start(None, t);
        let shown = step(&mut nameless, Input::Datagram(b"bob hi alice"), t);
        assert_eq!(shown, vec![show("bob hi alice", false)]);
    }

    fn sends(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .collect()
    }

    const PACED_WELCOME: &[u8] =
        b"* you joined as 127.0.0.1:5 (1 here; /help for commands; 5 messages a second, 10 at once)";

    #[test]
    fn quit_and_its_client_side_aliases_leave() {
        let t = Instant::now();
        for word in ["quit", "/quit", "/EXIT", " Quit "] {
            let (mut s, _) = start(None, t);
            assert_eq!(
                step(&mut s, Input::Typed(word), t),
                vec![send(b"quit"), Action::End(Outcome::Quit)],
                "{word:?}"
            );
        }
    }

    #[test]
    fn a_paste_is_paced_to_the_rooms_limit_and_piped_input_is_all_sent_before_leaving() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        step(&mut s, Input::Datagram(PACED_WELCOME), t);
        let mut sent = Vec::new();
        for i in 0..30 {
            sent.extend(sends(&step(&mut s, Input::Typed(&format!("line {i}")), t)));
        }
        assert_eq!(sent.len(), 9, "the burst less one at once");
        assert_eq!(s.waiting(), 21);
        assert!(
            step(&mut s, Input::InputClosed, t).is_empty(),
            "not before the rest"
        );
        let mut now = t;
        let mut ended = false;
        for _ in 0..1000 {
            if ended {
                break;
            }
            now = s.next_deadline().expect("something is due");
            let mut actions = Vec::new();
            s.handle_timeout(now, &mut actions);
            ended = actions.contains(&Action::End(Outcome::Quit));
            let new: Vec<String> = sends(&actions)
                .into_iter()
                .filter(|d| d != "@IM@")
                .collect();
            // The room relays each back.
            for line in new.iter().filter(|d| d.starts_with("line ")) {
                let echo = format!("127.0.0.1:5 {line}");
                ended |= step(&mut s, Input::Datagram(echo.as_bytes()), now)
                    .contains(&Action::End(Outcome::Quit));
            }
            sent.extend(new);
        }
        let want: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
        assert_eq!(sent[..30], want[..]);
        assert!(now - t < Duration::from_secs(6), "{:?}", now - t);
    }

    #[test]
    fn lines_the_room_dropped_are_sent_again_in_order() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        step(&mut s, Input::Datagram(PACED_WELCOME), t);
        for text in ["a", "b", "c"] {
            step(&mut s, Input::Typed(text), t);
        }
        step(&mut s, Input::Datagram(b"127.0.0.1:5 a"), t);
        step(
            &mut s,
            Input::Datagram(b"* slow down: 1 message dropped"),
            t,
        );
        // b was dropped; c is in flight and will be relayed. b goes again, paced.
        let mut again = Vec::new();
        for _ in 0..100 {
            let now = s.next_deadline().expect("due");
            let mut actions = Vec::new();
            s.handle_timeout(now, &mut actions);
            again.extend(sends(&actions).into_iter().filter(|d| d != "@IM@"));
            if !again.is_empty() {
                break;
            }
        }
        assert_eq!(again, ["b"]);
    }

    #[test]
    fn a_server_that_goes_away_is_tried_again_and_lines_typed_meanwhile_wait() {
        let t = Instant::now();
        let mut actions = Vec::new();
        let mut s = Session::start(
            SessionConfig {
                reconnect: true,
                ..config(Some("alice"))
            },
            Random::new(3),
            t,
            &mut actions,
        );
        step(&mut s, Input::Datagram(WELCOME), t);
        step(&mut s, Input::Datagram(b"* you are now alice"), t);
        let away = step(&mut s, Input::Datagram(b""), t);
        assert_eq!(away, vec![show(AWAY_NOTICE, false)]);
        assert!(s.is_away());
        assert!(
            step(&mut s, Input::Typed("are you back?"), t).is_empty(),
            "it waits"
        );
        assert!(step(&mut s, Input::Refused, t).is_empty(), "said once");
        // Tries: heartbeats after about 1, 2, 4, then every 5 s.
        let mut now = t;
        let mut tries = Vec::new();
        for _ in 0..100 {
            if tries.len() == 5 {
                break;
            }
            now = s.next_deadline().expect("a try is due");
            let mut actions = Vec::new();
            s.handle_timeout(now, &mut actions);
            if sends(&actions) == ["@IM@"] {
                tries.push(now - t);
            }
        }
        let gaps: Vec<f64> = tries
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect();
        assert!(tries[0] <= RECONNECT_FIRST && tries[0] >= RECONNECT_FIRST.mul_f64(0.8));
        assert!(
            gaps.iter().all(|&g| g <= RECONNECT_MAX.as_secs_f64()),
            "{gaps:?}"
        );
        assert!(gaps[2] >= 4.0 * 0.8, "the wait grows: {gaps:?}");
        // The server is back: a welcome, the name again, and the line that waited.
        let back = step(&mut s, Input::Datagram(WELCOME), now);
        assert_eq!(back[0], show(BACK_NOTICE, false));
        assert_eq!(sends(&back), ["/nick alice", "are you back?"]);
        assert!(!s.is_away());
    }

    #[test]
    fn a_server_never_heard_from_ends_the_session_at_once() {
        let t = Instant::now();
        let mut actions = Vec::new();
        let mut s = Session::start(
            SessionConfig {
                reconnect: true,
                ..config(None)
            },
            Random::new(3),
            t,
            &mut actions,
        );
        assert_eq!(
            step(&mut s, Input::Refused, t),
            vec![Action::End(Outcome::ServerDown)],
            "a mistyped port does not wait for ever"
        );
    }

    const COOKIE: Cookie = Cookie(*b"cookie!!");

    fn cookie_frame() -> Vec<u8> {
        let mut bytes = Vec::new();
        frame::write_cookie(&mut bytes, COOKIE);
        bytes
    }

    /// The token our session proposed in the echo among `actions`.
    fn echoed_token(actions: &[Action]) -> Token {
        let echoes: Vec<Token> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(bytes) => match frame::read(bytes) {
                    Framed::Echo { cookie, token } => {
                        assert_eq!(cookie, COOKIE);
                        Some(token)
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(echoes.len(), 1, "one echo: {actions:?}");
        echoes[0]
    }

    /// A session started and opened by our server; returns it and its token.
    fn secured(t: Instant, reconnect: bool) -> (Session, Token) {
        let mut s = Session::start(
            SessionConfig {
                reconnect,
                ..config(None)
            },
            Random::new(11),
            t,
            &mut Vec::new(),
        );
        let token = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), t));
        let welcome = frame::line(token, 1, PACED_WELCOME, false);
        let shown = step(&mut s, Input::Datagram(&welcome), t);
        assert_eq!(
            shown,
            vec![show(std::str::from_utf8(PACED_WELCOME).unwrap(), false)]
        );
        (s, token)
    }

    #[test]
    fn a_cookie_opens_a_session_and_everything_after_goes_in_its_frame() {
        let t = Instant::now();
        let (mut s, token) = secured(t, false);
        assert_eq!(
            step(&mut s, Input::Typed("hello"), t),
            vec![Action::Send(frame::typed(token, 1, b"hello"))],
            "what we type goes numbered"
        );
        // Taken by the server: not sent again.
        let mut taken = Vec::new();
        frame::write_answer(&mut taken, token, 1, 1);
        step(&mut s, Input::Datagram(&taken), t);
        let due = s.next_deadline().expect("a heartbeat");
        let mut actions = Vec::new();
        s.handle_timeout(due, &mut actions);
        assert_eq!(actions, vec![Action::Send(frame::session(token, b"@im@"))]);
        // Its answer shows nothing; a numbered line is shown.
        let mut answer = Vec::new();
        frame::write_answer(&mut answer, token, 1, 0);
        assert!(step(&mut s, Input::Datagram(&answer), due).is_empty());
        let line = frame::line(token, 2, b"127.0.0.1:5 hello", false);
        assert_eq!(
            step(&mut s, Input::Datagram(&line), due),
            vec![show("127.0.0.1:5 hello", false)]
        );
        // A cookie for an older hello changes nothing.
        assert!(step(&mut s, Input::Datagram(&cookie_frame()), due).is_empty());
        assert_eq!(
            step(&mut s, Input::Typed("quit"), due)[0],
            Action::Send(frame::session(token, b"quit"))
        );
    }

    #[test]
    fn nothing_without_our_token_is_acted_on_in_a_session() {
        let t = Instant::now();
        let (mut s, token) = secured(t, false);
        let other = Token(*b"guessed!");
        let forged: [Vec<u8>; 5] = [
            b"".to_vec(),
            b"* you were removed by the server".to_vec(),
            b"mallory says hi".to_vec(),
            frame::session(other, b""),
            frame::session(other, b"* you were removed by the server"),
        ];
        let first = step(&mut s, Input::Datagram(&forged[0]), t);
        assert_eq!(
            first,
            vec![show(
                "* ignored 1 datagram claiming to be from the server without our session's \
                 token (forged?)",
                false
            )],
            "told at once"
        );
        for datagram in &forged[1..] {
            assert!(step(&mut s, Input::Datagram(datagram), t).is_empty());
        }
        let later = t + FORGED_TOLD_EVERY;
        let mut actions = Vec::new();
        s.handle_timeout(later, &mut actions);
        assert!(actions.contains(&show(
            "* ignored 4 datagrams claiming to be from the server without our session's \
             token (forged?)",
            false
        )));
        // The real goodbye, in our frame, is obeyed.
        assert_eq!(
            step(&mut s, Input::Datagram(&frame::session(token, b"")), later),
            vec![Action::End(Outcome::ServerDown)]
        );
        let (mut s, token) = secured(t, false);
        let removed = frame::line(token, 2, b"* you were removed by the server", false);
        assert_eq!(
            step(&mut s, Input::Datagram(&removed), t),
            vec![Action::End(Outcome::Removed)]
        );
    }

    #[test]
    fn lines_wait_for_the_session_once_the_server_speaks_sessions() {
        let t = Instant::now();
        let (mut s, _) = start(Some("dora"), t);
        let echo = step(&mut s, Input::Datagram(&cookie_frame()), t);
        let token = echoed_token(&echo);
        step(&mut s, Input::Typed("early"), t);
        // The echo is lost: hellos go again every second, and nothing goes bare.
        let mut now = t;
        for _ in 0..2 {
            now = s.next_deadline().expect("a hello");
            assert!(now - t <= HANDSHAKE_RETRY * 2);
            let mut actions = Vec::new();
            s.handle_timeout(now, &mut actions);
            assert_eq!(actions, vec![send(frame::HELLO)]);
        }
        let welcome = frame::line(token, 1, WELCOME, false);
        let sent = step(&mut s, Input::Datagram(&welcome), now);
        assert_eq!(
            sent[1..],
            [
                Action::Send(frame::typed(token, 1, b"/nick dora")),
                Action::Send(frame::typed(token, 2, b"early")),
            ]
        );
    }

    #[test]
    fn forged_cookies_cannot_hold_our_lines_from_a_classic_server_for_ever() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        step(&mut s, Input::Typed("first"), t);
        let mut now = t;
        let mut sent_bare = Vec::new();
        let mut echoes = 0;
        // A cookie every second from the (classic) server's address, for 20 s.
        for second in 0..20 {
            let at = t + Duration::from_secs(second);
            let mut answer = step(&mut s, Input::Datagram(&cookie_frame()), at);
            echoes += answer
                .iter()
                .filter(|a| matches!(a, Action::Send(b) if b.first() == Some(&frame::FRAME_MARK)))
                .count();
            answer.extend(step(&mut s, Input::Typed(&format!("line {second}")), at));
            sent_bare.extend(
                sends(&answer)
                    .into_iter()
                    .filter(|d| d.starts_with("line") || d == "first"),
            );
            while let Some(due) = s
                .next_deadline()
                .filter(|&due| due < at + Duration::from_secs(1))
            {
                now = due.max(now);
                let mut actions = Vec::new();
                s.handle_timeout(now, &mut actions);
                sent_bare.extend(sends(&actions).into_iter().filter(|d| d != "@IM@"));
            }
        }
        assert_eq!(
            echoes,
            (MAX_FAILED_HANDSHAKES * HANDSHAKE_WAIT.as_secs() as u32) as usize,
            "cookies answered for three waits, then not"
        );
        assert_eq!(sent_bare.first().map(String::as_str), Some("first"));
        assert_eq!(
            sent_bare.len(),
            21,
            "every line went, as to a classic server"
        );
    }

    #[test]
    fn forged_cookies_cannot_hide_the_servers_and_draw_few_echoes() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        let forged = |i: u8| {
            let mut bytes = Vec::new();
            frame::write_cookie(&mut bytes, Cookie([i; 8]));
            bytes
        };
        let mut echoes = Vec::new();
        for i in 0..3 {
            echoes.extend(step(&mut s, Input::Datagram(&forged(i)), t));
        }
        // The server's own answer to the hello comes after three forged ones: echoed.
        echoes.extend(step(&mut s, Input::Datagram(&cookie_frame()), t));
        assert_eq!(echoes.len(), 4);
        assert_eq!(echoes[3], {
            let mut echo = Vec::new();
            frame::write_echo(&mut echo, COOKIE, s.link.token());
            Action::Send(echo)
        });
        // A flood draws nothing more until the next hello.
        for i in 0..100 {
            assert!(step(&mut s, Input::Datagram(&forged(i)), t).is_empty());
        }
    }

    #[test]
    fn an_unanswered_session_is_lost_and_opened_again_with_a_new_token() {
        let t = Instant::now();
        let (mut s, token) = secured(t, true);
        let mut now = t;
        let mut heartbeats = 0;
        let mut away_at = None;
        for _ in 0..100 {
            now = s.next_deadline().expect("due");
            let mut actions = Vec::new();
            s.handle_timeout(now, &mut actions);
            heartbeats += actions
                .iter()
                .filter(|a| **a == Action::Send(frame::session(token, b"@im@")))
                .count();
            if actions.contains(&show(AWAY_NOTICE, false)) {
                away_at = Some(now);
                break;
            }
        }
        let away_at = away_at.expect("the session is given up");
        let first_heartbeat = away_at - HEARTBEAT * 2;
        assert!(
            first_heartbeat - t <= HEARTBEAT,
            "lost two intervals after the first unanswered heartbeat"
        );
        assert!(
            heartbeats >= 8,
            "probed every second meanwhile: {heartbeats}"
        );
        // The server, still holding the old session, says something: no forgery.
        let late = frame::line(token, 2, b"127.0.0.1:9 late", false);
        assert!(step(&mut s, Input::Datagram(&late), now).is_empty());
        // Tries again with hellos; a cookie opens a new session with a new token.
        let mut actions = Vec::new();
        s.handle_timeout(s.next_deadline().expect("a try"), &mut actions);
        assert_eq!(sends(&actions), ["@IM@"]);
        let renewed = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), now));
        assert_ne!(renewed, token);
        let back = step(
            &mut s,
            Input::Datagram(&frame::line(renewed, 1, WELCOME, false)),
            now,
        );
        assert_eq!(back[0], show(BACK_NOTICE, false));
        assert!(!s.is_away());
    }

    #[test]
    fn entropy_gives_tokens_no_one_can_replay() {
        let mut a = Random::from_entropy();
        let mut b = Random::from_entropy();
        assert_ne!(a.token(), b.token());
        assert_ne!(a.token(), a.token());
    }

    #[test]
    fn piped_input_in_a_full_room_is_named_and_ends() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        let token = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), t));
        step(&mut s, Input::Typed("anyone?"), t);
        step(&mut s, Input::InputClosed, t);
        // The echo's answer: no place. The line goes (to be refused), and is named.
        let full = frame::session(token, b"* room is full (1 client)");
        let mut actions = step(&mut s, Input::Datagram(&full), t);
        assert_eq!(actions[0], show("* room is full (1 client)", false));
        let mut now = t;
        for _ in 0..50 {
            if actions.contains(&Action::End(Outcome::Quit)) {
                break;
            }
            now = s.next_deadline().expect("something is due");
            s.handle_timeout(now, &mut actions);
        }
        assert!(
            sends(&actions).contains(&"anyone?".to_string()),
            "{actions:?}"
        );
        assert_eq!(actions.last(), Some(&Action::End(Outcome::Quit)));
        assert!(now - t < Duration::from_secs(5), "{:?}", now - t);
    }

    #[test]
    fn a_chat_line_that_looks_like_a_join_code_types_nothing() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        step(&mut s, Input::Datagram(WELCOME), t);
        let fake = step(&mut s, Input::Datagram(b"* to join, type: /join quit"), t);
        assert!(sends(&fake).is_empty());
        let real = step(
            &mut s,
            Input::Datagram(b"* to join, type: /join 0123456789ab"),
            t,
        );
        assert_eq!(sends(&real), ["/join 0123456789ab"]);
    }

    #[test]
    fn quitting_while_a_lost_session_is_reopened_says_so_in_its_frame() {
        let t = Instant::now();
        let (mut s, token) = secured(t, true);
        step(&mut s, Input::Datagram(&frame::session(token, b"")), t);
        assert!(s.is_away());
        let left = step(&mut s, Input::Interrupt, t);
        assert_eq!(left[0], Action::Send(frame::session(token, b"quit")));
    }

    #[test]
    fn the_gate_passes_what_the_session_wants_and_names_forgeries() {
        let t = Instant::now();
        let (mut s, _) = start(None, t);
        let open = s.gate();
        for anything in [&b"hello"[..], b"", &cookie_frame()] {
            assert_eq!(open.judge(anything), Verdict::Pass, "before a session");
        }
        let token = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), t));
        step(
            &mut s,
            Input::Datagram(&frame::line(token, 1, WELCOME, false)),
            t,
        );
        let gate = s.gate();
        assert_eq!(gate.judge(&frame::session(token, b"x")), Verdict::Pass);
        assert_eq!(gate.judge(&cookie_frame()), Verdict::Ignore);
        for forged in [
            b"".to_vec(),
            b"* you were removed by the server".to_vec(),
            frame::session(Token(*b"guessed!"), b""),
            frame::HELLO.to_vec(),
            vec![frame::FRAME_MARK],
        ] {
            assert_eq!(gate.judge(&forged), Verdict::Forged, "{forged:?}");
        }
        // Forgeries the receiving thread dropped are told like the session's own.
        let told = step(&mut s, Input::Forged(5), t);
        assert!(matches!(&told[..], [Action::Show { text, .. }] if text.contains("ignored 5 ")));
    }

    #[test]
    fn lines_from_before_we_joined_are_shown_as_earlier() {
        let t = Instant::now();
        let (mut s, token) = secured(t, false);
        let history = frame::line(token, 2, b"bob hi \x1b[2Jthere", true);
        assert_eq!(
            step(&mut s, Input::Datagram(&history), t),
            vec![Action::ShowEarlier("bob hi there".to_string())]
        );
        let forged = frame::line(Token(*b"guessed!"), 3, b"mallory lies", true);
        assert!(step(&mut s, Input::Datagram(&forged), t)
            .iter()
            .all(|a| !matches!(a, Action::ShowEarlier(_))));
    }

    fn numbered(token: Token, seq: u64, line: &str) -> Vec<u8> {
        frame::line(token, seq, line.as_bytes(), false)
    }

    fn shown_texts(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Show { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn repairs(actions: &[Action]) -> Vec<(u64, u64)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(bytes) => match frame::read(bytes) {
                    Framed::Repair { from, to, .. } => Some((from, to)),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn numbered_lines_are_shown_in_order_once_and_a_gap_is_asked_for() {
        let t = Instant::now();
        let (mut s, token) = secured(t, false);
        // 2 is lost on the way; 3 waits for it, and 2 is asked for at once.
        let waits = step(&mut s, Input::Datagram(&numbered(token, 3, "bob third")), t);
        assert!(shown_texts(&waits).is_empty());
        assert_eq!(repairs(&waits), [(2, 2)]);
        let filled = step(
            &mut s,
            Input::Datagram(&numbered(token, 2, "bob second")),
            t,
        );
        assert_eq!(shown_texts(&filled), ["bob second", "bob third"]);
        let again = step(&mut s, Input::Datagram(&numbered(token, 3, "bob third")), t);
        assert!(again.is_empty(), "never twice");
    }

    #[test]
    fn what_never_comes_is_told_as_lost_and_the_rest_goes_on() {
        let t = Instant::now();
        let (mut s, token) = secured(t, false);
        step(
            &mut s,
            Input::Datagram(&numbered(token, 4, "bob fourth")),
            t,
        );
        let mut actions = Vec::new();
        let mut now = t;
        while !shown_texts(&actions).iter().any(|l| l.contains("lost")) {
            now = s.next_deadline().expect("a repair or a give-up is due");
            assert!(
                now - t <= Duration::from_secs(2),
                "given up within about a second"
            );
            s.handle_timeout(now, &mut actions);
        }
        assert_eq!(shown_texts(&actions), ["* 2 messages lost", "bob fourth"]);
        assert!(
            repairs(&actions).len() >= 2,
            "asked again meanwhile: {actions:?}"
        );
        // The server can also say at once that a line is gone.
        step(
            &mut s,
            Input::Datagram(&numbered(token, 6, "bob sixth")),
            now,
        );
        let mut gone = Vec::new();
        frame::write_lost(&mut gone, token, 5);
        let told = step(&mut s, Input::Datagram(&gone), now);
        assert_eq!(shown_texts(&told), ["* 1 message lost", "bob sixth"]);
    }

    #[test]
    fn a_lost_last_line_shows_in_the_answer_to_a_heartbeat() {
        let t = Instant::now();
        let (mut s, token) = secured(t, false);
        let mut answer = Vec::new();
        frame::write_answer(&mut answer, token, 2, 0);
        let asked = step(&mut s, Input::Datagram(&answer), t);
        assert_eq!(repairs(&asked), [(2, 2)]);
        let repaired = step(&mut s, Input::Datagram(&numbered(token, 2, "bob last")), t);
        assert_eq!(shown_texts(&repaired), ["bob last"]);
    }

    #[test]
    fn a_typed_line_is_sent_again_under_its_number_until_the_server_takes_it() {
        let t = Instant::now();
        let (mut s, token) = secured(t, false);
        step(&mut s, Input::Typed("one"), t);
        step(&mut s, Input::Typed("two"), t);
        let mut again = Vec::new();
        s.handle_timeout(t + RESEND_TYPED_AFTER, &mut again);
        let again = sends(&again);
        assert!(
            again.iter().any(|d| d.ends_with("one")) && again.iter().any(|d| d.ends_with("two"))
        );
        // The server took 1: only 2 goes again, under the same number.
        let mut taken = Vec::new();
        frame::write_answer(&mut taken, token, 1, 1);
        step(&mut s, Input::Datagram(&taken), t + RESEND_TYPED_AFTER);
        let mut actions = Vec::new();
        s.handle_timeout(t + RESEND_TYPED_AFTER * 2, &mut actions);
        let resent: Vec<&Action> = actions
            .iter()
            .filter(|a| matches!(a, Action::Send(_)))
            .collect();
        assert!(resent.contains(&&Action::Send(frame::typed(token, 2, b"two"))));
        assert!(!resent.contains(&&Action::Send(frame::typed(token, 1, b"one"))));
        // At most RESEND_TYPED_TIMES times again in all.
        let mut count = 0;
        for k in 3..20 {
            let mut actions = Vec::new();
            s.handle_timeout(t + RESEND_TYPED_AFTER * k, &mut actions);
            count += actions
                .iter()
                .filter(|a| **a == Action::Send(frame::typed(token, 2, b"two")))
                .count();
        }
        assert_eq!(count as u32, RESEND_TYPED_TIMES - 2, "two were sent before");
    }
}
