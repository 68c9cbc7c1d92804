//! The session's tie to the server: one state, carrying its own data, and the
//! [`Gate`] that says which datagrams from the server the session wants.
//!
//! ```text
//!   Connecting ──cookie──▶ Handshaking ──our token──▶ Secured ──silence──▶ Away
//!       │                      │                         ▲                 │
//!       │ plain line           │ no session in time      └──our token──────┤
//!       ▼                      ▼                                           │
//!    Classic ◀─────────────────┘ (tries a handshake again, with back-off)  │
//!       ▲                                                                   │
//!       └────────────────────── plain line, never secured ─────────────────┘
//! ```
//!
//! Once a session was ever secured, nothing without our token is acted on
//! ([`Trust::FramedOnly`]), so no unframed datagram can move the link.

use std::time::{Duration, Instant};

use crate::proto::frame::{self, Framed, Token, TOKEN_LEN};

/// Where the client stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    /// Nothing heard from the server yet: hellos go out (a classic server takes them
    /// as heartbeats, ours answers with a cookie).
    Connecting { token: Token },
    /// A cookie came and was echoed with `token`; our lines wait for the session
    /// until `until`. `failures`: handshakes that came to nothing before this one;
    /// `heard`: whether the server had sent a line before (a cookie anyone can forge).
    Handshaking {
        token: Token,
        until: Instant,
        failures: u32,
        heard: bool,
    },
    /// The server opened our session: every datagram carries the token.
    Secured {
        token: Token,
        unanswered: Option<Unanswered>,
    },
    /// The server talks without a session: a classic server, or handshakes came to
    /// nothing `failures` times (forged cookies?). Datagrams go bare; hellos still go
    /// as heartbeats, and cookies are answered again from `retry_at`. `heard`: whether
    /// the server has sent a line (not only cookies): until then we are not in a room.
    Classic {
        token: Token,
        failures: u32,
        retry_at: Option<Instant>,
        heard: bool,
    },
    /// The server went away: tried again at `next_try`, then after `backoff`.
    Away {
        token: Token,
        next_try: Instant,
        backoff: Duration,
    },
}

/// A secured session that has not answered lately: since when, and why we listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unanswered {
    pub since: Instant,
    pub cause: Silence,
}

/// Why a secured session is being probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Silence {
    /// A heartbeat or a typed line went unanswered.
    Unanswered,
    /// The port looked closed (an ICMP error, which anyone can forge): a hint only.
    Refused,
    /// This client was stopped (its clock jumped by this much): it may have been
    /// evicted meanwhile.
    Resumed(Duration),
}

/// Whether anything unframed may still be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trust {
    /// No session yet: a classic server's plain datagrams are all there is.
    Any,
    /// We had a session: only frames with our token count. `old`: the token of the
    /// session given up, whose late frames are no forgery.
    FramedOnly { old: Option<Token> },
}

/// Which datagrams from the server the session wants, as of its last step: one rule,
/// used by the session and by the receiving thread (which drops the rest before they
/// take a place in the queue, so forged datagrams cannot crowd out the room's lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    token: Token,
    secured: bool,
    trust: Trust,
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

impl Link {
    /// The token of our session, or of the one we would open.
    pub fn token(&self) -> Token {
        match *self {
            Link::Connecting { token, .. }
            | Link::Handshaking { token, .. }
            | Link::Secured { token, .. }
            | Link::Classic { token, .. }
            | Link::Away { token, .. } => token,
        }
    }

    /// Whether every datagram goes in our session's frame.
    pub fn is_secured(&self) -> bool {
        matches!(self, Link::Secured { .. })
    }

    /// Whether a hello (not a framed heartbeat) is our heartbeat at `now`: not in a
    /// session, nor while failed handshakes wait to be tried again (then the plain
    /// `@im@` keeps us a classic member, as the notice says).
    pub fn says_hello(&self, now: Instant) -> bool {
        match *self {
            Link::Secured { .. } => false,
            Link::Classic {
                retry_at: Some(at), ..
            } => now >= at,
            _ => true,
        }
    }

    /// Whether the server has not sent us a line yet (in a session or not): cookies,
    /// which anyone can forge, do not count.
    pub fn is_unheard(&self) -> bool {
        match *self {
            Link::Connecting { .. } => true,
            Link::Handshaking { heard, .. } | Link::Classic { heard, .. } => !heard,
            Link::Secured { .. } | Link::Away { .. } => false,
        }
    }

    /// Whether cookies came that led nowhere: the server speaks sessions, or someone
    /// forges cookies from its address. Then an unframed datagram (or an ICMP error)
    /// could be anyone's, and moves nothing.
    pub fn cookies_failed(&self) -> bool {
        matches!(*self, Link::Classic { failures, .. } if failures > 0)
    }

    /// Whether a cookie now gets an echo: not in a session, not while waiting to try
    /// again after failed handshakes.
    pub fn answers_cookies(&self, now: Instant) -> bool {
        match *self {
            Link::Connecting { .. } | Link::Handshaking { .. } | Link::Away { .. } => true,
            Link::Classic { retry_at, .. } => retry_at.is_none_or(|at| now >= at),
            Link::Secured { .. } => false,
        }
    }

