//! The client session's behaviours, driven with invented times and datagrams.

use super::*;

const HEARTBEAT: Duration = Duration::from_secs(5);
const WELCOME: &[u8] = b"* you joined as 127.0.0.1:5 (1 here; /help for commands)";

fn config(name: Option<&str>) -> SessionConfig {
    SessionConfig {
        server: "127.0.0.1:9999".to_string(),
        heartbeat: HEARTBEAT,
        max_message_bytes: 1024,
        name: name.map(str::to_string),
        bell: true,
        reconnect: false,
        leave_keys: "Ctrl-D",
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
    // A classic server: it welcomes, and never sends a cookie.
    step(&mut s, Input::Datagram(WELCOME), t);
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
    step(&mut s, Input::Datagram(WELCOME), t);
    assert_eq!(
        step(
            &mut s,
            Input::Datagram(b"* you were removed by the server"),
            t
        ),
        vec![Action::End(Outcome::Removed)]
    );
    // Before any welcome there is no room to be removed from: a forgery, shown.
    let (mut s, _) = start(None, t);
    let early = step(
        &mut s,
        Input::Datagram(b"* you were removed by the server"),
        t,
    );
    assert_eq!(shown_texts(&early), ["* you were removed by the server"]);
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
                Action::Show { text, .. } if text.contains("dropped here") => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    let first = step(&mut s, Input::Dropped(7), t);
    assert_eq!(
        told(&first),
        ["-!- 7 lines dropped here: they came faster than they could be shown"]
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
        ["-!- 3 lines dropped here: they came faster than they could be shown"]
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
    // Hellos go every second while nothing is heard, for a few seconds; then, with
    // an endless interval, nothing more is due for ages: never, where a clock cannot
    // reach that far (Linux), or centuries from now (where it can).
    let soon = t + NO_ANSWER_AFTER + HANDSHAKE_RETRY;
    let mut now = t;
    run_until(&mut s, &mut now, soon);
    let ages = Duration::from_secs(100 * 365 * 86_400);
    let next = s.next_deadline();
    assert!(
        next.is_none_or(|due| due.saturating_duration_since(t) > ages),
        "{:?}",
        next.map(|due| due - t)
    );
    // A far later time, where the clock reaches it, does no harm either.
    if let Some(far) = t.checked_add(Duration::from_secs(1 << 40)) {
        actions.clear();
        s.handle_timeout(far, &mut actions);
    }
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
        step(&mut s, Input::Datagram(WELCOME), t);
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
    assert_eq!(s.waiting(t), 21);
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
    assert_eq!(
        away,
        vec![show(
            &ClientNotice::ServerAway { keys: "Ctrl-D" }.to_string(),
            false
        )]
    );
    assert!((s.standing() == Standing::Away));
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
    assert_eq!(back[0], show(&ClientNotice::Back.to_string(), false));
    assert_eq!(sends(&back), ["/nick alice", "are you back?"]);
    assert!(!(s.standing() == Standing::Away));
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
            "-!- ignored 1 datagram claiming to be from the server without our session's \
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
        "-!- ignored 4 datagrams claiming to be from the server without our session's \
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
    let mut told = Vec::new();
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
        told.extend(shown_texts(&answer));
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
            sent_bare.extend(
                sends(&actions)
                    .into_iter()
                    .filter(|d| d != "@IM@" && d != "@im@"),
            );
            told.extend(shown_texts(&actions));
        }
    }
    // The last handshake holds the last line for its wait, then lets it go.
    while let Some(due) = s
        .next_deadline()
        .filter(|&due| due < t + Duration::from_secs(25))
    {
        now = due.max(now);
        let mut actions = Vec::new();
        s.handle_timeout(now, &mut actions);
        sent_bare.extend(
            sends(&actions)
                .into_iter()
                .filter(|d| d.starts_with("line")),
        );
    }
    let no_session = ClientNotice::NoSession {
        retry_secs: HANDSHAKE_BACKOFF_FIRST.as_secs(),
        lines_wait: false,
    };
    let no_answer = ClientNotice::NoAnswerYet {
        server: "127.0.0.1:9999",
        keys: "Ctrl-D",
    };
    // Cookies alone are no answer: the person is told that too.
    assert_eq!(
        told,
        [no_answer.to_string(), no_session.to_string()],
        "said once what it does"
    );
    // Three waits of three seconds, then cookies wait the back-off (10 s) and are
    // answered again: the session is never given up for good.
    assert_eq!(
        echoes,
        (FREE_HANDSHAKES * HANDSHAKE_WAIT.as_secs() as u32) as usize + 1,
        "cookies answered for three waits, then again after the back-off"
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
        let lost = ClientNotice::SessionUnanswered {
            secs: SESSION_LOST_AFTER.as_secs(),
            keys: "Ctrl-D",
        };
        if actions.contains(&show(&lost.to_string(), false)) {
            away_at = Some(now);
            break;
        }
    }
    let away_at = away_at.expect("the session is given up");
    let first_heartbeat = away_at - SESSION_LOST_AFTER;
    assert!(
        first_heartbeat - t <= HEARTBEAT,
        "lost {SESSION_LOST_AFTER:?} after the first unanswered heartbeat"
    );
    assert!(
        heartbeats >= 6,
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
    assert_eq!(back[0], show(&ClientNotice::Back.to_string(), false));
    assert!(!(s.standing() == Standing::Away));
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
    let fake = step(
        &mut s,
        Input::Datagram(b"* to join, type /join quit; nothing is relayed till then"),
        t,
    );
    assert!(sends(&fake).is_empty());
    let real = Notice::JoinWith("abcdefgh23").to_string();
    let real = step(&mut s, Input::Datagram(format!("* {real}").as_bytes()), t);
    assert_eq!(sends(&real), ["/join abcdefgh23"]);
}

#[test]
fn quitting_while_a_lost_session_is_reopened_says_so_in_its_frame() {
    let t = Instant::now();
    let (mut s, token) = secured(t, true);
    step(&mut s, Input::Datagram(&frame::session(token, b"")), t);
    assert!((s.standing() == Standing::Away));
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
    let mut body = Vec::new();
    frame::write_history_body(&mut body, Duration::from_secs(90), b"bob hi \x1b[2Jthere");
    let history = frame::line(token, 2, &body, true);
    assert_eq!(
        step(&mut s, Input::Datagram(&history), t),
        vec![Action::ShowEarlier {
            text: "bob hi there".to_string(),
            age: Some(Duration::from_secs(90))
        }],
        "shown safe, with when it was said"
    );
    // A body too short to carry an age is all line.
    let short = frame::line(token, 3, b"hi", true);
    assert_eq!(
        step(&mut s, Input::Datagram(&short), t),
        vec![Action::ShowEarlier {
            text: "hi".to_string(),
            age: None
        }]
    );
    let forged = frame::line(Token(*b"guessed!"), 3, b"mallory lies", true);
    assert!(step(&mut s, Input::Datagram(&forged), t)
        .iter()
        .all(|a| !matches!(a, Action::ShowEarlier { .. })));
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
    assert_eq!(shown_texts(&actions), ["-!- 2 messages lost", "bob fourth"]);
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
    assert_eq!(shown_texts(&told), ["-!- 1 message lost", "bob sixth"]);
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
    assert!(again.iter().any(|d| d.ends_with("one")) && again.iter().any(|d| d.ends_with("two")));
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

/// Runs every deadline up to `until`; returns all the actions.
fn run_until(s: &mut Session, now: &mut Instant, until: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    while let Some(due) = s.next_deadline().filter(|&due| due <= until) {
        *now = due.max(*now);
        s.handle_timeout(*now, &mut all);
    }
    *now = until;
    all
}

// Issue 16, item 1: a server that never answers gives a sign, and piped input that
// ends exits 1, naming what it typed.
#[test]
fn a_server_that_never_answers_is_told_and_ended_input_exits_with_no_answer() {
    let t = Instant::now();
    let (mut s, _) = start(None, t);
    let mut now = t;
    assert_eq!(s.standing(), Standing::Connecting);
    step(&mut s, Input::Typed("anyone?"), t);
    assert_eq!(s.waiting(t), 1, "the line shows as waiting");
    let told = run_until(&mut s, &mut now, t + NO_ANSWER_AFTER);
    let no_answer = ClientNotice::NoAnswerYet {
        server: "127.0.0.1:9999",
        keys: "Ctrl-D",
    };
    assert!(
        shown_texts(&told).contains(&no_answer.to_string()),
        "{told:?}"
    );
    assert!(
        sends(&told).contains(&"anyone?".to_string()),
        "sent, as a classic server needs"
    );
    assert_eq!(s.waiting(now), 1, "and still shown as waiting: {told:?}");
    assert_eq!(s.standing(), Standing::Connecting);
    let mut end = step(&mut s, Input::InputClosed, now);
    let until = now + Duration::from_secs(1);
    end.extend(run_until(&mut s, &mut now, until));
    assert_eq!(end.last(), Some(&Action::End(Outcome::NoAnswer)), "{end:?}");
    let named = ClientNotice::NotRelayed("anyone?").to_string();
    assert!(shown_texts(&end).contains(&named), "{end:?}");
}

// Issue 16, item 2: after a quick restart (the server forgot our session, said
// nothing), a line typed shows as waiting, the loss is noticed within seconds, and the
// line goes again in the new session.
#[test]
fn a_line_typed_after_a_quick_restart_waits_visibly_and_goes_in_the_new_session() {
    let t = Instant::now();
    let (mut s, token) = secured(t, true);
    let mut now = t + Duration::from_secs(1);
    let typed = step(&mut s, Input::Typed("after the restart"), now);
    assert_eq!(sends(&typed).len(), 1, "{typed:?}");
    assert_eq!(
        s.waiting(now),
        0,
        "an answer normally comes within a round trip"
    );
    // No answer: the restarted server ignores our old session's frames.
    let later = now + SHOWN_WAITING_AFTER;
    run_until(&mut s, &mut now, later);
    assert_eq!(s.waiting(now), 1, "the prompt counts it");
    let lost_at = now + SESSION_LOST_AFTER;
    let actions = run_until(&mut s, &mut now, lost_at);
    let lost = ClientNotice::SessionUnanswered {
        secs: SESSION_LOST_AFTER.as_secs(),
        keys: "Ctrl-D",
    };
    assert!(
        shown_texts(&actions).contains(&lost.to_string()),
        "{actions:?}"
    );
    assert_eq!(
        sends(&actions).last().map(String::as_str),
        Some("@IM@"),
        "a hello at once"
    );
    assert_eq!(s.waiting(now), 1);
    // The new server answers: a session with a new token, and the line goes in it.
    let renewed = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), now));
    assert_ne!(renewed, token);
    let back = step(
        &mut s,
        Input::Datagram(&frame::line(renewed, 1, PACED_WELCOME, false)),
        now,
    );
    assert!(
        shown_texts(&back).contains(&ClientNotice::Back.to_string()),
        "{back:?}"
    );
    let again: Vec<Vec<u8>> = back
        .iter()
        .filter_map(|a| match a {
            Action::Send(bytes) => Some(bytes.clone()),
            _ => None,
        })
        .collect();
    assert!(
        again
            .iter()
            .any(|d| matches!(frame::read(d), Framed::Typed { token, body, .. } if token == renewed && body == b"after the restart")),
        "{back:?}"
    );
}

