//! The chat room as a state machine: a datagram, its source and the time go in,
//! datagrams to send come out. No sockets, no clocks: the caller passes `now`, and asks
//! [`Room::next_deadline`] when to call [`Room::handle_timeout`].
//!
//! - `members`: the member table (by address, join order, name).
//! - `departed`: bounded memories of addresses (departed members, kicked addresses,
//!   servers).
//! - `throttle`: allowances, strangers told, untold drops and the presence budget.
//! - `commands`: `/nick`, `/who`, `/me`, `/msg`, `/help`.
//! - `verify`: cookies, join codes, and the byte budget of addresses not yet proven.
//!
//! A client in a session (see [`proto::frame`]) is spoken for only by datagrams that
//! carry its token; under [`Config::verify`] an address is sent at most
//! [`AMPLIFICATION_LIMIT`] times the bytes it sent until it proves it receives there.
//!
//! The room logs only at `debug`, through the logger: the binaries hand records to a
//! logging thread without waiting, so logging never stalls the room.

mod commands;
mod departed;
mod history;
mod manners;
mod members;
mod stream;
mod throttle;
mod verify;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use log::debug;

use crate::outbox::Payload;
pub use crate::outbox::{Outbox, Wrap};
use crate::proto::frame::{self, Cookie, Framed, Token};
use crate::proto::text::cut;
use crate::proto::{self, Chat, Command, Notice, RateLimit, Request, NOTICE_PREFIX};
use departed::{Departed, Recent};
use history::History;
pub use history::HISTORY_BYTES;
use manners::Manners;
pub use manners::{Presence, HIDDEN_NOTICE_INTERVAL, MAX_IGNORED};
pub use members::Host;
use members::{Member, Members};
use stream::{Sent, Stream};
pub use stream::{
    HELD_TYPED_BYTES, HELD_TYPED_MAX, HOLD_TYPED_FOR, REPAIR_BURST, REPAIR_MAX, REPAIR_RATE,
    SENT_BYTES, SENT_LINES, STREAM_INDEX,
};
use throttle::{Allowance, StrangerMemory, TokenBucket, UntoldDrops};
pub use throttle::{NOTICE_INTERVAL, PRESENCE_BURST, PRESENCE_RATE, STRANGER_MEMORY};
use verify::{Budgets, CookieJar};
pub use verify::{
    AMPLIFICATION_LIMIT, CODE_DIGITS, COOKIE_EPOCH, REMEMBER_PROVEN_FOR, REMEMBER_UNPROVEN_FOR,
    TELL_CODE_EVERY, UNPROVEN_MEMORY,
};

/// How long datagrams from a kicked address are ignored, so its client's heartbeats do
/// not bring it straight back.
pub const KICK_BAN: Duration = Duration::from_secs(60);

/// How long the room remembers a member that left, for its address: a timed-out member
/// coming back gets its name again, and a quick leave-and-rejoin neither refills its
/// rate allowance nor earns another welcome.
pub const REMEMBER_DEPARTED_FOR: Duration = Duration::from_secs(60);
/// The longest topic kept, in bytes: newcomers are told it, so it stays a few rows.
pub const TOPIC_MAX_BYTES: usize = 300;
/// The longest away or leaving message kept, in bytes: it is repeated to whoever
/// writes to someone away.
pub const AWAY_MAX_BYTES: usize = 100;
/// The most departed members remembered; past it, the one that left longest ago is
/// forgotten.
pub const DEPARTED_MAX: usize = 1024;

/// The least time an address that sent what only a server writes (a welcome to a
/// newcomer on our own port) is not heard in plain text: two servers must never talk
/// to each other. It must outlast the other server's membership of us (its timeout,
/// unknown to us, 10 s by default): were we to listen again while it still relays to
/// us, we would join it back and the two would take turns for ever. So this, or twice
/// our own timeout. Our client is not kept out by a forged welcome: its hello, echo and
/// session frames are still heard, and the session it opens clears the mark. A classic
/// client (netcat, the Python one) is kept out for this long by one forged welcome.
pub const IGNORE_SERVERS_AT_LEAST: Duration = Duration::from_secs(60);
/// The most such addresses remembered, and the most kicked addresses.
const SMALL_MEMORY: usize = 1024;

/// The room's limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// A member silent for longer than this is evicted.
    pub timeout: Duration,
    /// Chat text longer than this many bytes is refused with a notice; at most
    /// [`proto::MAX_MESSAGE_LIMIT`], so whatever is accepted can be delivered.
    pub max_message_bytes: usize,
    /// The most members at once; newcomers past it are refused with a notice.
    pub max_clients: usize,
    /// Chat messages and commands per second each member may send; 0 means no limit.
    pub rate_per_sec: f64,
    /// How many messages a member may send at once before the rate applies.
    pub burst: u32,
    /// The server's own address, if known: a datagram claiming to come from its port on
    /// a loopback address (or its own address) is ignored, so it never joins itself.
    pub local_addr: Option<SocketAddr>,
    /// Every address proves it receives there before it is a member (our client by a
    /// cookie, a person by typing a join code); until then it is sent at most
    /// [`AMPLIFICATION_LIMIT`] times the bytes it sent.
    pub verify: bool,
    /// How many of the last lines said to everyone a session is shown when it joins
    /// (at most [`HISTORY_BYTES`] of them); 0 for none.
    pub history_lines: usize,
    /// How many of the last lines sent to sessions the room keeps to send again (at
    /// most [`SENT_BYTES`] of them); 0 keeps none.
    pub repair_lines: usize,
    /// Most members from one host (an IPv4 address, an IPv6 /64; loopback is none), so
    /// one host cannot take every seat.
    pub max_per_host: usize,
}

