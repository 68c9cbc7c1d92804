//! Property tests of the client session (`client::session::Session`): driven with
//! arbitrary datagrams (framed and not, forged and not, some from an honest server
//! that answers the session's own echoes), typed lines, ICMP errors, stops of the
//! process and the passing of time, it never panics, never acts on an unframed datagram
//! once it had a session, always makes progress when a deadline is handled, and loses
//! no typed line in silence.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use udpchat::client::session::{Action, ClientNotice, Input, Random, Session, SessionConfig};
use udpchat::proto::frame::{self, Cookie, Framed, Token, COOKIE_LEN, FRAME_MARK, TOKEN_LEN};

/// One thing that can happen to a session.
#[derive(Debug, Clone)]
enum Step {
    /// The person types a line.
    Typed(String),
    /// A datagram without a frame, from the server or someone forging its address.
    Plain(Vec<u8>),
    /// A cookie (the server's, or forged: the session cannot tell).
    Cookie(u8),
    /// The honest server: a numbered line in the session the last echo asked for.
    Line(String),
    /// The honest server: the answer to what the session sent.
    Answer,
    /// A frame with a token that is not ours.
    ForgedFrame(Vec<u8>),
    /// An ICMP error: the port looked closed.
    Refused,
    /// Time passes; every deadline on the way is handled.
    Wait(u64),
    /// The process was stopped this many seconds.
    Resumed(u64),
    /// The input ends.
    InputClosed,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => "[a-z]{1,12}".prop_map(Step::Typed),
        2 => prop_oneof![
            Just(b"* you joined as 127.0.0.1:5 (1 here; /help for commands)".to_vec()),
            Just(b"* you are now alice".to_vec()),
            Just(Vec::new()),
            Just(b"* you were removed by the server".to_vec()),
            Just(b"* the server is going away".to_vec()),
            "\\PC{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..60),
        ]
        .prop_map(Step::Plain),
        2 => any::<u8>().prop_map(Step::Cookie),
        3 => "[a-z ]{1,20}".prop_map(|text| Step::Line(format!("bob {text}"))),
        2 => Just(Step::Answer),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::ForgedFrame),
        1 => Just(Step::Refused),
        3 => (0u64..8000).prop_map(Step::Wait),
        1 => (3u64..30).prop_map(Step::Resumed),
        1 => Just(Step::InputClosed),
    ]
}

/// The session under test, what it did, and an honest server's view of it.
struct Harness {
    session: Session,
    now: Instant,
    /// The token of the last echo the session sent: the session the server opens.
    echoed: Option<Token>,
    /// The next number the honest server gives a line.
    next_seq: u64,
    /// The highest typed number the server took, and the typed lines it has not
    /// relayed yet.
    taken: u64,
    to_relay: Vec<Vec<u8>>,
    /// The token the honest server has welcomed (so the session knows its label).
    welcomed: Option<Token>,
    /// Whether the session ever sent a session frame (so it had a session).
    secured: bool,
    /// Every datagram sent, and every line shown.
    sent: Vec<Vec<u8>>,
    /// Datagrams sent bare before any welcome: to a server that never said how it
    /// shows us, whose echo cannot be recognised (the Python tutorial's server).
    sent_unwelcomed: Vec<Vec<u8>>,
    shown: Vec<String>,
    ended: bool,
}

impl Harness {
    fn new() -> Harness {
        let now = Instant::now();
        let mut actions = Vec::new();
        let config = SessionConfig {
            server: "127.0.0.1:9999".to_string(),
            heartbeat: Duration::from_secs(5),
            max_message_bytes: 1024,
            name: Some("alice".to_string()),
            bell: false,
            reconnect: true,
            leave_keys: "Ctrl-D",
        };
        let session = Session::start(config, Random::new(11), now, &mut actions);
        let mut harness = Harness {
            session,
            now,
            echoed: None,
            next_seq: 1,
            taken: 0,
            to_relay: Vec::new(),
            welcomed: None,
            secured: false,
            sent: Vec::new(),
            sent_unwelcomed: Vec::new(),
            shown: Vec::new(),
            ended: false,
        };
        harness.record(&actions);
        harness
    }

    fn record(&mut self, actions: &[Action]) {
        for action in actions {
            assert!(!self.ended, "nothing after the end: {actions:?}");
            match action {
                Action::Send(datagram) => {
                    match frame::read(datagram) {
                        Framed::Echo { token, .. } => self.echoed = Some(token),
                        Framed::Session { .. } | Framed::Typed { .. } => self.secured = true,
                        _ => {}
                    }
                    if let Framed::Typed { token, seq, body } = frame::read(datagram) {
                        if Some(token) == self.echoed && seq > self.taken {
                            self.taken = seq;
                            self.to_relay.push(body.to_vec());
                        }
                    }
                    let welcomed = self.shown.iter().any(|l| l.starts_with("* you joined as "));
                    if !welcomed && datagram.first() != Some(&FRAME_MARK) {
                        self.sent_unwelcomed.push(datagram.clone());
                    }
                    self.sent.push(datagram.clone());
                }
                Action::Show { text, .. } | Action::ShowEarlier { text, .. } => {
                    self.shown.push(text.clone())
                }
                Action::End(_) => self.ended = true,
            }
        }
    }

    /// The honest server says `line` in the session `token`: after a welcome naming
    /// us `alice`, the first time.
    fn server_line(&mut self, token: Token, line: &[u8]) {
        if self.welcomed != Some(token) {
            self.welcomed = Some(token);
            let welcome = b"* you joined as alice (1 here; /help for commands)";
            let datagram = frame::line(token, self.next_seq, welcome, false);
            self.next_seq += 1;
            self.input(Input::Datagram(&datagram));
        }
        let datagram = frame::line(token, self.next_seq, line, false);
        self.next_seq += 1;
        self.input(Input::Datagram(&datagram));
    }