// Issue 16, item 3: a stop is not a server failure. The session is probed at once;
// if the server forgot us, it is joined again with its own notice, and history we
// have seen is not shown again.
#[test]
fn a_stopped_client_rejoins_without_calling_it_a_failure_or_repeating_history() {
    let t = Instant::now();
    let (mut s, token) = secured(t, true);
    let seen = frame::line(token, 2, b"bob said this before", false);
    assert_eq!(
        shown_texts(&step(&mut s, Input::Datagram(&seen), t)),
        ["bob said this before"]
    );
    let mut now = t + Duration::from_secs(16);
    let probe = step(&mut s, Input::Resumed(Duration::from_secs(15)), now);
    assert_eq!(probe, [Action::Send(frame::session(token, b"@im@"))]);
    let until = now + SESSION_LOST_AFTER;
    let actions = run_until(&mut s, &mut now, until);
    let texts = shown_texts(&actions);
    assert!(
        texts.contains(&ClientNotice::Resumed { secs: 15 }.to_string()),
        "{texts:?}"
    );
    assert!(
        !texts.contains(&ClientNotice::ServerAway { keys: "Ctrl-D" }.to_string()),
        "{texts:?}"
    );
    let renewed = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), now));
    let mut shown = Vec::new();
    for (seq, line) in [
        (1, &b"bob said this before"[..]),
        (2, b"carol said this meanwhile"),
    ] {
        let mut body = Vec::new();
        frame::write_history_body(&mut body, Duration::from_secs(30), line);
        let history = frame::line(renewed, seq, &body, true);
        shown.extend(step(&mut s, Input::Datagram(&history), now));
    }
    assert_eq!(shown[0], show(&ClientNotice::Back.to_string(), false));
    assert_eq!(
        shown[1..],
        [Action::ShowEarlier {
            text: "carol said this meanwhile".into(),
            age: Some(Duration::from_secs(30))
        }],
        "history we saw is not shown twice"
    );
}