/// What the room's limits did, counted since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to the room.
    pub datagrams: u64,
    /// Chat lines and `/me` actions sent to everyone.
    pub broadcasts: u64,
    /// Messages and commands dropped because their sender was over its rate.
    pub dropped_rate: u64,
    /// Datagrams from newcomers refused because the room was full.
    pub refused_full: u64,
    /// Messages refused for being longer than the limit.
    pub too_long: u64,
    /// Presence notices not sent because the room-wide budget was spent.
    pub presence_skipped: u64,
    /// Datagrams ignored because they came from a server (or claimed our own address).
    pub from_servers: u64,
    /// Members that timed out.
    pub timed_out: u64,
    /// Sessions opened (or their token renewed) by an echoed cookie.
    pub sessions_opened: u64,
    /// Datagrams without its token from the address of a member in a session: ignored.
    pub forged: u64,
    /// Bad or stale cookies, join codes and tokens, and broken frames: ignored.
    pub bad_credentials: u64,
    /// Datagrams from addresses not yet proven, under `--verify`: not acted on.
    pub unproven: u64,
    /// Members that joined by typing their join code.
    pub joined_by_code: u64,
    /// Repair requests answered.
    pub repairs: u64,
    /// Newcomers refused because their host had every seat one host may take.
    pub refused_host_full: u64,
    /// Datagrams from sources no peer can have (port 0, a broadcast or multicast
    /// address): forged, and never answered.
    pub impossible_sources: u64,
    /// Members removed because the socket refused to send to them.
    pub unreachable: u64,
}

/// The clients in the room and what the room knows of them.
#[derive(Debug)]
pub struct Room {
    config: Config,
    members: Members,
    /// Kicked addresses, until they may come back.
    banned: Recent<()>,
    /// Members that left lately, by address (see [`REMEMBER_DEPARTED_FOR`]).
    departed: Recent<Departed>,
    /// Addresses that spoke as a server (see [`IGNORE_SERVERS_AT_LEAST`]).
    servers: Recent<()>,
    /// Under `--verify`, classic addresses that proved themselves and left lately (see
    /// [`REMEMBER_PROVEN_FOR`]).
    proven: Recent<()>,
    /// The room-wide budget for presence notices.
    presence: TokenBucket,
    /// Strangers recently sent a notice.
    strangers: StrangerMemory,
    /// Members with drops they have not been told of yet.
    untold: UntoldDrops,
    /// Members with deliveries hidden from them (they ignore the sender) not yet told.
    untold_hidden: UntoldDrops,
    /// Makes and checks cookies and join codes.
    cookies: CookieJar,
    /// Under `--verify`, what addresses not yet proven sent and were sent.
    budgets: Budgets,
    /// The last lines said to everyone, for sessions that join.
    history: History,
    /// What the room sent sessions lately, for repairs.
    sent: Sent,
    /// The room's topic and who set it.
    topic: Option<Topic>,
    stats: Stats,
}

/// The room's topic, as `/topic` or the console's `topic` set it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Topic {
    text: String,
    by: String,
}

/// A member as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member's address.
    pub addr: SocketAddr,
    /// How the member is shown to others: its name, or else its address.
    pub label: String,
    /// Time since the member last said something (a line or a command; joining
    /// counts), not since it was last heard from: heartbeats are not activity.
    pub idle: Duration,
    /// Whether it is away, since when, and why.
    pub presence: Presence,
}

/// Why a member left the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure<'a> {
    /// It sent `quit`, an empty datagram, or `/quit MESSAGE` (the message may be empty).
    Left { message: &'a str },
    /// It was silent for longer than the timeout.
    TimedOut,
    /// The operator kicked it.
    Removed,
    /// It turned out to be a server: it goes without a word.
    Server,
}

impl Room {
    /// An empty room.
    pub fn new(mut config: Config, now: Instant) -> Room {
        config.max_message_bytes = config.max_message_bytes.min(proto::MAX_MESSAGE_LIMIT);
        let history = History::new(config.history_lines);
        let sent = Sent::new(config.repair_lines);
        Room {
            config,
            members: Members::default(),
            banned: Recent::new(SMALL_MEMORY),
            departed: Recent::new(DEPARTED_MAX),
            servers: Recent::new(SMALL_MEMORY),
            proven: Recent::new(UNPROVEN_MEMORY),
            presence: TokenBucket::full(PRESENCE_BURST, now),
            strangers: StrangerMemory::new(now),
            untold: UntoldDrops::default(),
            untold_hidden: UntoldDrops::default(),
            cookies: CookieJar::new(now),
            budgets: Budgets::new(),
            history,
            sent,
            topic: None,
            stats: Stats::default(),
        }
    }

    /// Handles one datagram from `from`, adding what should be sent to `out`.
    pub fn handle_datagram(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
        out: &mut Outbox,
    ) {
        self.stats.datagrams += 1;
        if !is_real_peer(from) {
            self.stats.impossible_sources += 1;
            return;
        }
        if self.is_own_address(from) {
            self.stats.from_servers += 1;
            return;
        }
        if self.banned.contains(from, now) {
            return;
        }
        match frame::read(datagram) {
            // An address that spoke as a server is not heard in plain text; what only
            // our client writes (a hello, an echo, its session's frames) it may still
            // send, as no server writes those: a welcome forged from a client's address
            // keeps our client out of nothing (see `IGNORE_SERVERS_AT_LEAST`).
            // A heartbeat clears the mark: no server sends one, so the address is a
            // client after all (the Python client's is back within 5 s).
            Framed::Plain(datagram) if self.servers.contains(from, now) => {
                if proto::parse_request(datagram) == Request::Heartbeat {
                    self.servers.forget(from);
                    self.handle_plain(datagram, from, now, out);
                } else {
                    self.stats.from_servers += 1;
                }
            }
            Framed::Plain(datagram) => self.handle_plain(datagram, from, now, out),
            Framed::Hello => self.hello(from, now, out),
            Framed::Echo { cookie, token } => self.echo(cookie, token, from, now, out),
            // What only a session sends speaks for it only with its token.
            Framed::Session { token, .. }
            | Framed::Typed { token, .. }
            | Framed::Repair { token, .. }
                if !self.members.get(from).is_some_and(|m| m.has_token(token)) =>
            {
                self.stats.bad_credentials += 1;
            }
            Framed::Session { token, body } => {
                // Typed lines held behind a gap too long go first.
                let overdue = self.with_held(from, |stream, _| stream.overdue(now));
                self.act_on_typed(from, token, overdue, now, out);
                self.handle_request(body, from, Wrap::Session(token), now, out);
            }
            Framed::Typed { token, seq, body } => {
                let max_len = self.config.max_message_bytes;
                let lines = self.with_held(from, |stream, host_room| {
                    stream.typed(seq, body, max_len, host_room, now)
                });
                self.act_on_typed(from, token, lines, now, out);
                self.answer(from, token, out);
            }
            Framed::Repair {
                token,
                from: first,
                to: last,
            } => self.repair(from, token, first, last, now, out),
            Framed::Cookie(_)
            | Framed::Line { .. }
            | Framed::History { .. }
            | Framed::Answer { .. }
            | Framed::Lost { .. }
            | Framed::Bad => self.stats.bad_credentials += 1,
        }
    }

