//! The client as a state machine without I/O: what the user typed, what the server
//! sent and the passing of time go in; datagrams to send, lines to show and the end of
//! the session come out. The threads around it (in `client`) only move bytes.
//!
//! Its first datagram, and its heartbeat until it has a session, is `@IM@`: a classic
//! server takes it as a heartbeat; ours answers with a cookie, which the session echoes
//! with a token it chose. From the server's first frame with that token on, every
//! datagram both ways carries it, and nothing without it is acted on (see
//! [`proto::frame`]).
//!
//! One concern a file: [`link`] (where we stand with the server, one enum, and the
//! gate), [`outbound`] (what we send, paced, numbered, confirmed), `inbound` (in the
//! parent module: the numbered lines we receive, in order), [`names`] (our name kept),
//! [`notices`] (the client's own wordings), [`timers`] (what is due when), [`random`].

mod link;
mod names;
pub mod notices;
mod outbound;
mod random;
mod timers;

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use super::inbound::{InOrder, Inbound};
use super::split::split_typed_line;
use crate::proto::frame::{self, Cookie, Framed, Token};
use crate::proto::{self, name, Notice, Reply};
pub use link::{Gate, Verdict};
use link::{Link, Silence, Trust};
use names::NameKeeper;
pub use notices::{ClientNotice, CLIENT_MARKER};
use outbound::Typed;
pub use outbound::{
    Outgoing, DEFAULT_LIMIT, UNCONFIRMED_AFTER, UNCONFIRMED_IN_SESSION, WELCOME_WAIT,
};
pub use random::Random;
use timers::{Due, Timers};

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
/// they go as to a classic server: forged cookies cannot hold our lines for ever.
pub const HANDSHAKE_WAIT: Duration = Duration::from_secs(3);
/// Handshakes that may come to nothing in a row before cookies wait to be answered
/// again ([`HANDSHAKE_BACKOFF_FIRST`], doubling up to [`HANDSHAKE_BACKOFF_MAX`]):
/// meanwhile lines go bare, and the session is tried again, never given up for good.
pub const FREE_HANDSHAKES: u32 = 3;
/// See [`FREE_HANDSHAKES`].
pub const HANDSHAKE_BACKOFF_FIRST: Duration = Duration::from_secs(10);
/// See [`FREE_HANDSHAKES`].
pub const HANDSHAKE_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How long a server that has not answered at all may stay silent before the person
/// is told (and before piped input that ended gives up on it, exit status 1).
pub const NO_ANSWER_AFTER: Duration = Duration::from_secs(3);
/// How long piped input waits for the answer to a command it sent before it leaves.
pub const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// The longest a secured session may go unanswered (probed every [`PROBE_EVERY`])
/// before it is given up and joined again; two heartbeat intervals, if shorter.
pub const SESSION_LOST_AFTER: Duration = Duration::from_secs(6);
/// How long a secured session may go unanswered after the client was stopped before
/// it is joined again (the server has most likely evicted it).
pub const RESUMED_LOST_AFTER: Duration = Duration::from_secs(2);
/// How long a typed frame may go unanswered before the prompt counts its line as
/// waiting (an answer normally comes within a round trip).
pub const SHOWN_WAITING_AFTER: Duration = Duration::from_millis(300);
/// What goes before a line from a server that starts with our own notices' mark.
const FROM_SERVER: &str = "[server] ";
/// How many lines shown are remembered, so history sent again on a rejoin is not
/// shown twice.
const SEEN_LINES: usize = 256;
/// The longest wait between heartbeats sent again while one goes unanswered.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a line we typed in a session may go without the server saying it took it
/// before it is sent again.
pub const RESEND_TYPED_AFTER: Duration = Duration::from_millis(300);
/// The most times a typed line is sent again for want of the server's answer; after
/// that, the room not relaying it names it (see `outgoing::UNCONFIRMED_IN_SESSION`).
pub const RESEND_TYPED_TIMES: u32 = 6;
/// The least time between two lines telling of datagrams ignored for want of our token.
pub const FORGED_TOLD_EVERY: Duration = Duration::from_secs(10);
/// How many cookies are echoed for each hello sent: a cookie cannot be told from a
/// forged one, so several are answered (the server's comes back within a round trip,
/// and a forger must land this many first to hide it), yet forged cookies cannot make
/// us a fountain of datagrams to the server.
const ECHOES_PER_HELLO: u32 = 4;

/// What the session needs to know.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The server as the person named it, for notices.
    pub server: String,
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
    /// The keys that leave, as notices name them (`client::terminal::leave_keys`).
    pub leave_keys: &'static str,
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
    /// The input ended and the server never answered at all.
    NoAnswer,
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
    /// A send or a receive found the server's port closed (an ICMP error: anyone who
    /// knows our address can forge one).
    Refused,
    /// Ctrl-C, or Ctrl-D on an empty line: leave now, whatever waits.
    Interrupt,
    /// The client was stopped (Ctrl-Z, a suspended machine) and runs again: its clock
    /// jumped this much past what it waited for.
    Resumed(Duration),
}