// Issue 16, item 4: `echo quit | udpchat-client` leaves nothing behind: a quit typed
// while the session is being opened goes in it once it opens.
#[test]
fn a_quit_piped_during_the_handshake_goes_in_the_session_it_opens() {
    let t = Instant::now();
    let (mut s, _) = start(None, t);
    let token = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), t));
    assert!(
        step(&mut s, Input::Typed("quit"), t).is_empty(),
        "it waits for the session"
    );
    assert!(step(&mut s, Input::InputClosed, t).is_empty());
    let welcome = frame::line(token, 1, PACED_WELCOME, false);
    let actions = step(&mut s, Input::Datagram(&welcome), t);
    assert_eq!(
        actions[1..],
        [
            Action::Send(frame::session(token, b"quit")),
            Action::End(Outcome::Quit)
        ],
        "{actions:?}"
    );
    // And Ctrl-C during a handshake: a quit in its frame, and one bare for a classic
    // server that took our hello as a heartbeat.
    let (mut s, _) = start(None, t);
    let token = echoed_token(&step(&mut s, Input::Datagram(&cookie_frame()), t));
    assert_eq!(
        step(&mut s, Input::Interrupt, t),
        [
            Action::Send(frame::session(token, b"quit")),
            send(b"quit"),
            Action::End(Outcome::NoAnswer)
        ],
        "cookies alone, which anyone can forge, are no answer: leaving is no success"
    );
}