    /// A classic datagram: acted on unless its address is a session's (then only a
    /// datagram with the token speaks for it) or, under `--verify`, not yet proven.
    fn handle_plain(&mut self, datagram: &[u8], from: SocketAddr, now: Instant, out: &mut Outbox) {
        match self.members.get(from).map(Member::is_session) {
            Some(true) => {
                self.stats.forged += 1;
                return;
            }
            Some(false) => {}
            // A classic address that proved itself lately comes back with a line (not
            // a heartbeat, which anyone can forge and which says nothing).
            // (Only when it has a seat: a refusal goes the way of any address not
            // proven, within its budget.)
            None if self.config.verify
                && matches!(proto::parse_request(datagram), Request::Text(_))
                && self.no_seat_for(from).is_none()
                && self.proven.contains(from, now) =>
            {
                self.proven.forget(from);
            }
            None if self.config.verify => return self.unproven(datagram, from, now, out),
            None => {}
        }
        let wrap = Wrap::classic(datagram.ends_with(b"\n"));
        self.handle_request(datagram, from, wrap, now, out);
    }

    /// What a classic datagram, or a session frame's body, asks.
    fn handle_request(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        wrap: Wrap,
        now: Instant,
        out: &mut Outbox,
    ) {
        match proto::parse_request(datagram) {
            // Under `--verify`, heartbeats alone keep a classic member only so long after
            // its last line: forged ones cannot keep a departed owner's address for ever.
            Request::Heartbeat if self.heartbeats_no_longer_count(from, now) => {}
            Request::Heartbeat => {
                if self.admit(from, now, wrap, out) {
                    // A session's heartbeat is answered with the latest number it was
                    // sent: its client knows the session still stands, and notices a
                    // last line lost with nothing after it.
                    if let Wrap::Session(token) = wrap {
                        self.answer(from, token, out);
                    }
                }
            }
            Request::Leave => self.remove(from, Departure::Left { message: "" }, now, out),
            Request::Text(raw) if self.is_welcome_to_us(raw) => {
                // Only a server writes this, to us: answering could start an endless
                // exchange between two servers.
                let ignore_for = self
                    .config
                    .timeout
                    .saturating_mul(2)
                    .max(IGNORE_SERVERS_AT_LEAST);
                debug!("{from} speaks as a server; ignoring it for {ignore_for:?}");
                self.stats.from_servers += 1;
                self.remove(from, Departure::Server, now, out);
                if let Some(until) = now.checked_add(ignore_for) {
                    self.servers.remember(from, (), until);
                }
            }
            // Leaving with a message is a leave: never dropped for the member's rate,
            // as a bare `quit` is not (its client has gone and would not send it again).
            // (From an address not a member, it leaves nothing, as a bare `quit`.)
            Request::Text(raw) if is_quit_command(raw) => {
                let message = self.farewell(raw);
                self.remove(from, Departure::Left { message: &message }, now, out);
            }
            Request::Text(raw) => {
                if self.admit(from, now, wrap, out) && self.take_message(from, now, out) {
                    if let Some(member) = self.members.get_mut(from) {
                        member.last_said = now;
                        member.bytes_said = member.bytes_said.saturating_add(raw.len() as u64);
                    }
                    self.handle_text(raw, from, now, out);
                }
            }
        }
    }

    /// `@IM@`: answers with a cookie, which costs no memory here. From a classic member
    /// it is also its heartbeat (our client sends it until it has a session). Under
    /// `--verify`, an address not yet proven is answered within its budget.
    fn hello(&mut self, from: SocketAddr, now: Instant, out: &mut Outbox) {
        let cookie = self.cookies.cookie(from, now);
        let payload = out.payload(|buf| frame::write_cookie(buf, cookie));
        match self.members.get_mut(from) {
            Some(member) if !member.is_session() => {
                member.last_seen = now;
                member.heard_classic(false);
            }
            // A session's client that lost track of it asks again from its address:
            // the cookie goes there, and nothing changes until it is echoed.
            Some(_) => {}
            None if self.config.verify => {
                let mut budget = self.budgets.receive(from, frame::HELLO.len(), now);
                let may_answer = budget.spend(out.wrapped_len(payload, Wrap::Bare));
                self.budgets.put(from, budget, now);
                if !may_answer {
                    return;
                }
            }
            None => {}
        }
        out.push(from, payload, Wrap::Bare);
    }