/// What the session wants done, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this datagram to the server.
    Send(Vec<u8>),
    /// Show this line (already terminal-safe), after a bell if `bell`.
    Show { text: String, bell: bool },
    /// Show this line (already terminal-safe), said in the room before we joined it,
    /// `age` ago (if the server said).
    ShowEarlier { text: String, age: Option<Duration> },
    /// The session is over; nothing after this is done.
    End(Outcome),
}

/// Where the client stands, for the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Standing {
    /// Nothing heard from the server yet, or a session being opened.
    #[default]
    Connecting,
    /// In the room.
    Joined,
    /// The server went away and is being tried again.
    Away,
}

/// Whether the user's input is still open.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Lines come as typed.
    Chatting,
    /// The input ended (or `quit` was typed): leave once every line typed has been
    /// sent and relayed back, saying `farewell` if there is one (`/quit MESSAGE`).
    Closing { farewell: String },
    /// Nothing more is done.
    Ended,
}

/// One client's conversation with the server.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    /// Where we stand with the server.
    link: Link,
    /// Whether unframed datagrams may be acted on.
    trust: Trust,
    phase: Phase,
    names: NameKeeper,
    /// Where the heartbeat's jitter and the tokens come from.
    random: Random,
    timers: Timers,
    /// What we send, paced, and what awaits the room's echo.
    outgoing: Outgoing,
    /// What we typed in our session, numbered, until the server says it took it.
    typed: Typed,
    /// The numbered lines of our session, put back in order.
    inbound: Inbound,
    /// How we are shown in the room: the welcome's label, or the name we took.
    label: Option<String>,
    /// Cookies that may still be echoed for the last hello sent.
    echoes_left: u32,
    /// Received lines dropped (arriving faster than shown) and not told of yet.
    n_dropped_untold: u64,
    /// Datagrams from the server's address without our token, not told of yet.
    n_forged_untold: u64,
    /// The lines shown lately, so history sent again when we rejoin is not repeated.
    seen: SeenLines,
    /// When the session started: a server silent for [`NO_ANSWER_AFTER`] since is told.
    started: Instant,
    /// Lines sent before the server answered at all (a classic server answers only
    /// chat, so they must go): shown as waiting until it answers, and named as not
    /// relayed if it never does.
    unheard: VecDeque<String>,
}

/// Hashes of the last [`SEEN_LINES`] lines shown.
#[derive(Debug)]
struct SeenLines {
    keys: RandomState,
    hashes: VecDeque<u64>,
}

impl Action {
    /// Shows one of the client's own notices (the session's, or the client's around it).
    pub fn notice(notice: ClientNotice<'_>) -> Action {
        Action::Show {
            text: notice.to_string(),
            bell: false,
        }
    }
}