// Issue 16, item 6: an ICMP error, which anyone who knows our address can forge, does
// not drop a session that still answers.
#[test]
fn a_forged_port_unreachable_does_not_drop_a_session_that_answers() {
    let t = Instant::now();
    let (mut s, token) = secured(t, true);
    let mut now = t;
    for round in 0..20u32 {
        now = t + Duration::from_millis(500) * round;
        let probe = step(&mut s, Input::Refused, now);
        assert!(probe.is_empty(), "{probe:?}");
        let mut actions = Vec::new();
        s.handle_timeout(now, &mut actions);
        if !actions.is_empty() {
            assert_eq!(actions, [Action::Send(frame::session(token, b"@im@"))]);
        }
        // The server answers the probe.
        let mut answer = Vec::new();
        frame::write_answer(&mut answer, token, 1, 0);
        assert!(step(&mut s, Input::Datagram(&answer), now).is_empty());
        assert_eq!(s.standing(), Standing::Joined);
    }
    let until = now + Duration::from_secs(4);
    let quiet = run_until(&mut s, &mut now, until);
    assert!(
        shown_texts(&quiet).is_empty(),
        "no notice while the server answers: {quiet:?}"
    );
}

// Issue 16, item 9: `/me` that mentions us rings the bell as a chat line does.
#[test]
fn an_action_that_mentions_us_rings_the_bell() {
    let t = Instant::now();
    let (mut s, _) = start(Some("alice"), t);
    step(&mut s, Input::Datagram(WELCOME), t);
    step(&mut s, Input::Datagram(b"* you are now alice"), t);
    let rung = |s: &mut Session, line: &[u8]| {
        step(s, Input::Datagram(line), t)
            .iter()
            .any(|a| matches!(a, Action::Show { bell: true, .. }))
    };
    assert!(rung(&mut s, b"* bob pokes alice"));
    assert!(rung(&mut s, b"bob hi alice"));
    assert!(!rung(&mut s, b"* alice waves"), "our own action");
    assert!(!rung(&mut s, b"* bob waves"));
    assert!(
        !rung(&mut s, b"* alice left"),
        "a notice about us is no mention"
    );
}

// Review: a piped client whose server dies silently while it waits for its last echo
// ends (naming the line), instead of trying for ever.
#[test]
fn closing_into_a_silent_server_ends_and_names_what_waited() {
    let t = Instant::now();
    let (mut s, _) = secured(t, true);
    step(&mut s, Input::Typed("last words"), t);
    step(&mut s, Input::InputClosed, t);
    let mut now = t;
    let actions = run_until(&mut s, &mut now, t + Duration::from_secs(60));
    assert_eq!(
        actions.last(),
        Some(&Action::End(Outcome::ServerDown)),
        "{actions:?}"
    );
    let named = shown_texts(&actions);
    assert!(
        named.contains(&ClientNotice::NotRelayed("last words").to_string()),
        "{named:?}"
    );
}