    /// An echoed cookie: if good, `from` receives at its address, and opens a session
    /// with the token it chose (a member's session is renewed, keeping its name).
    fn echo(
        &mut self,
        cookie: Cookie,
        token: Token,
        from: SocketAddr,
        now: Instant,
        out: &mut Outbox,
    ) {
        if !self.cookies.check_cookie(from, cookie, now) {
            self.stats.bad_credentials += 1;
            return;
        }
        self.budgets.forget(from);
        // Proven a client of ours: whatever spoke as a server from here was forged.
        self.servers.forget(from);
        let wrap = Wrap::Session(token);
        if let Some(member) = self.members.get_mut(from) {
            let held = member.stream.as_ref().map_or(0, Stream::held_bytes);
            member.open_session(token, now);
            member.last_seen = now;
            // A new session holds nothing yet: what the old one held is its host's no
            // more.
            self.members.held_changed(from, held, 0);
            self.stats.sessions_opened += 1;
            self.welcome(from, out);
            return;
        }
        if let Some(full) = self.no_seat_for(from) {
            self.refuse(full, from, now, wrap, out);
            return;
        }
        self.stats.sessions_opened += 1;
        self.join(from, now, wrap, out);
        // What was said before it came, after its welcome and before anything new,
        // numbered with the rest.
        let Some(stream) = self.members.get_mut(from).and_then(|m| m.stream.as_mut()) else {
            return;
        };
        let mut body = Vec::new();
        for (said, line) in self.history.lines() {
            // Its age goes with it, so our client shows when it was said.
            body.clear();
            frame::write_history_body(&mut body, now.saturating_duration_since(said), line);
            let id = self.sent.record(&body);
            let seq = stream.number(id, true);
            push_numbered(from, token, seq, &body, true, out);
        }
    }

    /// Acts on a session's typed lines, taken in the order typed (see
    /// [`stream::Stream::typed`]), each answered by the room as chat or a command.
    fn act_on_typed(
        &mut self,
        from: SocketAddr,
        token: Token,
        lines: Vec<Box<[u8]>>,
        now: Instant,
        out: &mut Outbox,
    ) {
        for line in lines {
            // A line may end its sender's membership (a `quit`): the rest go with it.
            if !self.members.get(from).is_some_and(|m| m.has_token(token)) {
                return;
            }
            self.handle_request(&line, from, Wrap::Session(token), now, out);
        }
    }

    /// The numbering of the session at `from`, if it is one.
    fn stream_of(&mut self, from: SocketAddr) -> Option<&mut Stream> {
        self.members.get_mut(from).and_then(|m| m.stream.as_mut())
    }

    /// Runs `change` on the typed lines `from`'s session holds, given the bytes its
    /// host may still hold, and keeps the host's count of held bytes true.
    fn with_held(
        &mut self,
        from: SocketAddr,
        change: impl FnOnce(&mut Stream, usize) -> Vec<Box<[u8]>>,
    ) -> Vec<Box<[u8]>> {
        let host_room = self.members.held_room(from);
        let Some(stream) = self.stream_of(from) else {
            return Vec::new();
        };
        let before = stream.held_bytes();
        let lines = change(stream, host_room);
        let after = stream.held_bytes();
        self.members.held_changed(from, before, after);
        lines
    }

    /// Tells a session the latest number it was sent and the highest of its typed
    /// lines taken: the answer to its heartbeat, and to each line it types.
    fn answer(&mut self, to: SocketAddr, token: Token, out: &mut Outbox) {
        let Some(stream) = self.members.get(to).and_then(|m| m.stream.as_ref()) else {
            return;
        };
        let (latest, received) = (stream.latest(), stream.received());
        let payload = out.payload(|buf| frame::write_answer(buf, token, latest, received));
        out.push(to, payload, Wrap::Bare);
    }

    /// A session asks for the lines numbered `first..=last` again: it gets those the
    /// room still holds, and is told the rest are lost; within its repair allowance.
    fn repair(
        &mut self,
        from: SocketAddr,
        token: Token,
        first: u64,
        last: u64,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(stream) = self.members.get_mut(from).and_then(|m| m.stream.as_mut()) else {
            return;
        };
        let repair = stream.repair(first, last, &self.sent);
        let cost = repair.lines.len().max(1) as f64;
        // The session's allowance and its host's are both asked before either is
        // spent: a session refused by its host's budget keeps its own.
        if !stream.repairs.has(cost, REPAIR_RATE, REPAIR_BURST, now) {
            return;
        }
        let bytes: usize = repair
            .lines
            .iter()
            .map(|(_, line, _)| frame::LINE_HEADER + line.len())
            .sum();
        if !self.members.take_host_repair(from, bytes, now) {
            return;
        }
        if let Some(stream) = self.members.get_mut(from).and_then(|m| m.stream.as_mut()) {
            stream
                .repairs
                .take_many(cost, REPAIR_RATE, REPAIR_BURST, now);
        }
        for (seq, line, earlier) in repair.lines {
            push_numbered(from, token, seq, line, earlier, out);
        }
        if let Some(upto) = repair.lost_upto {
            let payload = out.payload(|buf| frame::write_lost(buf, token, upto));
            out.push(from, payload, Wrap::Bare);
        }
        self.stats.repairs += 1;
    }

    /// Under `--verify`, a classic datagram from an address not yet proven: counted, and
    /// answered only with its join code, when its budget allows. Typing the code back
    /// makes it a member.
    fn unproven(&mut self, datagram: &[u8], from: SocketAddr, now: Instant, out: &mut Outbox) {
        self.stats.unproven += 1;
        let mut budget = self.budgets.receive(from, datagram.len(), now);
        let line_mode = datagram.ends_with(b"\n");
        let typed_code = match proto::parse_request(datagram) {
            Request::Leave => {
                self.budgets.put(from, budget, now);
                return;
            }
            Request::Heartbeat => None,
            Request::Text(raw) => typed_join_code(raw),
        };
        let mut mistyped = false;
        if let Some(code) = typed_code {
            if self.cookies.check_code(from, &code, now) {
                self.budgets.forget(from);
                self.stats.joined_by_code += 1;
                self.admit(from, now, Wrap::classic(line_mode), out);
                return;
            }
            self.stats.bad_credentials += 1;
            mistyped = true;
        }
        // A mistyped code is answered with the right one at once, as the budget allows:
        // the whole notice, or, when only that fits (netcat's `hello`), the line to type.
        if budget.code_due(now) || mistyped {
            let code = self.cookies.code(from, now);
            let wrap = Wrap::classic(line_mode);
            let full = out.notice(Notice::JoinWith(&code));
            let payload = if budget.spend(out.wrapped_len(full, wrap)) {
                Some(full)
            } else {
                let terse = out.payload(|buf| proto::notice::write_terse_join(buf, &code));
                budget.spend(out.wrapped_len(terse, wrap)).then_some(terse)
            };
            if let Some(payload) = payload {
                budget.told_code(now);
                out.push(from, payload, wrap);
            }
        }
        self.budgets.put(from, budget, now);
    }