impl Session {
    /// A session whose first heartbeat (a hello) went out `now`, as the client found
    /// the server; its first actions go into `actions`. `random` jitters its
    /// heartbeats and draws its tokens.
    pub fn start(
        config: SessionConfig,
        random: Random,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> Session {
        // The name is asked for on the welcome: a classic server sends none, and would
        // relay a `/nick` to everyone as chat.
        let names = NameKeeper::new(config.name.clone());
        let mut random = random;
        let link = Link::Connecting {
            token: random.token(),
        };
        let mut session = Session {
            config,
            link,
            trust: Trust::Any,
            phase: Phase::Chatting,
            names,
            random,
            timers: Timers::default(),
            outgoing: Outgoing::new(now),
            typed: Typed::default(),
            inbound: Inbound::new(),
            label: None,
            // The hello that found the server went out as the session started.
            echoes_left: ECHOES_PER_HELLO,
            n_dropped_untold: 0,
            n_forged_untold: 0,
            seen: SeenLines::new(),
            started: now,
            unheard: VecDeque::new(),
        };
        session.after_heartbeat(now);
        session
            .timers
            .set(Due::NoAnswer, Some(now + NO_ANSWER_AFTER));
        session.pump(now, actions);
        session
    }

    /// Acts on `input`.
    pub fn handle(&mut self, input: Input<'_>, now: Instant, actions: &mut Vec<Action>) {
        if self.phase == Phase::Ended {
            return;
        }
        self.expire_handshake(now, actions);
        match input {
            // What was typed before `quit` is sent first, as piped input would expect;
            // with the server away, there is no one to send it to.
            Input::Typed(line) if quit_farewell(line).is_some() => {
                let farewell = quit_farewell(line).unwrap_or_default().to_string();
                self.phase = Phase::Closing { farewell };
                if self.standing() == Standing::Away {
                    self.leave(now, actions);
                }
            }
            Input::Interrupt => self.leave(now, actions),
            Input::Typed(line) if line.trim().is_empty() => {}
            Input::Typed(line) => {
                for piece in split_typed_line(line, self.config.max_message_bytes) {
                    self.outgoing.push(piece);
                }
            }
            Input::InputClosed if self.standing() == Standing::Away => self.leave(now, actions),
            Input::InputClosed => {
                self.phase = Phase::Closing {
                    farewell: String::new(),
                }
            }
            Input::Datagram(datagram) => self.receive(datagram, now, actions),
            Input::Dropped(n) => {
                self.n_dropped_untold += n;
                self.tell_drops(now, actions);
            }
            Input::Forged(n) => {
                self.n_forged_untold += n;
                self.tell_forged(now, actions);
            }
            Input::Refused => self.refused(now, actions),
            Input::Resumed(by) => self.resumed(now, by, actions),
        }
        self.pump(now, actions);
    }

    /// Does what is due at `now`: the heartbeat or the next try of an absent server,
    /// paced messages, telling of drops and of messages the room never relayed.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.phase == Phase::Ended {
            return;
        }
        // The wait for a command's answer is over, answered or not.
        if self.timers.is_due(Due::Answer, now) {
            self.timers.set(Due::Answer, None);
        }
        self.tell_drops(now, actions);
        self.tell_forged(now, actions);
        self.expire_handshake(now, actions);
        if let Link::Away {
            token,
            next_try,
            backoff,
        } = self.link
        {
            if now >= next_try {
                actions.push(self.heartbeat(now));
                let wait = self.jittered(backoff);
                self.link
                    .away(token, now + wait, (backoff * 2).min(RECONNECT_MAX));
            }
            return self.pump(now, actions);
        }
        if self.check_session(now, actions) {
            return self.pump(now, actions);
        }
        if self.link.is_unheard() && self.timers.is_due(Due::NoAnswer, now) {
            self.timers.set(Due::NoAnswer, None);
            let server = self.config.server.clone();
            let keys = self.config.leave_keys;
            self.show(
                ClientNotice::NoAnswerYet {
                    server: &server,
                    keys,
                },
                actions,
            );
        }
        if self.timers.is_due(Due::Heartbeat, now) || self.timers.is_due(Due::Probe, now) {
            actions.push(self.heartbeat(now));
            self.after_heartbeat(now);
        }
        for text in self.outgoing.expire(now) {
            self.show(ClientNotice::NotRelayed(&text), actions);
        }
        self.settle_inbound(now, actions);
        let again = self.typed.due(now);
        if !again.is_empty() {
            self.link.unanswered(now, Silence::Unanswered);
            self.arm_probe(now);
        }
        actions.extend(again.into_iter().map(Action::Send));
        self.pump(now, actions);
    }

    /// When [`Session::handle_timeout`] next has something to do, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.phase == Phase::Ended {
            return None;
        }
        let mut dues = vec![];
        if self.n_dropped_untold > 0 {
            dues.push(Due::TellDrops);
        }
        if self.n_forged_untold > 0 {
            dues.push(Due::TellForged);
        }
        // Only what the state has due while the server is away; lines wait, and
        // nothing else goes out.
        if let Link::Away { next_try, .. } = self.link {
            return [Some(next_try), self.timers.next_of(&dues)]
                .into_iter()
                .flatten()
                .min();
        }
        dues.extend([Due::Heartbeat, Due::Probe]);
        if matches!(self.phase, Phase::Closing { .. }) {
            dues.push(Due::Answer);
        }
        if self.link.is_unheard() {
            dues.push(Due::NoAnswer);
        }
        // Lines wait for our session, not for a time, while one is being opened: no
        // busy loop for them.
        let sending = self
            .outgoing
            .next_due()
            .filter(|_| !self.waiting_for_session());
        let session_lost = match self.link {
            Link::Secured {
                unanswered: Some(unanswered),
                ..
            } => unanswered.since.checked_add(self.session_lost_after()),
            _ => None,
        };
        let closing = (matches!(self.phase, Phase::Closing { .. }) && self.link.is_unheard())
            .then_some(self.started + NO_ANSWER_AFTER);
        [
            self.timers.next_of(&dues),
            sending,
            self.outgoing.next_expiry(),
            session_lost,
            closing,
            self.link.next_deadline(),
            self.inbound.next_deadline(),
            self.typed.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How many typed lines are not in the room yet: waiting to go, and, while the
    /// server is not answering as it should, sent and not yet confirmed.
    pub fn waiting(&self, now: Instant) -> usize {
        let unsure = match self.link {
            Link::Secured {
                unanswered: Some(unanswered),
                ..
            } => now.saturating_duration_since(unanswered.since) >= SHOWN_WAITING_AFTER,
            Link::Secured { .. } => false,
            Link::Classic { .. } => self.link.is_unheard(),
            Link::Connecting { .. } | Link::Handshaking { .. } | Link::Away { .. } => true,
        };
        let unconfirmed = if unsure {
            self.outgoing.unconfirmed() + self.unheard.len()
        } else {
            0
        };
        self.outgoing.waiting() + unconfirmed
    }

    /// Where the client stands with the server.
    pub fn standing(&self) -> Standing {
        match self.link {
            Link::Connecting { .. } | Link::Handshaking { .. } => Standing::Connecting,
            // Cookies alone (anyone can forge them) put us in no room.
            Link::Classic { .. } if self.link.is_unheard() => Standing::Connecting,
            Link::Secured { .. } | Link::Classic { .. } => Standing::Joined,
            Link::Away { .. } => Standing::Away,
        }
    }

    /// Our name as the server last confirmed it.
    pub fn name(&self) -> Option<&str> {
        self.names.confirmed.as_deref()
    }

    /// Which datagrams the session wants now.
    pub fn gate(&self) -> Gate {
        Gate::of(&self.link, self.trust)
    }

    /// Sends what the pace allows, unless the server is away, or speaks sessions and
    /// has not opened ours yet; leaves once closing and everything typed is done.
    fn pump(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.phase == Phase::Ended || self.standing() == Standing::Away {
            return;
        }
        if !self.waiting_for_session() {
            // A line is awaited once we know how the room shows us, and always in a
            // session (our server welcomes every session; its welcome may be late).
            let echoed = self.label.is_some() || self.link.is_secured();
            while let Some(text) = self.outgoing.take_due(now, echoed) {
                if awaits_answer(&text) {
                    self.timers.set(Due::Answer, Some(now + ANSWER_WAIT));
                }
                let action = self.send_typed(text.as_bytes(), now);
                actions.push(action);
            }
        }
        if !matches!(self.phase, Phase::Closing { .. }) {
            return;
        }
        match self.link {
            // A server that never answered: leave once it had its chance.
            _ if self.link.is_unheard() && now >= self.started + NO_ANSWER_AFTER => {
                self.leave(now, actions)
            }
            // Our `quit` goes in the session being opened, once it is.
            Link::Handshaking { .. } => {}
            _ if self.link.is_unheard() => {}
            // Piped input ends once everything typed was sent and relayed back (or
            // named as not relayed), so its echoes are shown before the client leaves.
            _ if self.outgoing.waiting() == 0
                && self.outgoing.all_confirmed()
                && self.timers.at(Due::Answer).is_none() =>
            {
                self.leave(now, actions)
            }
            _ => {}
        }
    }

    /// Transition: the server said goodbye, or a classic server's port is closed: try
    /// it again, or end.
    fn lost_server(&mut self, now: Instant, actions: &mut Vec<Action>) {
        match self.link {
            Link::Away { .. } => return,
            Link::Connecting { .. } => return self.end(Outcome::ServerDown, now, actions),
            _ => {}
        }
        if !self.config.reconnect || matches!(self.phase, Phase::Closing { .. }) {
            return self.end(Outcome::ServerDown, now, actions);
        }
        let keys = self.config.leave_keys;
        self.show(ClientNotice::ServerAway { keys }, actions);
        let first = self.jittered(RECONNECT_FIRST);
        self.go_away(now + first, RECONNECT_FIRST * 2);
    }

    /// Transition: our secured session went unanswered too long: join again at once.
    fn session_lost(&mut self, cause: Silence, now: Instant, actions: &mut Vec<Action>) {
        if !self.config.reconnect || matches!(self.phase, Phase::Closing { .. }) {
            return self.end(Outcome::ServerDown, now, actions);
        }
        let notice = match cause {
            Silence::Resumed(by) => ClientNotice::Resumed {
                secs: notices::whole_secs(by),
            },
            Silence::Unanswered | Silence::Refused => ClientNotice::SessionUnanswered {
                secs: notices::whole_secs(self.session_lost_after()),
                keys: self.config.leave_keys,
            },
        };
        self.show(notice, actions);
        // A hello at once: the server is most likely there, and forgot us.
        let next = self.jittered(RECONNECT_FIRST);
        self.go_away(now + next, RECONNECT_FIRST * 2);
        let hello = self.heartbeat(now);
        actions.push(hello);
    }

    /// Gives up the link: what was not confirmed goes again once the server is back,
    /// in a new session with a new token.
    fn go_away(&mut self, next_try: Instant, backoff: Duration) {
        if let Link::Secured { token, .. } = self.link {
            self.trust = Trust::FramedOnly { old: Some(token) };
        }
        let token = self.random.token();
        self.link.away(token, next_try, backoff);
        self.timers.set(Due::Probe, None);
        // The next session numbers what we type from 1 again; what was not taken is
        // sent again from the queue.
        self.typed = Typed::default();
        self.outgoing.resend_unconfirmed();
        self.outgoing.set_patience(UNCONFIRMED_AFTER);
    }

    /// An ICMP error said the server's port is closed. Anyone can forge one, so in a
    /// session it is only a hint: the session is probed, and given up only if the
    /// server stays silent. At the start it means the server is down.
    fn refused(&mut self, now: Instant, actions: &mut Vec<Action>) {
        match self.link {
            Link::Connecting { .. } => self.end(Outcome::ServerDown, now, actions),
            // At most one probe a second for them: a flood of forged errors draws no
            // flood of probes.
            Link::Secured { unanswered, .. } => {
                if unanswered.is_none()
                    && self.timers.at(Due::RefusedQuiet).is_none_or(|at| now >= at)
                {
                    self.link.unanswered(now, Silence::Refused);
                    self.timers.set(Due::Probe, Some(now));
                    self.timers.set(Due::RefusedQuiet, Some(now + PROBE_EVERY));
                }
            }
            // A handshake has its own deadline; away, we are trying already.
            Link::Handshaking { .. } | Link::Away { .. } => {}
            // A classic server has nothing to probe with. After a session, or cookies
            // that led nowhere, the error could be anyone's: hellos are going out
            // already.
            Link::Classic { .. } if self.trust == Trust::Any && !self.link.cookies_failed() => {
                self.lost_server(now, actions)
            }
            Link::Classic { .. } => {}
        }
    }

    /// The client ran again after being stopped: our session may have been evicted
    /// meanwhile, so it is probed at once, and rejoined (without calling it a server
    /// failure) if the server no longer knows it.
    fn resumed(&mut self, now: Instant, by: Duration, actions: &mut Vec<Action>) {
        if let Link::Secured { .. } = self.link {
            self.link.unanswered(now, Silence::Resumed(by));
            actions.push(self.heartbeat(now));
            self.after_heartbeat(now);
        }
    }

    /// How long a secured session may go unanswered before it is lost.
    fn session_lost_after(&self) -> Duration {
        self.config
            .heartbeat
            .saturating_mul(2)
            .min(SESSION_LOST_AFTER)
    }

    /// `interval` shortened by up to [`HEARTBEAT_JITTER`] at random.
    fn jittered(&mut self, interval: Duration) -> Duration {
        interval.mul_f64(1.0 - HEARTBEAT_JITTER * self.random.next_unit())
    }

    /// The heartbeat: a hello until we have a session, then `@im@` in our frame.
    fn heartbeat(&mut self, now: Instant) -> Action {
        if self.link.says_hello(now) {
            self.echoes_left = ECHOES_PER_HELLO;
            Action::Send(frame::HELLO.to_vec())
        } else {
            self.send(proto::HEARTBEAT)
        }
    }

    /// Schedules what follows a heartbeat sent `now`: the next one (the interval
    /// shortened by up to [`HEARTBEAT_JITTER`] at random; sooner while a session or a
    /// first answer is awaited), and, in a session, a probe if this one goes unanswered.
    fn after_heartbeat(&mut self, now: Instant) {
        let factor = 1.0 - HEARTBEAT_JITTER * self.random.next_unit();
        let interval = Duration::try_from_secs_f64(self.config.heartbeat.as_secs_f64() * factor);
        let mut due = interval.ok().and_then(|interval| now.checked_add(interval));
        let eager = match self.link {
            Link::Connecting { .. } => now < self.started + NO_ANSWER_AFTER,
            _ => self.waiting_for_session(),
        };
        if eager {
            let retry = now + HANDSHAKE_RETRY;
            due = Some(due.map_or(retry, |due| due.min(retry)));
        }
        self.timers.set(Due::Heartbeat, due);
        self.timers.set(Due::Probe, None);
        if self.link.is_secured() {
            self.link.unanswered(now, Silence::Unanswered);
            self.arm_probe(now);
        }
    }

    /// While our session goes unanswered, a heartbeat goes again every probe interval.
    fn arm_probe(&mut self, now: Instant) {
        let probe = (self.config.heartbeat / 5).min(PROBE_EVERY);
        self.timers.set(Due::Probe, now.checked_add(probe));
    }

    /// Whether our session went unanswered too long: then it is lost (the server
    /// restarted, or forgot us), and joined again.
    fn check_session(&mut self, now: Instant, actions: &mut Vec<Action>) -> bool {
        let Link::Secured {
            unanswered: Some(unanswered),
            ..
        } = self.link
        else {
            return false;
        };
        // After a stop, a probe unanswered for a few round trips says enough: the
        // server most likely evicted us meanwhile.
        let lost_after = match unanswered.cause {
            Silence::Resumed(_) => self.session_lost_after().min(RESUMED_LOST_AFTER),
            Silence::Unanswered | Silence::Refused => self.session_lost_after(),
        };
        if now.saturating_duration_since(unanswered.since) < lost_after {
            return false;
        }
        self.session_lost(unanswered.cause, now, actions);
        true
    }

    /// Whether a session is due and not open yet: lines wait for it.
    fn waiting_for_session(&self) -> bool {
        match self.link {
            Link::Handshaking { .. } => true,
            // Back from away, a server that gave us a session gives one again.
            Link::Connecting { .. } | Link::Classic { .. } | Link::Away { .. } => {
                matches!(self.trust, Trust::FramedOnly { .. })
            }
            Link::Secured { .. } => false,
        }
    }

    /// Gives up waiting for a session a cookie promised, once its time is over; past
    /// [`FREE_HANDSHAKES`] failures in a row, says so and waits to try again.
    fn expire_handshake(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let Link::Handshaking { until, .. } = self.link else {
            return;
        };
        if now < until {
            return;
        }
        let backoff = |n: u32| {
            HANDSHAKE_BACKOFF_FIRST
                .saturating_mul(1 << n.min(16))
                .min(HANDSHAKE_BACKOFF_MAX)
        };
        if let Some(wait) = self.link.handshake_failed(now, FREE_HANDSHAKES, backoff) {
            // After a session, lines wait for the next; before, they go bare.
            let lines_wait = matches!(self.trust, Trust::FramedOnly { .. });
            if !lines_wait {
                // A classic member from now on, as the notice says: at once.
                actions.push(Action::Send(proto::HEARTBEAT.to_vec()));
            }
            self.show(
                ClientNotice::NoSession {
                    retry_secs: notices::whole_secs(wait),
                    lines_wait,
                },
                actions,
            );
        }
    }

    /// A line we typed, for the server: numbered in our session's frame, and sent
    /// again until the server says it took it; bare to a classic server.
    fn send_typed(&mut self, body: &[u8], now: Instant) -> Action {
        match self.link {
            Link::Secured { token, .. } => {
                let datagram = self.typed.send(token, body, now);
                self.link.unanswered(now, Silence::Unanswered);
                if self.timers.at(Due::Probe).is_none() {
                    self.arm_probe(now);
                }
                Action::Send(datagram)
            }
            _ if self.link.is_unheard() => {
                if self.unheard.len() == SEEN_LINES {
                    self.unheard.pop_front();
                }
                self.unheard
                    .push_back(String::from_utf8_lossy(body).into_owned());
                Action::Send(body.to_vec())
            }
            _ => Action::Send(body.to_vec()),
        }
    }

    /// `body` as a datagram for the server: in our session's frame, if we have one.
    fn send(&self, body: &[u8]) -> Action {
        match self.link {
            Link::Secured { token, .. } => Action::Send(frame::session(token, body)),
            _ => Action::Send(body.to_vec()),
        }
    }

    /// Shows one of the client's own notices.
    fn show(&self, notice: ClientNotice<'_>, actions: &mut Vec<Action>) {
        actions.push(Action::notice(notice));
    }

    /// Shows how many datagrams were ignored for want of our token: at once for the
    /// first, then at most every [`FORGED_TOLD_EVERY`], and before the session ends.
    fn tell_forged(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.n_forged_untold == 0
            || (self.timers.at(Due::TellForged).is_some_and(|at| now < at)
                && self.phase != Phase::Ended)
        {
            return;
        }
        let n = std::mem::take(&mut self.n_forged_untold);
        self.show(ClientNotice::Forged(n), actions);
        self.timers
            .set(Due::TellForged, Some(now + FORGED_TOLD_EVERY));
    }

    /// Shows how many received lines were dropped, at once for the first drops, then at
    /// most every [`DROPS_TOLD_EVERY`], and always before the session ends.
    fn tell_drops(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.n_dropped_untold == 0
            || (self.timers.at(Due::TellDrops).is_some_and(|at| now < at)
                && self.phase != Phase::Ended)
        {
            return;
        }
        let n = std::mem::take(&mut self.n_dropped_untold);
        self.show(ClientNotice::DroppedHere(n), actions);
        self.timers
            .set(Due::TellDrops, Some(now + DROPS_TOLD_EVERY));
    }

    /// A cookie from the server: it speaks sessions. Echoed with our token while we
    /// open a session (a few per hello); ignored once we have one.
    fn on_cookie(&mut self, cookie: Cookie, now: Instant, actions: &mut Vec<Action>) {
        if !self.link.answers_cookies(now) || self.echoes_left == 0 {
            return;
        }
        self.echoes_left -= 1;
        if !matches!(self.link, Link::Handshaking { .. }) {
            self.link.handshake(now + HANDSHAKE_WAIT);
            // Hellos go again soon if this echo is lost.
            self.after_heartbeat(now);
        }
        let mut echo = Vec::with_capacity(frame::ECHO_FRAME);
        frame::write_echo(&mut echo, cookie, self.link.token());
        actions.push(Action::Send(echo));
    }

    /// Leaves: `quit` in whatever the server may hold us by, then the end.
    fn leave(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.phase == Phase::Ended {
            return;
        }
        let old = match self.trust {
            Trust::FramedOnly { old } => old,
            Trust::Any => None,
        };
        match self.link {
            // Only our server, in a session, reads `/quit MESSAGE`; a classic server
            // would relay it as a line.
            Link::Secured { token, .. } => {
                let goodbye = match &self.phase {
                    Phase::Closing { farewell } if !farewell.is_empty() => {
                        format!("/quit {farewell}").into_bytes()
                    }
                    _ => proto::QUIT.to_vec(),
                };
                actions.push(Action::Send(frame::session(token, &goodbye)))
            }
            // The echo may have made us a member of a session (ours) or the hello a
            // classic member (of a classic server): a `quit` for each.
            Link::Handshaking { token, .. } => {
                actions.push(Action::Send(frame::session(token, proto::QUIT)));
                actions.push(Action::Send(proto::QUIT.to_vec()));
            }
            // Framed in the session we lost track of: the server may still hold it,
            // and would take a bare `quit` from its address for a forgery.
            Link::Away { .. } | Link::Connecting { .. } | Link::Classic { .. } => match old {
                Some(old) => actions.push(Action::Send(frame::session(old, proto::QUIT))),
                None => actions.push(Action::Send(proto::QUIT.to_vec())),
            },
        }
        // Leaving before the server ever sent a line is no success.
        let outcome = if self.link.is_unheard() {
            Outcome::NoAnswer
        } else {
            Outcome::Quit
        };
        self.end(outcome, now, actions);
    }

    fn end(&mut self, outcome: Outcome, now: Instant, actions: &mut Vec<Action>) {
        // Nothing typed goes unaccounted for: what never went, and what went and was
        // not relayed back, is named.
        let (never_sent, unconfirmed) = self.outgoing.drain();
        for text in unconfirmed.iter().chain(&self.unheard) {
            self.show(ClientNotice::NotRelayed(text), actions);
        }
        self.unheard.clear();
        for text in &never_sent {
            self.show(ClientNotice::NotSent(text), actions);
        }
        self.phase = Phase::Ended;
        self.tell_drops(now, actions);
        self.tell_forged(now, actions);
        actions.push(Action::End(outcome));
    }

    fn receive(&mut self, datagram: &[u8], now: Instant, actions: &mut Vec<Action>) {
        match self.gate().judge(datagram) {
            Verdict::Pass => {}
            Verdict::Ignore => return,
            Verdict::Forged => {
                self.n_forged_untold += 1;
                return self.tell_forged(now, actions);
            }
        }
        match frame::read(datagram) {
            Framed::Cookie(cookie) => self.on_cookie(cookie, now, actions),
            // Unnumbered, in our frame: the goodbye, or the answer to an echo when the
            // room had no place for us. Neither opens the session; lines go as they
            // would (to be refused and named, not held), and the next hello tries again.
            Framed::Session { body, .. } => {
                if let Link::Handshaking { .. } = self.link {
                    self.link
                        .handshake_failed(now, u32::MAX, |_| Duration::ZERO);
                }
                // In our token's frame: the server itself speaks.
                if self.link.heard_plain() {
                    self.heard_at_last();
                }
                self.read_line(body, now, actions);
            }
            Framed::Line { token, seq, line } => {
                self.numbered(token, seq, line, false, now, actions);
            }
            Framed::History { token, seq, body } => {
                self.numbered(token, seq, body, true, now, actions);
            }
            Framed::Answer {
                token,
                latest,
                received,
            } => {
                self.heard_in_session(token, actions);
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
            Framed::Plain(datagram) => {
                if self.standing() == Standing::Away {
                    self.show(ClientNotice::Back, actions);
                }
                if self.link.heard_plain() {
                    self.heard_at_last();
                    self.after_heartbeat(now);
                }
                self.read_line(datagram, now, actions);
            }
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
        self.heard_in_session(token, actions);
        let in_order = self.inbound.line(seq, line, earlier, now);
        self.show_in_order(in_order, now, actions);
        self.settle_inbound(now, actions);
    }

    /// The server spoke in our session: the first time, it is open (a numbered line
    /// goes only to a member); and it stands.
    fn heard_in_session(&mut self, token: Token, actions: &mut Vec<Action>) {
        if self.link.secure(token) {
            // A session again, after one was lost: we are back.
            if let Trust::FramedOnly { .. } = self.trust {
                self.show(ClientNotice::Back, actions);
            }
            self.trust = Trust::FramedOnly {
                old: match self.trust {
                    Trust::FramedOnly { old } => old,
                    Trust::Any => None,
                },
            };
            self.heard_at_last();
            self.inbound = Inbound::new();
            self.outgoing.set_patience(UNCONFIRMED_IN_SESSION);
        }
        self.link.answered();
        self.timers.set(Due::Probe, None);
    }

    /// The server has sent its first line (in a session or not): no more telling of
    /// its silence, and what was sent meanwhile is its room's now.
    fn heard_at_last(&mut self) {
        self.timers.set(Due::NoAnswer, None);
        self.unheard.clear();
    }

    /// Shows lines now in order: those from before we joined as earlier (unless shown
    /// already, before a rejoin), the rest read as any line from the server.
    fn show_in_order(&mut self, lines: Vec<InOrder>, now: Instant, actions: &mut Vec<Action>) {
        for (line, earlier) in lines {
            if self.phase == Phase::Ended {
                return;
            }
            if earlier {
                let (age, line) = frame::history_parts(&line);
                let decoded = proto::decode(proto::trim_line_end(line));
                let text = proto::terminal_safe(&decoded);
                if !self.seen.contains(&text) {
                    actions.push(Action::ShowEarlier {
                        text: text.into_owned(),
                        age,
                    });
                }
            } else {
                self.read_line(&line, now, actions);
            }
        }
    }

    /// Does what the numbering of our session asks now: asks again for lines missed,
    /// goes on past those given up on, and tells how many were lost.
    fn settle_inbound(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let due = self.inbound.due(now);
        if let (Some((from, to)), Link::Secured { token, .. }) = (due.ask, self.link) {
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
            self.show(ClientNotice::Lost(lost), actions);
        }
    }

    /// A line from the server (or its goodbye), as a classic datagram would carry it.
    fn read_line(&mut self, datagram: &[u8], now: Instant, actions: &mut Vec<Action>) {
        // After cookies that led nowhere, an unframed goodbye or removal could be
        // anyone's: it moves nothing (the removal is shown, as text).
        let forgeable = self.link.cookies_failed();
        let line = match proto::parse_reply(datagram) {
            Reply::ServerGone if forgeable => return,
            Reply::ServerGone => return self.lost_server(now, actions),
            Reply::Line(line) => line,
        };
        let decoded = proto::decode(line);
        let mut text = proto::terminal_safe(&decoded);
        // Our own notices' mark, from a server: shown as the server's words, not ours.
        if text.starts_with(CLIENT_MARKER) {
            text = format!("{FROM_SERVER}{text}").into();
        }
        let notice = Notice::parse(&text);
        match notice {
            // Removed from a room we were never welcomed into: no removal of ours.
            Some(Notice::YouWereRemoved) if !forgeable && self.label.is_some() => {
                return self.end(Outcome::Removed, now, actions)
            }
            Some(Notice::Welcome { who, limit, .. }) => {
                self.label = Some(who.to_string());
                self.outgoing.set_limit(limit, now);
            }
            Some(Notice::NowCalled(name)) => self.label = Some(name.to_string()),
            // A verifying server took us for a classic client (our hello went unanswered
            // for a while): prove the address the way a person would.
            Some(Notice::JoinWith(code)) if self.trust == Trust::Any => {
                self.outgoing.push_front(format!("/join {code}"));
            }
            Some(Notice::SlowDown { dropped }) => {
                for text in self.outgoing.resend_dropped(dropped, now) {
                    self.show(ClientNotice::NotRelayed(&text), actions);
                }
            }
            _ => {}
        }
        if let Some(label) = &self.label {
            self.outgoing.confirm(&text, label);
        }
        if text.starts_with(proto::NOTICE_PREFIX) {
            self.timers.set(Due::Answer, None);
        }
        if let Some(request) = notice.and_then(|n| self.names.on_notice(n, now)) {
            self.outgoing.push_front(request);
        }
        let bell = self.config.bell && should_ring(&text, notice, self.name());
        if notice.is_none() {
            self.seen.insert(&text);
        }
        actions.push(Action::Show {
            text: text.into_owned(),
            bell,
        });
    }
}

impl SeenLines {
    fn new() -> SeenLines {
        SeenLines {
            keys: RandomState::new(),
            hashes: VecDeque::new(),
        }
    }

    fn insert(&mut self, line: &str) {
        if self.hashes.len() == SEEN_LINES {
            self.hashes.pop_front();
        }
        self.hashes.push_back(self.keys.hash_one(line));
    }

    fn contains(&self, line: &str) -> bool {
        self.hashes.contains(&self.keys.hash_one(line))
    }
}

/// Whether a typed line is a command the room answers with a notice (not `/me`, which
/// is confirmed by its echo, nor a leave).
fn awaits_answer(text: &str) -> bool {
    let safe = proto::terminal_safe(text);
    match proto::parse_chat(&safe) {
        proto::Chat::Command(proto::Command::Me(_) | proto::Command::Quit(_)) => false,
        proto::Chat::Command(_) => true,
        proto::Chat::Text(_) => false,
    }
}

/// If a typed line means leaving, what it says on the way out (often nothing): `quit`
/// (which the server reads as such), or `/quit [MESSAGE]` and `/exit [MESSAGE]`, in any
/// case.
fn quit_farewell(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.eq_ignore_ascii_case("quit") {
        return Some("");
    }
    match proto::parse_chat(line) {
        proto::Chat::Command(proto::Command::Quit(farewell)) => Some(farewell),
        _ => None,
    }
}

/// Whether a line from the server deserves the bell: a private message to us, or
/// someone else's chat line or action (`* bob pokes alice`) that mentions our name as
/// a word.
fn should_ring(line: &str, notice: Option<Notice<'_>>, own_name: Option<&str>) -> bool {
    matches!(notice, Some(Notice::PrivateFrom { .. }))
        || whose(line, notice, own_name) == Whose::MentionsUs
}

/// How a line from the room stands to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// Our own chat line or action.
    Ours,
    /// Someone else's chat line or action that names us as a word (under the name
    /// fold: `Alice`, `a1ice`).
    MentionsUs,
    /// Anything else: others' lines, the server's notices.
    Other,
}

/// Whose `line` is, for us called `own_name`; `notice` is the line read as one of the
/// server's notices with fixed words, if it is one.
pub fn whose(line: &str, notice: Option<Notice<'_>>, own_name: Option<&str>) -> Whose {
    let Some(own) = own_name else {
        return Whose::Other;
    };
    let said = match line.strip_prefix(proto::NOTICE_PREFIX) {
        // An action reads as `* <who> <action>`; any other notice is the server's.
        Some(action) if notice.is_none() => action,
        Some(_) => return Whose::Other,
        None => line,
    };
    match said.split_once(' ') {
        Some((sender, _)) if name::skeleton(sender) == name::skeleton(own) => Whose::Ours,
        Some((_, text)) if name::mentions(text, own) => Whose::MentionsUs,
        _ => Whose::Other,
    }
}

#[cfg(test)]
mod tests;