// Review: one cookie, then silence: cookies alone put us in no room. The prompt says
// connecting, the line shows as waiting, and ended input exits with no answer.
#[test]
fn a_cookie_then_silence_is_no_room_and_says_so() {
    let t = Instant::now();
    let (mut s, _) = start(None, t);
    step(&mut s, Input::Datagram(&cookie_frame()), t);
    step(&mut s, Input::Typed("hi"), t);
    step(&mut s, Input::InputClosed, t);
    let mut now = t;
    let actions = run_until(&mut s, &mut now, t + Duration::from_secs(2));
    assert_eq!(s.standing(), Standing::Connecting, "{actions:?}");
    assert_eq!(s.waiting(now), 1, "{actions:?}");
    let end = run_until(&mut s, &mut now, t + Duration::from_secs(10));
    assert_eq!(end.last(), Some(&Action::End(Outcome::NoAnswer)), "{end:?}");
    let named = shown_texts(&end);
    assert!(
        named.contains(&ClientNotice::NotRelayed("hi").to_string()),
        "{named:?}"
    );
}

// Review: after cookies that led nowhere (a flood of forged ones), a forged removal
// or goodbye or ICMP error moves nothing: the client stays.
#[test]
fn after_failed_cookies_unframed_datagrams_move_nothing() {
    let t = Instant::now();
    let mut s = Session::start(
        SessionConfig {
            reconnect: false,
            ..config(None)
        },
        Random::new(5),
        t,
        &mut Vec::new(),
    );
    step(&mut s, Input::Datagram(WELCOME), t);
    step(&mut s, Input::Datagram(&cookie_frame()), t);
    let mut now = t;
    run_until(
        &mut s,
        &mut now,
        t + HANDSHAKE_WAIT + Duration::from_millis(1),
    );
    for forged in [&b"* you were removed by the server"[..], b""] {
        let actions = step(&mut s, Input::Datagram(forged), now);
        assert!(
            !actions.iter().any(|a| matches!(a, Action::End(_))),
            "{actions:?}"
        );
    }
    let actions = step(&mut s, Input::Refused, now);
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(s.standing(), Standing::Joined);
}

// Review: what was unanswered when the client stopped is not held against the server:
// after a stop the probe gets its own time.
#[test]
fn a_stop_is_not_counted_as_the_servers_silence() {
    let t = Instant::now();
    let (mut s, token) = secured(t, true);
    step(&mut s, Input::Typed("just before the stop"), t);
    let now = t + Duration::from_secs(5);
    let probe = step(&mut s, Input::Resumed(Duration::from_secs(5)), now);
    assert_eq!(probe, [Action::Send(frame::session(token, b"@im@"))]);
    let mut actions = Vec::new();
    s.handle_timeout(now, &mut actions);
    assert!(
        shown_texts(&actions).is_empty(),
        "not lost at once: {actions:?}"
    );
    let mut answer = Vec::new();
    frame::write_answer(&mut answer, token, 1, 1);
    step(&mut s, Input::Datagram(&answer), now);
    assert_eq!(s.standing(), Standing::Joined);
}

// Review: a line from a server that starts with our notices' mark is shown as the
// server's, never as ours.
#[test]
fn a_server_line_with_our_mark_is_shown_as_the_servers() {
    let t = Instant::now();
    let (mut s, _) = start(None, t);
    let shown = step(&mut s, Input::Datagram(b"-!- back in the room"), t);
    assert_eq!(shown_texts(&shown), ["[server] -!- back in the room"]);
}

// Attack trial: a flood of forged ICMP errors draws at most one probe a second.
#[test]
fn a_flood_of_forged_port_unreachables_draws_one_probe_a_second() {
    let t = Instant::now();
    let (mut s, token) = secured(t, true);
    let mut answer = Vec::new();
    frame::write_answer(&mut answer, token, 1, 0);
    let mut probes = 0;
    for i in 0..1000u32 {
        let now = t + Duration::from_millis(2) * i;
        step(&mut s, Input::Refused, now);
        let mut actions = Vec::new();
        s.handle_timeout(now, &mut actions);
        probes += sends(&actions).len();
        // The server answers every probe at once.
        step(&mut s, Input::Datagram(&answer), now);
    }
    assert!(probes <= 3, "{probes} probes in 2 s");
    assert_eq!(s.standing(), Standing::Joined);
}