    /// Evicts members silent for longer than the timeout, and tells members over their
    /// rate what was dropped since their last notice. Cheap when nothing is due.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        let members = &mut self.members;
        let sent = &mut self.sent;
        self.untold.due(now, |addr| {
            // Told meanwhile, or gone: nothing left to tell.
            let member = members.get_mut(addr).filter(|m| m.n_dropped_untold > 0)?;
            if member.allowance.take_notice(now) {
                tell_drops(addr, member, sent, out);
                None
            } else {
                Some(member.allowance.next_notice())
            }
        });
        self.untold_hidden.due(now, |addr| {
            let member = members.get_mut(addr)?;
            match member.manners_mut().hidden_untold(now) {
                Some(count) => {
                    let told = out.notice(Notice::Hidden { count });
                    push_line(addr, member, told, None, sent, out);
                    None
                }
                None => member.manners().hidden_due(),
            }
        });
        for addr in self.members.timed_out(now, self.config.timeout) {
            self.stats.timed_out += 1;
            self.tell_timed_out(addr, out);
            self.remove(addr, Departure::TimedOut, now, out);
        }
    }

    /// Tells a line-mode member (netcat) it is being evicted for silence: nothing else
    /// would, and it would stop hearing the room without a word. Under `--verify`, only
    /// if it said at least a third of the notice's bytes while a member, so a forged
    /// line that brings a proven address back cannot draw more than three times itself.
    fn tell_timed_out(&mut self, addr: SocketAddr, out: &mut Outbox) {
        let Some(member) = self.members.get(addr).filter(|m| m.wrap == Wrap::Line) else {
            return;
        };
        let secs = self.config.timeout.as_secs_f64().ceil() as u64;
        let payload = out.notice(Notice::YouTimedOut { secs });
        let cost = out.wrapped_len(payload, Wrap::Line) as u64;
        if !self.config.verify || member.bytes_said.saturating_mul(3) >= cost {
            out.push(addr, payload, Wrap::Line);
        }
    }

    /// The socket refused to send to `addr` (a broadcast or network address of a LAN,
    /// which no one can tell from a host's before trying, or one a firewall forbids):
    /// if it is a member, it is removed, as it can hear nothing.
    pub fn cannot_reach(&mut self, addr: SocketAddr, now: Instant, out: &mut Outbox) {
        if self.members.get(addr).is_some() {
            self.stats.unreachable += 1;
            self.remove(addr, Departure::Removed, now, out);
        }
    }

    /// The room's topic and who set it, if it has one.
    pub fn topic(&self) -> Option<(&str, &str)> {
        self.topic
            .as_ref()
            .map(|t| (t.text.as_str(), t.by.as_str()))
    }

    /// Sets the room's topic and tells everyone who set it; a longer topic than
    /// [`TOPIC_MAX_BYTES`] is cut to fit.
    pub fn set_topic(&mut self, text: &str, by: &str, out: &mut Outbox) {
        let safe = proto::terminal_safe(text.trim());
        let text = cut(&safe, TOPIC_MAX_BYTES.min(self.config.max_message_bytes)).to_string();
        let payload = out.notice(Notice::TopicSet {
            who: by,
            topic: &text,
        });
        self.deliver_to_all(payload, None, out);
        self.topic = Some(Topic {
            text,
            by: by.to_string(),
        });
    }

    /// When [`Room::handle_timeout`] next has something to do, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        // Eviction is due just past the timeout, not at it.
        let eviction = self
            .members
            .next_timeout()
            .and_then(|due| due.checked_add(Duration::from_millis(1)));
        [
            eviction,
            self.untold.next_due(),
            self.untold_hidden.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Removes the member named by `who` (its name or address) on the operator's say-so,
    /// and ignores its address for [`KICK_BAN`]. Returns how it was shown, if found.
    pub fn kick(&mut self, who: &str, now: Instant, out: &mut Outbox) -> Option<String> {
        let addr = self.members.find(who)?;
        let label = self.members.get(addr)?.label().to_string();
        let payload = out.notice(Notice::YouWereRemoved);
        self.deliver(addr, payload, out);
        self.remove(addr, Departure::Removed, now, out);
        self.banned.remember(addr, (), now + KICK_BAN);
        Some(label)
    }

    /// Broadcasts `* server: TEXT` to every member.
    pub fn say(&mut self, text: &str, out: &mut Outbox) {
        let text = proto::terminal_safe(text);
        let payload = out.notice(Notice::Server(&text));
        self.deliver_to_all(payload, None, out);
    }

    /// Tells every member the server is going away and empties the room: an empty
    /// datagram (in its frame, for a session), or a notice to a line-mode member, as
    /// netcat stops reading at an empty datagram and would hear nothing after a restart.
    pub fn shutdown(&mut self, out: &mut Outbox) {
        let goodbye = out.empty_payload();
        let notice = out.notice(Notice::GoingAway);
        for (addr, member) in self.members.iter() {
            let payload = if member.wrap == Wrap::Line {
                notice
            } else {
                goodbye
            };
            out.push(addr, payload, member.wrap);
        }
        self.members.clear();
    }

    /// The members in join order.
    pub fn members(&self, now: Instant) -> Vec<MemberInfo> {
        self.members
            .in_join_order()
            .map(|(addr, m)| MemberInfo {
                addr,
                label: m.label().to_string(),
                idle: now.saturating_duration_since(m.last_said),
                presence: m.manners().presence.clone(),
            })
            .collect()
    }

    /// What the limits did so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The limits the room was made with (the message limit as the room applies it).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The number of members in a session.
    pub fn sessions(&self) -> usize {
        self.members.iter().filter(|(_, m)| m.is_session()).count()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `from` may be the server itself: its own address, or its port on a
    /// loopback or unspecified address (a forged source, or a reflection). Bound to a
    /// wildcard address, a server cannot list its own addresses, so any source with its
    /// port may be itself: a client never uses the server's port as its own.
    fn is_own_address(&self, from: SocketAddr) -> bool {
        let Some(local) = self.config.local_addr else {
            return false;
        };
        if from.port() != local.port() {
            return false;
        }
        if local.ip().is_unspecified() {
            return true;
        }
        let ip = match from.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            ip => ip,
        };
        ip == local.ip() || ip.is_loopback() || ip.is_unspecified()
    }

    /// Whether chat text is a server's welcome to a newcomer on our own port: only a
    /// server that took us for a client writes that (a person pasting a notice they
    /// were shown quotes their own address). The server it came from must never be
    /// answered, or two servers relay each other's notices forever.
    fn is_welcome_to_us(&self, raw: &[u8]) -> bool {
        let Some(local) = self.config.local_addr else {
            return false;
        };
        if !raw.starts_with(NOTICE_PREFIX.as_bytes()) {
            return false;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            return false;
        };
        match Notice::parse(text) {
            Some(Notice::Welcome { who, .. }) => who
                .parse::<SocketAddr>()
                .is_ok_and(|addr| addr.port() == local.port()),
            _ => false,
        }
    }

    /// Makes sure `from` is a member: refreshes it, or lets it join. False when it is
    /// not a member because the room is full (it is told so, now and then).
    /// Whether `from` is a classic member, under `--verify`, whose heartbeats no longer
    /// keep it: its last line was [`REMEMBER_PROVEN_FOR`] ago or more.
    fn heartbeats_no_longer_count(&self, from: SocketAddr, now: Instant) -> bool {
        self.config.verify
            && self.members.get(from).is_some_and(|member| {
                !member.is_session()
                    && now.saturating_duration_since(member.last_said) >= REMEMBER_PROVEN_FOR
            })
    }

    fn admit(&mut self, from: SocketAddr, now: Instant, wrap: Wrap, out: &mut Outbox) -> bool {
        if let Some(member) = self.members.get_mut(from) {
            member.last_seen = now;
            member.heard_classic(wrap == Wrap::Line);
            return true;
        }
        if let Some(full) = self.no_seat_for(from) {
            self.refuse(full, from, now, wrap, out);
            return false;
        }
        self.join(from, now, wrap, out);
        true
    }

    /// Why a newcomer from `from` has no seat, if it has none: the room is full, or its
    /// host has every seat one host may take.
    fn no_seat_for(&self, from: SocketAddr) -> Option<Notice<'static>> {
        if self.members.len() >= self.config.max_clients {
            return Some(Notice::RoomFull {
                max: self.config.max_clients,
            });
        }
        (self.members.on_host_of(from) >= self.config.max_per_host).then_some(Notice::HostFull {
            max: self.config.max_per_host,
        })
    }

    /// Counts a newcomer refused a seat, and tells it why now and then.
    fn refuse(
        &mut self,
        why: Notice<'static>,
        from: SocketAddr,
        now: Instant,
        wrap: Wrap,
        out: &mut Outbox,
    ) {
        match why {
            Notice::HostFull { .. } => self.stats.refused_host_full += 1,
            _ => self.stats.refused_full += 1,
        }
        if self.strangers.take_notice(from, now) {
            let payload = out.notice(why);
            out.push(from, payload, wrap);
        }
    }

    /// Adds `from` to the room with what the room remembers of it, welcomes it and
    /// tells the others. A classic newcomer is welcomed at most once a second; a
    /// session always, as its client waits for that answer.
    fn join(&mut self, from: SocketAddr, now: Instant, wrap: Wrap, out: &mut Outbox) {
        let is_session = matches!(wrap, Wrap::Session(_));
        let fresh = Allowance::new(self.config.burst, now);
        let remembered = self
            .departed
            .get(from, now)
            .map(|d| (d.was_session, d.allowance));
        let (name, manners, mut allowance) = match remembered {
            // A session's name (and manners) wait for its session: a classic datagram
            // from its address, which anyone could forge, leaves them where they are.
            Some((true, allowance)) if !is_session => (None, Manners::default(), allowance),
            Some(_) => self
                .departed
                .take(from, now)
                .map_or((None, Manners::default(), fresh), |d| {
                    (d.name, d.manners, d.allowance)
                }),
            None => (None, Manners::default(), fresh),
        };
        // A timed-out member's name comes back with it, if no one took it meanwhile.
        let name = name.filter(|name| self.members.name_is_free(name));
        let welcome = allowance.take_welcome(now) || is_session;
        let member = Member::new(from, name, wrap, allowance, now).with_manners(manners);
        let label = member.label().to_string();
        debug!("{label} joined");
        self.members.insert(from, member, self.config.timeout);
        // What it sent before it joined paid for nothing sent after it leaves.
        self.budgets.forget(from);
        // The newcomer learns how it is shown; a client that had a name learns it must
        // take it again (after a restart of the server, say).
        if welcome {
            self.welcome(from, out);
        }
        self.announce(Notice::Joined(&label), Some(from), now, out);
    }

    /// Tells the member `to` how it is shown, how many are here and its message limit.
    fn welcome(&mut self, to: SocketAddr, out: &mut Outbox) {
        let Some(member) = self.members.get(to) else {
            return;
        };
        let limit = (self.config.rate_per_sec > 0.0).then_some(RateLimit {
            per_sec: self.config.rate_per_sec,
            burst: self.config.burst,
        });
        let payload = out.notice(Notice::Welcome {
            who: member.label(),
            here: self.members.len(),
            limit,
        });
        self.deliver(to, payload, out);
        if let Some(topic) = &self.topic {
            let payload = out.notice(Notice::Topic {
                topic: &topic.text,
                by: &topic.by,
            });
            self.deliver(to, payload, out);
        }
    }

    /// Removes `addr` if it is a member, remembering it and telling the others.
    fn remove(&mut self, addr: SocketAddr, how: Departure<'_>, now: Instant, out: &mut Outbox) {
        let Some(member) = self.members.remove(addr) else {
            return;
        };
        self.untold.forget(addr);
        self.untold_hidden.forget(addr);
        let timed_out = how == Departure::TimedOut;
        let departed = match self.departed.take(addr, now) {
            // A classic member at a departed session's address leaves that session's
            // memory (its name) as it was; only the allowance is its own.
            Some(session) if session.was_session && !member.is_session() => Departed {
                allowance: member.allowance,
                ..session
            },
            _ => Departed {
                name: member.name().filter(|_| timed_out).cloned(),
                manners: if timed_out {
                    member.manners().clone()
                } else {
                    Manners::default()
                },
                allowance: member.allowance,
                was_session: member.is_session(),
            },
        };
        if let Some(until) = now.checked_add(REMEMBER_DEPARTED_FOR) {
            self.departed.remember(addr, departed, until);
        }
        // A classic member that proved itself and left of itself stays proven a while:
        // its next line brings it back.
        // (Taken for a server, it may have been a client whose address a welcome was
        // forged from: that costs it its seat, not its proof.)
        let left_itself = matches!(
            how,
            Departure::Left { .. } | Departure::TimedOut | Departure::Server
        );
        if self.config.verify && !member.is_session() && left_itself {
            if let Some(until) = now.checked_add(REMEMBER_PROVEN_FOR) {
                self.proven.remember(addr, (), until);
            }
        }
        let label = member.label();
        let notice = match how {
            Departure::Left { message: "" } => Notice::Left(label),
            Departure::Left { message } => Notice::LeftSaying {
                who: label,
                message,
            },
            Departure::TimedOut => Notice::TimedOut(label),
            Departure::Removed => Notice::WasRemoved(label),
            Departure::Server => {
                debug!("{label} removed: it is a server");
                return;
            }
        };
        debug!("{notice}");
        self.announce(notice, None, now, out);
    }

    /// Sends a presence notice to every member but `except`, if the room-wide presence
    /// budget (counted in deliveries) allows.
    fn announce(
        &mut self,
        notice: Notice<'_>,
        except: Option<SocketAddr>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let receivers = self
            .members
            .len()
            .saturating_sub(usize::from(except.is_some()));
        if receivers == 0 {
            return;
        }
        if !self
            .presence
            .take_many(receivers as f64, PRESENCE_RATE, PRESENCE_BURST, now)
        {
            self.stats.presence_skipped += 1;
            return;
        }
        let payload = out.notice(notice);
        self.deliver_to_all(payload, except, out);
    }

    /// Spends one of the member's tokens. When it has none, the message is dropped and
    /// the member is told how many were dropped, at most once per [`NOTICE_INTERVAL`].
    fn take_message(&mut self, from: SocketAddr, now: Instant, out: &mut Outbox) -> bool {
        let (rate, burst) = (self.config.rate_per_sec, self.config.burst);
        let Some(member) = self.members.get_mut(from) else {
            return false;
        };
        if member.allowance.take_message(rate, burst, now) {
            return true;
        }
        self.stats.dropped_rate += 1;
        member.n_dropped_untold += 1;
        if member.allowance.take_notice(now) {
            tell_drops(from, member, &mut self.sent, out);
            self.untold.forget(from);
        } else {
            // Told later, by `handle_timeout`, when its next notice is due.
            self.untold.wait(from, member.allowance.next_notice());
        }
        false
    }

    /// Handles chat text from the member `from`: a command, or a line for everyone.
    fn handle_text(&mut self, raw: &[u8], from: SocketAddr, now: Instant, out: &mut Outbox) {
        // Checked before decoding, so a flood of huge datagrams costs no decoding; and
        // after, because each invalid byte decodes to three (U+FFFD).
        if raw.len() > self.config.max_message_bytes {
            self.refuse_too_long(raw.len(), from, now, out);
            return;
        }
        let decoded = proto::decode(raw);
        let text = proto::terminal_safe(&decoded);
        if text.len() > self.config.max_message_bytes {
            self.refuse_too_long(text.len(), from, now, out);
            return;
        }
        match proto::parse_chat(&text) {
            // A line of only spaces says nothing (netcat sends one as typed).
            Chat::Text(text) if text.trim().is_empty() => {}
            Chat::Text(text) => {
                self.come_back(from, out);
                let Some(member) = self.members.get(from) else {
                    return;
                };
                let label = member.label();
                debug!("{label} {text}");
                let payload = out.payload(|buf| proto::wire::write_chat_line(buf, label, text));
                self.broadcast(payload, Some(from), now, out);
            }
            Chat::Command(command) => self.handle_command(command, from, now, out),
        }
    }

    /// What `/quit MESSAGE` says on the way out: terminal-safe, cut to [`AWAY_MAX_BYTES`].
    fn farewell(&self, raw: &[u8]) -> String {
        let decoded = proto::decode(raw);
        let text = proto::terminal_safe(&decoded);
        let Chat::Command(Command::Quit(message)) = proto::parse_chat(&text) else {
            return String::new();
        };
        cut(message, AWAY_MAX_BYTES).to_string()
    }

    /// Counts a message over the limit and tells its sender, at most once a second.
    fn refuse_too_long(&mut self, len: usize, from: SocketAddr, now: Instant, out: &mut Outbox) {
        self.stats.too_long += 1;
        let limit = self.config.max_message_bytes;
        let Some(member) = self.members.get_mut(from) else {
            return;
        };
        if member.allowance.take_notice(now) {
            let payload = out.notice(Notice::TooLong { len, limit });
            push_line(from, member, payload, None, &mut self.sent, out);
        }
    }

    /// Sends a payload to one member, wrapped as it needs (numbered, for a session).
    fn deliver(&mut self, to: SocketAddr, payload: Payload, out: &mut Outbox) {
        if let Some(member) = self.members.get_mut(to) {
            push_line(to, member, payload, None, &mut self.sent, out);
        }
    }

    /// Says a line of `from`'s to everyone (chat, `/me`) but those who ignore it, and
    /// keeps it in the history.
    fn broadcast(
        &mut self,
        payload: Payload,
        from: Option<SocketAddr>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let sender = from
            .filter(|_| self.members.anyone_ignores())
            .and_then(|from| Some((from, self.members.get(from)?)))
            .map(|(from, member)| (from, proto::name::skeleton(member.label())));
        match sender {
            None => self.deliver_to_all(payload, None, out),
            Some((from, sender)) => {
                self.deliver_to_all_but_ignorers(payload, from, &sender, now, out)
            }
        }
        self.history.record(out.payload_bytes(payload), now);
        self.stats.broadcasts += 1;
    }

    /// As [`Room::deliver_to_all`], but not to members who ignore the member at `from`
    /// (whose label's skeleton is `sender`); they are told how much was hidden, at most
    /// once a minute. A member's own lines always reach it.
    fn deliver_to_all_but_ignorers(
        &mut self,
        payload: Payload,
        from: SocketAddr,
        sender: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        let mut id = None;
        let mut hidden = Vec::new();
        for (addr, member) in self.members.iter_mut() {
            if addr == from || !member.manners().ignores(sender, from) {
                id = push_line(addr, member, payload, id, &mut self.sent, out);
            } else {
                hidden.push(addr);
            }
        }
        for addr in hidden {
            self.hide_from(addr, now, out);
        }
    }

    /// Counts one delivery hidden from `addr` (it ignores the sender): it is told at
    /// once if its notice is due, or else when it is.
    fn hide_from(&mut self, addr: SocketAddr, now: Instant, out: &mut Outbox) {
        let Some(member) = self.members.get_mut(addr) else {
            return;
        };
        if let Some(count) = member.manners_mut().hide(now) {
            let told = out.notice(Notice::Hidden { count });
            push_line(addr, member, told, None, &mut self.sent, out);
        } else if let Some(due) = member.manners().hidden_due() {
            self.untold_hidden.wait(addr, due);
        }
    }

    /// A member that was away and says something is back; it is told so.
    fn come_back(&mut self, from: SocketAddr, out: &mut Outbox) {
        let Some(member) = self.members.get_mut(from) else {
            return;
        };
        if member.manners().away_message().is_some() {
            member.manners_mut().presence = Presence::Here;
            let payload = out.notice(Notice::YouAreBack);
            self.deliver(from, payload, out);
        }
    }

    /// Sends a payload to every member but `except`: formatted once, and kept once
    /// for repairs however many sessions get it.
    fn deliver_to_all(&mut self, payload: Payload, except: Option<SocketAddr>, out: &mut Outbox) {
        let mut id = None;
        for (addr, member) in self.members.iter_mut() {
            if Some(addr) != except {
                id = push_line(addr, member, payload, id, &mut self.sent, out);
            }
        }
    }
}