    fn input(&mut self, input: Input<'_>) -> Vec<Action> {
        let mut actions = Vec::new();
        self.session.handle(input, self.now, &mut actions);
        self.record(&actions);
        actions
    }

    /// Lets `millis` pass, handling every deadline on the way; each handled deadline
    /// must move the next one on.
    fn wait(&mut self, millis: u64) {
        let until = self.now + Duration::from_millis(millis);
        for _ in 0..10_000 {
            let Some(due) = self.session.next_deadline().filter(|&due| due <= until) else {
                break;
            };
            self.now = self.now.max(due);
            let mut actions = Vec::new();
            self.session.handle_timeout(self.now, &mut actions);
            self.record(&actions);
            if let Some(next) = self.session.next_deadline() {
                assert!(
                    next > self.now,
                    "a handled deadline must move on: {:?} after {:?}",
                    next - self.now,
                    self.now
                );
            }
        }
        self.now = until;
    }
}

fn cookie(n: u8) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_cookie(&mut out, Cookie([n; COOKIE_LEN]));
    out
}

/// Whether a shown line is the notice of datagrams ignored as forged.
fn is_forged_notice(text: &str) -> bool {
    (1..=1000).any(|n| text == ClientNotice::Forged(n).to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_session_holds_whatever_happens(steps in proptest::collection::vec(step(), 1..80)) {
        let mut h = Harness::new();
        let mut typed: Vec<String> = Vec::new();
        for step in &steps {
            if h.ended {
                break;
            }
            match step {
                Step::Typed(text) => {
                    if !["quit"].contains(&text.as_str()) {
                        typed.push(text.clone());
                    }
                    h.input(Input::Typed(text));
                }
                Step::Plain(bytes) => {
                    let secured = h.secured;
                    let before = h.session.standing();
                    let actions = h.input(Input::Datagram(bytes));
                    if secured && bytes.first() != Some(&FRAME_MARK) {
                        // Once it had a session, nothing unframed is acted on: at most
                        // the notice that it was ignored.
                        for action in &actions {
                            let ok = matches!(action, Action::Show { text, .. } if is_forged_notice(text));
                            prop_assert!(ok, "acted on {:?}: {:?}", String::from_utf8_lossy(bytes), actions);
                        }
                        prop_assert_eq!(h.session.standing(), before);
                    }
                }
                Step::Cookie(n) => {
                    h.input(Input::Datagram(&cookie(*n)));
                }
                Step::Line(text) => {
                    if let Some(token) = h.echoed {
                        h.server_line(token, text.as_bytes());
                    }
                }
                Step::Answer => {
                    if let Some(token) = h.echoed {
                        let mut datagram = Vec::new();
                        frame::write_answer(&mut datagram, token, h.next_seq - 1, h.taken);
                        h.input(Input::Datagram(&datagram));
                        // And the room relays what it took, as the room does.
                        for body in std::mem::take(&mut h.to_relay) {
                            let mut line = b"alice ".to_vec();
                            line.extend_from_slice(&body);
                            h.server_line(token, &line);
                        }
                    }
                }
                Step::ForgedFrame(bytes) => {
                    let mut datagram = frame::line(Token([0xAB; TOKEN_LEN]), 1, bytes, false);
                    datagram.truncate(datagram.len().min(10 + bytes.len()));
                    h.input(Input::Datagram(&datagram));
                }
                Step::Refused => {
                    let (secured, before) = (h.secured, h.session.standing());
                    let actions = h.input(Input::Refused);
                    if secured {
                        // An ICMP error anyone can forge is a hint: the session is
                        // probed, not given up.
                        prop_assert_eq!(h.session.standing(), before);
                        prop_assert!(!actions.iter().any(|a| matches!(a, Action::End(_))));
                    }
                }
                Step::Wait(millis) => h.wait(*millis),
                Step::Resumed(secs) => {
                    h.now += Duration::from_secs(*secs);
                    h.input(Input::Resumed(Duration::from_secs(*secs)));
                }
                Step::InputClosed => {
                    h.input(Input::InputClosed);
                }
            }
        }
        // Then a minute passes: whatever was typed has been sent, named as not
        // relayed, or still shows as waiting.
        h.wait(60_000);
        // Accounted for: relayed back and shown, or named (not relayed, not sent).
        let mut unaccounted = Vec::new();
        let mut shown = h.shown.clone();
        for line in &typed {
            let relayed = format!("alice {line}");
            let named = [
                ClientNotice::NotRelayed(line).to_string(),
                ClientNotice::NotSent(line).to_string(),
            ];
            match shown.iter().position(|l| *l == relayed || named.contains(l)) {
                Some(at) => {
                    shown.remove(at);
                }
                // Sent to a server that never welcomed us: nothing can confirm it.
                None if h.sent_unwelcomed.iter().any(|d| d == line.as_bytes()) => {}
                None => unaccounted.push(line),
            }
        }
        let unsent = unaccounted.len();
        if !h.ended {
            prop_assert!(
                h.session.waiting(h.now) >= unsent,
                "typed lines neither relayed, named nor shown as waiting ({}): {:?}",
                h.session.waiting(h.now),
                unaccounted
            );
        } else {
            prop_assert_eq!(unsent, 0, "ended with lines neither relayed nor named: {:?}", unaccounted);
        }
    }
}