// Attack trial: while failed handshakes wait to be tried again, the heartbeat is the
// classic `@im@`, which keeps the client a member, as its notice says.
#[test]
fn while_handshakes_wait_the_client_is_a_classic_member() {
    let t = Instant::now();
    let (mut s, _) = start(None, t);
    let mut now = t;
    let mut sent = Vec::new();
    for second in 0..(FREE_HANDSHAKES as u64 * HANDSHAKE_WAIT.as_secs()) {
        let at = t + Duration::from_secs(second);
        sent.extend(sends(&step(&mut s, Input::Datagram(&cookie_frame()), at)));
        sent.extend(sends(&run_until(
            &mut s,
            &mut now,
            at + Duration::from_secs(1),
        )));
    }
    let until = now + Duration::from_secs(9);
    let after: Vec<String> = sends(&run_until(&mut s, &mut now, until));
    assert!(after.iter().all(|d| d == "@im@"), "{after:?}");
    assert!(!after.is_empty());
    // When the back-off is over, a hello tries a session again.
    let until = now + Duration::from_secs(10);
    let later = sends(&run_until(&mut s, &mut now, until));
    assert!(later.contains(&"@IM@".to_string()), "{later:?}");
}

// Issue 19, item 5: `/quit MESSAGE` goes to our server, in the session, which tells
// the others why; a classic server is sent the bare word.
#[test]
fn quit_with_a_message_says_it_on_the_way_out() {
    let t = Instant::now();
    let (mut s, token) = secured(t, false);
    let actions = step(&mut s, Input::Typed("/quit bye all"), t);
    assert_eq!(
        actions,
        vec![
            Action::Send(frame::session(token, b"/quit bye all")),
            Action::End(Outcome::Quit)
        ]
    );
    let (mut s, _) = start(None, t);
    step(&mut s, Input::Datagram(WELCOME), t);
    assert_eq!(
        step(&mut s, Input::Typed("/exit see you"), t),
        vec![send(b"quit"), Action::End(Outcome::Quit)],
        "a classic server would relay `/quit see you` as a line"
    );
    let (mut s, _) = start(None, t);
    step(&mut s, Input::Datagram(WELCOME), t);
    assert!(
        sends(&step(&mut s, Input::Typed("/quitter"), t)) == ["/quitter"],
        "a longer word is no quit"
    );
}

// Found in a trial: `printf '/who\n' | udpchat-client` left before the answer came.
// Piped input waits for the notice that answers a command (at most ANSWER_WAIT).
#[test]
fn piped_input_waits_for_the_answer_to_its_last_command() {
    let t = Instant::now();
    let (mut s, _) = start(None, t);
    step(&mut s, Input::Datagram(WELCOME), t);
    assert_eq!(sends(&step(&mut s, Input::Typed("/who"), t)), ["/who"]);
    assert!(
        step(&mut s, Input::InputClosed, t).is_empty(),
        "not before the answer"
    );
    let answer = b"* 1 here: 127.0.0.1:5";
    let actions = step(&mut s, Input::Datagram(answer), t);
    assert_eq!(
        actions,
        vec![
            show("* 1 here: 127.0.0.1:5", false),
            send(b"quit"),
            Action::End(Outcome::Quit)
        ]
    );
    // An answer that never comes does not keep it for ever.
    let (mut s, _) = start(None, t);
    step(&mut s, Input::Datagram(WELCOME), t);
    step(&mut s, Input::Typed("/away"), t);
    step(&mut s, Input::InputClosed, t);
    let due = s.next_deadline().expect("the wait ends");
    assert!(due <= t + ANSWER_WAIT);
    let mut actions = Vec::new();
    let mut now = due;
    for _ in 0..10 {
        s.handle_timeout(now, &mut actions);
        if actions.contains(&Action::End(Outcome::Quit)) {
            break;
        }
        now = s.next_deadline().expect("more to do");
    }
    assert!(actions.contains(&Action::End(Outcome::Quit)));
    assert!(now <= t + ANSWER_WAIT);
}