/// Whether chat text is `/quit …` or `/exit …` (the word alone, or before a space).
fn is_quit_command(raw: &[u8]) -> bool {
    [&b"/quit"[..], b"/exit"].iter().any(|word| {
        raw.len() >= word.len()
            && raw[..word.len()].eq_ignore_ascii_case(word)
            && raw.get(word.len()).is_none_or(|c| c.is_ascii_whitespace())
    })
}

/// Whether a datagram's source can be a peer at all: not port 0, not an unspecified,
/// broadcast or multicast address (255.255.255.255, loopback's 127.255.255.255,
/// 224.0.0.0/4, ff00::/8). Only a forger writes those, to make the room send to many
/// at once or to no one; answering them is never right.
pub fn is_real_peer(addr: SocketAddr) -> bool {
    let ip = match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        ip => ip,
    };
    let odd = match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4 == Ipv4Addr::new(127, 255, 255, 255),
        IpAddr::V6(_) => false,
    };
    addr.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !odd
}

/// Queues a line for a member: numbered in its stream if it is in a session (the line
/// kept in `sent` under `id`, or recorded now if `id` is `None`), else wrapped as it
/// needs. Returns the line's id in `sent`, once it has one.
fn push_line(
    addr: SocketAddr,
    member: &mut Member,
    payload: Payload,
    id: Option<u64>,
    sent: &mut Sent,
    out: &mut Outbox,
) -> Option<u64> {
    match (member.wrap, member.stream.as_mut()) {
        (Wrap::Session(token), Some(stream)) => {
            let id = id.unwrap_or_else(|| sent.record(out.payload_bytes(payload)));
            let seq = stream.number(id, false);
            out.push(
                addr,
                payload,
                Wrap::Numbered {
                    token,
                    seq,
                    earlier: false,
                },
            );
            Some(id)
        }
        _ => {
            out.push(addr, payload, member.wrap);
            id
        }
    }
}