    /// Transition: a cookie was echoed with our token; lines wait for the session
    /// until `until`.
    pub fn handshake(&mut self, until: Instant) {
        let (failures, heard) = match *self {
            Link::Classic {
                failures, heard, ..
            } => (failures, heard),
            Link::Handshaking { .. } => return,
            _ => (0, false),
        };
        *self = Link::Handshaking {
            token: self.token(),
            until,
            failures,
            heard,
        };
    }

    /// Transition: the server spoke in the session we were opening. True if it opened
    /// now (false if it was open, or `token` is not ours).
    pub fn secure(&mut self, token: Token) -> bool {
        if self.token() != token || self.is_secured() {
            return false;
        }
        *self = Link::Secured {
            token,
            unanswered: None,
        };
        true
    }

    /// Transition: the server sent a plain line and we never had a session: it talks
    /// without one. True if that is news (we were not in its room).
    pub fn heard_plain(&mut self) -> bool {
        match self {
            Link::Connecting { token } | Link::Away { token, .. } => {
                *self = Link::Classic {
                    token: *token,
                    failures: 0,
                    retry_at: None,
                    heard: true,
                };
                true
            }
            Link::Handshaking { heard, .. } | Link::Classic { heard, .. } if !*heard => {
                *heard = true;
                true
            }
            _ => false,
        }
    }

    /// Transition: the handshake's time ran out without a session. After
    /// `free_tries` failures in a row, cookies wait `backoff(failures)` to be answered
    /// again. Returns the wait, when there is one.
    pub fn handshake_failed(
        &mut self,
        now: Instant,
        free_tries: u32,
        backoff: impl Fn(u32) -> Duration,
    ) -> Option<Duration> {
        let Link::Handshaking {
            token,
            failures,
            heard,
            ..
        } = *self
        else {
            return None;
        };
        let failures = failures + 1;
        let wait = (failures >= free_tries).then(|| backoff(failures - free_tries));
        *self = Link::Classic {
            token,
            failures,
            retry_at: wait.map(|wait| now + wait),
            heard,
        };
        wait
    }

    /// Transition: the server is gone; try it again at `next_try` with a new token.
    pub fn away(&mut self, token: Token, next_try: Instant, backoff: Duration) {
        *self = Link::Away {
            token,
            next_try,
            backoff,
        };
    }

    /// Transition: a frame with our token came: a secured session stands.
    pub fn answered(&mut self) {
        if let Link::Secured { unanswered, .. } = self {
            *unanswered = None;
        }
    }

    /// Transition: a secured session is to be probed for `cause`, from `now` (kept
    /// from the first cause while it stays unanswered). A stop says why the session
    /// will be lost, and its length is taken off the silence counted so far: the time
    /// stopped is no silence of the server's (and stops one after another cannot keep
    /// a silent server's session for ever, as only the time stopped is forgiven).
    pub fn unanswered(&mut self, now: Instant, cause: Silence) {
        if let Link::Secured { unanswered, .. } = self {
            match (unanswered.as_mut(), cause) {
                (Some(probe), Silence::Resumed(by)) => {
                    probe.since = probe.since.checked_add(by).map_or(now, |s| s.min(now));
                    probe.cause = cause;
                }
                (Some(_), _) => {}
                (None, _) => *unanswered = Some(Unanswered { since: now, cause }),
            }
        }
    }

    /// When the state itself has something due: the end of a handshake, the next try
    /// of an absent server. (A classic link's `retry_at` wakes nothing: the next
    /// hello's cookie is answered once it has passed.)
    pub fn next_deadline(&self) -> Option<Instant> {
        match *self {
            Link::Handshaking { until, .. } => Some(until),
            Link::Away { next_try, .. } => Some(next_try),
            Link::Classic { .. } | Link::Connecting { .. } | Link::Secured { .. } => None,
        }
    }
}

impl Gate {
    /// A gate that passes everything: before the session has spoken.
    pub fn open() -> Gate {
        Gate {
            token: Token([0; TOKEN_LEN]),
            secured: false,
            trust: Trust::Any,
        }
    }

    /// The gate for `link` under `trust`.
    pub(super) fn of(link: &Link, trust: Trust) -> Gate {
        Gate {
            token: link.token(),
            secured: link.is_secured(),
            trust,
        }
    }

    /// Whether the session wants `datagram`. Once it has had a session, nothing from
    /// the server goes without a frame of our token; before, anything does.
    pub fn judge(&self, datagram: &[u8]) -> Verdict {
        let framed = frame::read(datagram);
        let old = match self.trust {
            Trust::FramedOnly { old } => old,
            Trust::Any => None,
        };
        match (framed, framed.from_server_in_session()) {
            (Framed::Cookie(_), _) if self.secured => Verdict::Ignore,
            (Framed::Cookie(_), _) => Verdict::Pass,
            (_, Some(token)) if token == self.token => Verdict::Pass,
            (_, Some(token)) if Some(token) == old => Verdict::Ignore,
            (Framed::Plain(_), _) if self.trust == Trust::Any => Verdict::Pass,
            _ => Verdict::Forged,
        }
    }
}