/// Queues a copy of `line` for the session `to`, numbered `seq`.
fn push_numbered(
    to: SocketAddr,
    token: Token,
    seq: u64,
    line: &[u8],
    earlier: bool,
    out: &mut Outbox,
) {
    let payload = out.payload(|buf| buf.extend_from_slice(line));
    out.push(
        to,
        payload,
        Wrap::Numbered {
            token,
            seq,
            earlier,
        },
    );
}

/// Tells a member over its rate how many of its messages were dropped since it was
/// last told: the first drop at once, the rest of a burst when its next notice is due.
fn tell_drops(addr: SocketAddr, member: &mut Member, sent: &mut Sent, out: &mut Outbox) {
    let dropped = std::mem::take(&mut member.n_dropped_untold);
    let payload = out.notice(Notice::SlowDown { dropped });
    push_line(addr, member, payload, None, sent, out);
}

/// The code in a `/join CODE` line, if the text is one. Only a short line is decoded,
/// so a flood of long datagrams from addresses not yet proven costs no decoding.
fn typed_join_code(raw: &[u8]) -> Option<String> {
    const LONGEST: usize = "/join ".len() + 2 * CODE_DIGITS;
    if raw.len() > LONGEST {
        return None;
    }
    let decoded = proto::decode(raw);
    match proto::parse_chat(&proto::terminal_safe(&decoded)) {
        Chat::Command(Command::Join(code)) => Some(code.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod session_tests;
