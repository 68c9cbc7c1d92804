//! The chat room as a state machine: a datagram, its source and the time go in,
//! datagrams to send come out. No sockets, no clocks: the caller passes `now`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::limits::{StrangerMemory, TokenBucket, NOTICE_INTERVAL};
pub use crate::outbox::Outbox;
use crate::outbox::Payload;
use crate::proto::notice::{NOW_CALLED, PRIVATE_FROM, REMOVED, ROOM_FULL, SLOW_DOWN, WELCOME};
use crate::proto::{self, Chat, Command, Request};

/// How long datagrams from a kicked address are ignored, so its client's heartbeats do
/// not bring it straight back.
pub const KICK_BAN: Duration = Duration::from_secs(60);

/// Room-wide budget for presence notices (joined, left, timed out), per second and in a
/// burst: every one of them goes to every member, so a churn of spoofed joins and quits
/// must not become a flood. A normal room never comes near it.
const PRESENCE_RATE: f64 = 10.0;
const PRESENCE_BURST: f64 = 30.0;

/// How long the room remembers a member that left, for its address: a timed-out member
/// coming back gets its name again, and a quick leave-and-rejoin neither refills its
/// rate allowance nor earns another welcome.
pub const REMEMBER_DEPARTED_FOR: Duration = Duration::from_secs(60);
/// The most departed members remembered (a churn of forged joins must not grow memory).
const DEPARTED_MAX: usize = 1024;

/// The longest `/who` answer before `… and K more`: small, as a forged `/who` makes the
/// server send it to whoever the forger names.
const WHO_MAX_BYTES: usize = 400;

/// How much of a user's text a notice quotes back.
const QUOTE_MAX_BYTES: usize = 32;

/// The command list `/help` sends.
const HELP: &str = "commands: /nick NAME, /who, /me ACTION, /msg WHO TEXT, /help; \
                    start a line with // to say something starting with /; quit to leave";

/// The room's limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// A member silent for longer than this is evicted.
    pub timeout: Duration,
    /// Chat text longer than this many bytes is refused with a notice.
    pub max_message_bytes: usize,
    /// The most members at once; newcomers past it are refused with a notice.
    pub max_clients: usize,
    /// Chat messages and commands per second each member may send; 0 means no limit.
    pub rate_per_sec: f64,
    /// How many messages a member may send at once before the rate applies.
    pub burst: u32,
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
}

/// The clients in the room and what the room knows of them.
#[derive(Debug)]
pub struct Room {
    config: Config,
    members: HashMap<SocketAddr, Member>,
    /// Lower-cased name → member, so names are unique regardless of case.
    names: HashMap<String, SocketAddr>,
    /// Kicked addresses and when they may come back.
    banned: HashMap<SocketAddr, Instant>,
    /// Members that left lately, by address (see [`REMEMBER_DEPARTED_FOR`]).
    departed: HashMap<SocketAddr, Departed>,
    /// Join counter, so listings can show members in join order.
    n_joined: u64,
    /// Members by join number: `/who` reads the first few without sorting the table.
    by_join: BTreeMap<u64, SocketAddr>,
    /// No member can have timed out before this instant; `None` when the room is empty.
    /// Keeps eviction from scanning the table on every datagram.
    next_sweep: Option<Instant>,
    /// The room-wide budget for presence notices.
    presence: TokenBucket,
    /// Strangers recently sent a notice.
    strangers: StrangerMemory,
    /// Members with drops they have not been told of yet (at most every member).
    untold: HashSet<SocketAddr>,
    /// No one in `untold` is due a notice before this: keeps `tick` from scanning it.
    next_tell: Option<Instant>,
    stats: Stats,
}

/// A member as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member's address.
    pub addr: SocketAddr,
    /// How the member is shown to others: its name, or else its address.
    pub label: String,
    /// Time since the member was last heard from.
    pub idle: Duration,
}

/// What the room remembers of a member that left.
#[derive(Debug)]
struct Departed {
    left: Instant,
    /// Its name, if it timed out with one.
    name: Option<String>,
    bucket: TokenBucket,
    next_notice: Instant,
    welcomed: Option<Instant>,
}

/// Why a member left the room, as its presence notice says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure {
    /// It sent `quit` or an empty datagram.
    Left,
    /// It was silent for longer than the timeout.
    TimedOut,
    /// The operator kicked it.
    Removed,
}

#[derive(Debug)]
struct Member {
    last_seen: Instant,
    joined: u64,
    /// The member's name if it took one, else its address: the prefix of its chat lines.
    label: String,
    named: bool,
    /// Whether its last datagram ended in `\n` (netcat and friends): if so, everything
    /// sent to it ends in `\n` too.
    line_mode: bool,
    /// Its allowance of chat messages and commands.
    bucket: TokenBucket,
    /// Messages dropped for its rate since it was last told.
    n_dropped_untold: u64,
    /// When it may next get a limit notice.
    next_notice: Instant,
    /// When it was last welcomed.
    welcomed: Option<Instant>,
}

impl Room {
    /// An empty room.
    pub fn new(config: Config, now: Instant) -> Room {
        Room {
            config,
            members: HashMap::new(),
            names: HashMap::new(),
            banned: HashMap::new(),
            departed: HashMap::new(),
            n_joined: 0,
            by_join: BTreeMap::new(),
            next_sweep: None,
            presence: TokenBucket::full(PRESENCE_BURST, now),
            strangers: StrangerMemory::new(now),
            untold: HashSet::new(),
            next_tell: None,
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
        if self.is_banned(from, now) {
            return;
        }
        let line_mode = datagram.ends_with(b"\n");
        match proto::parse_request(datagram) {
            Request::Heartbeat => {
                self.touch(from, now, line_mode, out);
            }
            Request::Leave => self.remove(from, Departure::Left, now, out),
            Request::Text(text) => {
                if self.touch(from, now, line_mode, out) && self.within_rate(from, now, out) {
                    self.chat(text, from, now, out);
                }
            }
        }
    }

    /// Evicts members idle for longer than the timeout, and tells members over their rate
    /// what was dropped since their last notice. Cheap when nobody is due.
    pub fn tick(&mut self, now: Instant, out: &mut Outbox) {
        if self.next_tell.is_some_and(|due| now >= due) {
            self.tell_due_drops(now, out);
        }
        match self.next_sweep {
            Some(due) if now > due => {}
            _ => return,
        }
        self.banned.retain(|_, until| now < *until);
        self.departed
            .retain(|_, d| now < d.left + REMEMBER_DEPARTED_FOR);
        let timeout = self.config.timeout;
        let idle: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|(_, m)| now.duration_since(m.last_seen) > timeout)
            .map(|(&addr, _)| addr)
            .collect();
        for addr in idle {
            self.remove(addr, Departure::TimedOut, now, out);
        }
        self.next_sweep = self.members.values().map(|m| m.last_seen + timeout).min();
    }

    /// Removes the member named by `who` (its name or address) on the operator's say-so,
    /// and ignores its address for [`KICK_BAN`]. Returns how it was shown, if found.
    pub fn kick(&mut self, who: &str, now: Instant, out: &mut Outbox) -> Option<String> {
        let addr = self.find(who)?;
        let label = self.members[&addr].label.clone();
        let payload = out.notice(REMOVED);
        self.deliver(addr, payload, out);
        self.remove(addr, Departure::Removed, now, out);
        self.banned.insert(addr, now + KICK_BAN);
        Some(label)
    }

    /// Broadcasts `* server: TEXT` to every member.
    pub fn say(&mut self, text: &str, out: &mut Outbox) {
        let text = proto::strip_controls(text);
        info!("* server: {text}");
        let payload = out.notice(&format!("server: {text}"));
        self.deliver_to_all(payload, None, out);
    }

    /// Tells every member the server is going away (an empty datagram) and empties the room.
    pub fn shutdown(&mut self, out: &mut Outbox) {
        let goodbye = out.empty_payload();
        for &addr in self.members.keys() {
            out.push(addr, goodbye, false);
        }
        self.members.clear();
        self.by_join.clear();
        self.names.clear();
        self.next_sweep = None;
    }

    /// The members in join order.
    pub fn members(&self, now: Instant) -> Vec<MemberInfo> {
        self.members_in_join_order()
            .map(|(&addr, m)| MemberInfo {
                addr,
                label: m.label.clone(),
                idle: now.saturating_duration_since(m.last_seen),
            })
            .collect()
    }

    /// What the limits did so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The limits the room was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn is_banned(&mut self, from: SocketAddr, now: Instant) -> bool {
        match self.banned.get(&from) {
            Some(&until) if now < until => true,
            Some(_) => {
                self.banned.remove(&from);
                false
            }
            None => false,
        }
    }

    /// Registers `from` (telling the others) or refreshes its last-seen time. False when
    /// `from` is not a member because the room is full (it is told so, now and then).
    fn touch(&mut self, from: SocketAddr, now: Instant, line_mode: bool, out: &mut Outbox) -> bool {
        if let Some(member) = self.members.get_mut(&from) {
            member.last_seen = now;
            member.line_mode = line_mode;
            return true;
        }
        if self.members.len() >= self.config.max_clients {
            self.stats.refused_full += 1;
            if self.strangers.may_notify(from, now) {
                let notice = format!(
                    "{ROOM_FULL} ({})",
                    plural(self.config.max_clients as u64, "client")
                );
                let payload = out.notice(&notice);
                out.push(from, payload, line_mode);
            }
            return false;
        }
        self.n_joined += 1;
        let departed = self
            .departed
            .remove(&from)
            .filter(|d| now < d.left + REMEMBER_DEPARTED_FOR);
        // A timed-out member's name comes back with it, if no one took it meanwhile.
        let name = departed
            .as_ref()
            .and_then(|d| d.name.clone())
            .filter(|name| !self.names.contains_key(&name.to_ascii_lowercase()));
        let welcome_due = departed
            .as_ref()
            .is_none_or(|d| d.welcomed.is_none_or(|at| now >= at + NOTICE_INTERVAL));
        let member = Member {
            last_seen: now,
            joined: self.n_joined,
            named: name.is_some(),
            label: name.unwrap_or_else(|| from.to_string()),
            line_mode,
            bucket: departed.as_ref().map_or_else(
                || TokenBucket::full(f64::from(self.config.burst), now),
                |d| d.bucket,
            ),
            n_dropped_untold: 0,
            next_notice: departed.as_ref().map_or(now, |d| d.next_notice),
            welcomed: if welcome_due {
                Some(now)
            } else {
                departed.and_then(|d| d.welcomed)
            },
        };
        info!("{} joined", member.label);
        let label = member.label.clone();
        if member.named {
            self.names.insert(label.to_ascii_lowercase(), from);
        }
        self.by_join.insert(member.joined, from);
        self.members.insert(from, member);
        // The newcomer learns how it is shown; a client that had a name learns it must
        // take it again (after a restart of the server, say). Not twice in a second to
        // one address, however often it leaves and comes back.
        if welcome_due {
            let welcome = format!(
                "{WELCOME}{label} ({} here; /help for commands)",
                self.members.len()
            );
            let payload = out.notice(&welcome);
            out.push(from, payload, line_mode);
        }
        self.announce(&label, "joined", Some(from), now, out);
        let due = now + self.config.timeout;
        self.next_sweep = Some(self.next_sweep.map_or(due, |d| d.min(due)));
        true
    }

    /// Removes `addr` if it is a member, telling the others `* <who> <how>`.
    fn remove(&mut self, addr: SocketAddr, how: Departure, now: Instant, out: &mut Outbox) {
        let Some(member) = self.members.remove(&addr) else {
            return;
        };
        self.by_join.remove(&member.joined);
        self.untold.remove(&addr);
        if member.named {
            self.names.remove(&member.label.to_ascii_lowercase());
        }
        if self.departed.len() < DEPARTED_MAX {
            let keeps_name = member.named && how == Departure::TimedOut;
            let departed = Departed {
                left: now,
                name: keeps_name.then(|| member.label.clone()),
                bucket: member.bucket,
                next_notice: member.next_notice,
                welcomed: member.welcomed,
            };
            self.departed.insert(addr, departed);
        }
        let how = how.as_str();
        info!("{} {how}", member.label);
        self.announce(&member.label, how, None, now, out);
    }

    /// Sends the presence notice `* <label> <what>` to every member but `except`, if the
    /// room-wide presence budget allows.
    fn announce(
        &mut self,
        label: &str,
        what: &str,
        except: Option<SocketAddr>,
        now: Instant,
        out: &mut Outbox,
    ) {
        if !self.presence.take(PRESENCE_RATE, PRESENCE_BURST, now) {
            self.stats.presence_skipped += 1;
            return;
        }
        let payload = out.notice(&format!("{label} {what}"));
        self.deliver_to_all(payload, except, out);
    }

    /// Spends one of the member's tokens. When it has none, the message is dropped and
    /// the member is told how many were dropped, at most once per [`NOTICE_INTERVAL`].
    fn within_rate(&mut self, from: SocketAddr, now: Instant, out: &mut Outbox) -> bool {
        let (rate, burst) = (self.config.rate_per_sec, f64::from(self.config.burst));
        if rate <= 0.0 {
            return true;
        }
        let Some(member) = self.members.get_mut(&from) else {
            return false;
        };
        if member.bucket.take(rate, burst, now) {
            return true;
        }
        self.stats.dropped_rate += 1;
        member.n_dropped_untold += 1;
        if let Some(line_mode) = member.may_notify(now) {
            tell_drops(from, member, line_mode, out);
        } else {
            // Told later, by `tick`, when its next notice is due.
            let due = member.next_notice;
            self.untold.insert(from);
            self.next_tell = Some(self.next_tell.map_or(due, |t| t.min(due)));
        }
        false
    }

    /// Tells the members with untold drops whose next notice is due; the rest wait.
    fn tell_due_drops(&mut self, now: Instant, out: &mut Outbox) {
        let members = &mut self.members;
        let mut next_tell: Option<Instant> = None;
        self.untold.retain(|&addr| {
            let Some(member) = members.get_mut(&addr) else {
                return false;
            };
            match member.may_notify(now) {
                Some(line_mode) => {
                    tell_drops(addr, member, line_mode, out);
                    false
                }
                None => {
                    let due = member.next_notice;
                    next_tell = Some(next_tell.map_or(due, |t| t.min(due)));
                    true
                }
            }
        });
        self.next_tell = next_tell;
    }

    /// Handles chat text from the member `from`: a command, or a line for everyone.
    fn chat(&mut self, raw: &[u8], from: SocketAddr, now: Instant, out: &mut Outbox) {
        // Checked before decoding, so a flood of huge datagrams costs no decoding; and
        // after, because each invalid byte decodes to three (U+FFFD).
        if raw.len() > self.config.max_message_bytes {
            self.refuse_too_long(raw.len(), from, now, out);
            return;
        }
        let decoded = proto::decode(raw);
        let text = proto::strip_controls(&decoded);
        if text.len() > self.config.max_message_bytes {
            self.refuse_too_long(text.len(), from, now, out);
            return;
        }
        match proto::parse_chat(&text) {
            Chat::Text("") => {}
            Chat::Text(text) => {
                let label = &self.members[&from].label;
                info!("{label} {text}");
                let payload = out.payload(|buf| proto::write_chat_line(buf, label, text));
                self.deliver_to_all(payload, None, out);
                self.stats.broadcasts += 1;
            }
            Chat::Command(command) => self.command(command, from, out),
        }
    }

    /// Counts a message over the limit and tells its sender, at most once a second.
    fn refuse_too_long(&mut self, len: usize, from: SocketAddr, now: Instant, out: &mut Outbox) {
        self.stats.too_long += 1;
        let Some(member) = self.members.get_mut(&from) else {
            return;
        };
        if let Some(line_mode) = member.may_notify(now) {
            let notice = proto::too_long_notice(len, self.config.max_message_bytes);
            let payload = out.notice(&notice);
            out.push(from, payload, line_mode);
        }
    }

    fn command(&mut self, command: Command<'_>, from: SocketAddr, out: &mut Outbox) {
        let reply = match command {
            Command::Nick(name) => self.nick(name, from, out),
            Command::Who => self.who_list(),
            Command::Me("") => "usage: /me ACTION".to_string(),
            Command::Me(action) if reads_like_presence(action) => {
                "that reads like a server notice; say it another way".to_string()
            }
            Command::Me(action) => {
                let label = &self.members[&from].label;
                info!("* {label} {action}");
                let payload = out.notice(&format!("{label} {action}"));
                self.deliver_to_all(payload, None, out);
                self.stats.broadcasts += 1;
                return;
            }
            Command::Msg { to: "", .. } | Command::Msg { text: "", .. } => {
                "usage: /msg WHO TEXT".to_string()
            }
            Command::Msg { to, text } => match self.find(to) {
                Some(target) if target == from => "that is you".to_string(),
                Some(target) => {
                    let sender = &self.members[&from].label;
                    let receiver = &self.members[&target].label;
                    debug!("private message from {sender} to {receiver}");
                    let payload = out.notice(&format!("{PRIVATE_FROM}{sender}: {text}"));
                    self.deliver(target, payload, out);
                    format!("private to {receiver}: {text}")
                }
                None => format!("no one here is called {}", quote(to)),
            },
            Command::Help => HELP.to_string(),
            Command::Unknown(word) => format!("unknown command {}; try /help", quote(word)),
        };
        let payload = out.notice(&reply);
        self.deliver(from, payload, out);
    }

    /// `N here: a, b, c` in join order, cut short (`… and K more`) so the answer stays
    /// small however large the room; it reads only the members it lists.
    fn who_list(&self) -> String {
        // Room kept for the `, … and K more` ending, so the whole stays within budget.
        const ENDING: usize = ", … and 4294967295 more".len();
        let n = self.members.len();
        let budget = self.config.max_message_bytes.min(WHO_MAX_BYTES);
        let mut text = format!("{n} here: ");
        for (i, (_, member)) in self.members_in_join_order().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            let is_last = i + 1 == n;
            let reserve = if is_last { 0 } else { ENDING };
            if text.len() + separator.len() + member.label.len() + reserve > budget {
                text.push_str(&format!("{separator}… and {} more", n - i));
                break;
            }
            text.push_str(separator);
            text.push_str(&member.label);
        }
        text
    }

    /// Renames `from`; returns the answer for it. Everyone else is told on success.
    fn nick(&mut self, name: &str, from: SocketAddr, out: &mut Outbox) -> String {
        if name.is_empty() {
            return format!(
                "usage: /nick NAME (1-{} letters, digits, _ or -)",
                proto::MAX_NAME
            );
        }
        if proto::is_reserved_name(name) {
            return format!("the name {name} is reserved");
        }
        if !proto::is_valid_name(name) {
            return format!(
                "cannot take the name {}: use 1-{} ASCII letters, digits, _ or -, \
                 starting with a letter",
                quote(name),
                proto::MAX_NAME
            );
        }
        let key = name.to_ascii_lowercase();
        if self.names.get(&key).is_some_and(|&owner| owner != from) {
            return format!("the name {name} is taken");
        }
        let Some(member) = self.members.get_mut(&from) else {
            return String::new();
        };
        if member.named && member.label == name {
            return format!("you are already {name}");
        }
        if member.named {
            self.names.remove(&member.label.to_ascii_lowercase());
        }
        let old = std::mem::replace(&mut member.label, name.to_string());
        member.named = true;
        self.names.insert(key, from);
        info!("{old} is now {name}");
        let payload = out.notice(&format!("{old} is now {name}"));
        self.deliver_to_all(payload, Some(from), out);
        format!("{NOW_CALLED}{name}")
    }

    /// The member called `who`: a name in any case, or an address as shown.
    fn find(&self, who: &str) -> Option<SocketAddr> {
        if let Ok(addr) = who.parse::<SocketAddr>() {
            // On a dual-stack socket IPv4 clients arrive as IPv4-mapped IPv6 addresses.
            let mapped = match addr.ip() {
                IpAddr::V4(ip) => Some(SocketAddr::new(ip.to_ipv6_mapped().into(), addr.port())),
                IpAddr::V6(_) => None,
            };
            return [Some(addr), mapped]
                .into_iter()
                .flatten()
                .find(|a| self.members.contains_key(a));
        }
        self.names.get(&who.to_ascii_lowercase()).copied()
    }

    fn members_in_join_order(&self) -> impl Iterator<Item = (&SocketAddr, &Member)> + '_ {
        self.by_join
            .values()
            .filter_map(|addr| self.members.get_key_value(addr))
    }

    /// Sends a payload to one address, in its line mode if it is a member.
    fn deliver(&self, to: SocketAddr, payload: Payload, out: &mut Outbox) {
        let line_mode = self.members.get(&to).is_some_and(|m| m.line_mode);
        out.push(to, payload, line_mode);
    }

    /// Sends a payload to every member but `except`.
    fn deliver_to_all(&self, payload: Payload, except: Option<SocketAddr>, out: &mut Outbox) {
        for (&addr, member) in &self.members {
            if Some(addr) != except {
                out.push(addr, payload, member.line_mode);
            }
        }
    }
}

impl Departure {
    fn as_str(self) -> &'static str {
        match self {
            Departure::Left => "left",
            Departure::TimedOut => "timed out",
            Departure::Removed => "was removed",
        }
    }
}

impl Member {
    /// Whether a limit notice may go to this member now; if so, its line mode, and the
    /// next one waits [`NOTICE_INTERVAL`].
    fn may_notify(&mut self, now: Instant) -> Option<bool> {
        if now < self.next_notice {
            return None;
        }
        self.next_notice = now + NOTICE_INTERVAL;
        Some(self.line_mode)
    }
}

/// Tells a member over its rate how many of its messages were dropped since it was
/// last told: the first drop at once, the rest of a burst when its next notice is due.
fn tell_drops(addr: SocketAddr, member: &mut Member, line_mode: bool, out: &mut Outbox) {
    let n = std::mem::take(&mut member.n_dropped_untold);
    let payload = out.notice(&format!("{SLOW_DOWN}: {} dropped", plural(n, "message")));
    out.push(addr, payload, line_mode);
}

/// Whether a `/me` action would read as a presence notice about its sender.
fn reads_like_presence(action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    ["joined", "left", "timed out", "is now", "was removed"]
        .iter()
        .any(|event| {
            // The event as a whole word: `left.` and `left now` count, `leftovers` not.
            action.strip_prefix(event).is_some_and(|rest| {
                !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
            })
        })
}

/// `text` as a notice quotes it: at most [`QUOTE_MAX_BYTES`], cut with `…`.
fn quote(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= QUOTE_MAX_BYTES {
        return text.into();
    }
    let mut cut = QUOTE_MAX_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut]).into()
}

/// `n things`, or `1 thing`.
fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::STRANGER_MEMORY;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn config() -> Config {
        Config {
            timeout: TIMEOUT,
            max_message_bytes: 64,
            max_clients: 100,
            rate_per_sec: 0.0,
            burst: 10,
        }
    }

    fn room() -> Room {
        Room::new(config(), Instant::now())
    }

    /// A room with members on the given ports, joined in that order.
    fn room_with(ports: &[u16], now: Instant) -> Room {
        let mut room = room();
        for &port in ports {
            feed(&mut room, b"@im@", port, now);
        }
        room
    }

    /// Feeds one datagram and returns what the room sends, sorted by destination.
    fn feed(room: &mut Room, datagram: &[u8], from: u16, now: Instant) -> Vec<(u16, String)> {
        let mut out = Outbox::new();
        room.handle_datagram(datagram, addr(from), now, &mut out);
        sorted(&out)
    }

    fn sorted(out: &Outbox) -> Vec<(u16, String)> {
        let mut sent: Vec<(u16, String)> = out
            .iter()
            .map(|(a, b)| (a.port(), String::from_utf8(b.to_vec()).unwrap()))
            .collect();
        sent.sort();
        sent
    }

    fn to(ports: &[u16], text: &str) -> Vec<(u16, String)> {
        ports.iter().map(|&p| (p, text.to_string())).collect()
    }

    #[test]
    fn heartbeat_joins_telling_the_others_and_welcoming_the_newcomer() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        assert_eq!(
            feed(&mut room, b"@im@", 2, t),
            vec![
                (1, "* 127.0.0.1:2 joined".into()),
                (
                    2,
                    "* you joined as 127.0.0.1:2 (2 here; /help for commands)".into()
                )
            ]
        );
        assert!(
            feed(&mut room, b"@IM@\n", 2, t).is_empty(),
            "a refresh is silent"
        );
        assert_eq!(room.len(), 2);
    }

    #[test]
    fn fan_out_includes_the_sender_and_a_new_sender_joins_first() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        let sent = feed(&mut room, b"hello\r\n", 2, t);
        assert_eq!(
            sent,
            vec![
                (1, "* 127.0.0.1:2 joined".into()),
                (1, "127.0.0.1:2 hello".into()),
                // It ended its line, so it is in line mode.
                (
                    2,
                    "* you joined as 127.0.0.1:2 (2 here; /help for commands)\n".into()
                ),
                (2, "127.0.0.1:2 hello\n".into()),
            ]
        );
        assert_eq!(
            feed(&mut room, b"again", 2, t),
            to(&[1, 2], "127.0.0.1:2 again")
        );
    }

    #[test]
    fn quit_and_empty_datagram_leave_telling_the_others() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2, 3], t);
        assert_eq!(
            feed(&mut room, b"QUIT\n", 1, t),
            to(&[2, 3], "* 127.0.0.1:1 left")
        );
        assert_eq!(feed(&mut room, b"", 2, t), to(&[3], "* 127.0.0.1:2 left"));
        // Leaving twice, or without ever joining, is a no-op.
        assert!(feed(&mut room, b"quit", 2, t).is_empty());
        assert!(feed(&mut room, b"", 9, t).is_empty());
        assert_eq!(room.len(), 1);
    }

    #[test]
    fn empty_text_after_trimming_registers_but_is_not_broadcast() {
        let t = Instant::now();
        let mut room = room();
        assert_eq!(feed(&mut room, b"\r\n", 1, t).len(), 1, "only the welcome");
        assert_eq!(room.len(), 1);
        assert!(
            feed(&mut room, b"\x1b\x07\n", 1, t).is_empty(),
            "nothing left after stripping"
        );
    }

    #[test]
    fn eviction_happens_just_past_the_timeout_not_at_it() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        feed(&mut room, b"@im@", 2, t + Duration::from_secs(3));
        let mut out = Outbox::new();
        room.tick(t + TIMEOUT, &mut out);
        assert_eq!(room.len(), 2, "idle exactly the timeout stays");
        room.tick(t + TIMEOUT + Duration::from_millis(1), &mut out);
        assert_eq!(sorted(&out), to(&[2], "* 127.0.0.1:1 timed out"));
        let left: Vec<_> = room.members(t).into_iter().map(|m| m.addr.port()).collect();
        assert_eq!(left, vec![2]);
        room.tick(
            t + Duration::from_secs(3) + TIMEOUT + Duration::from_millis(1),
            &mut out,
        );
        assert!(room.is_empty());
    }

    #[test]
    fn heartbeat_postpones_eviction() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        let mut out = Outbox::new();
        feed(&mut room, b"@im@", 1, t + Duration::from_secs(9));
        room.tick(t + Duration::from_secs(15), &mut out);
        assert_eq!(room.len(), 1);
        room.tick(t + Duration::from_secs(20), &mut out);
        assert_eq!(room.len(), 0);
    }

    #[test]
    fn oversize_text_gets_a_notice_to_the_sender_alone() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        let sent = feed(&mut room, &[b'x'; 65], 2, t);
        assert_eq!(sent, to(&[2], "* message too long (65 bytes, limit 64)"));
        // Exactly the limit, after trimming the newline, is fine.
        let mut exact = vec![b'y'; 64];
        exact.push(b'\n');
        assert_eq!(feed(&mut room, &exact, 2, t).len(), 2);
    }

    #[test]
    fn the_limit_also_holds_after_lossy_decoding() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        // 30 invalid bytes are within 64, but decode to 90 bytes of U+FFFD.
        let sent = feed(&mut room, &[0xff; 30], 1, t);
        assert_eq!(sent, to(&[1], "* message too long (90 bytes, limit 64)"));
    }

    #[test]
    fn reserved_names_cannot_forge_notices() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        for name in ["you", "Private", "server", "3"] {
            let sent = feed(&mut room, format!("/nick {name}").as_bytes(), 1, t);
            assert_eq!(sent.len(), 1, "{name}: only a refusal to the sender");
            assert!(
                sent[0].1.starts_with("* cannot take the name")
                    || sent[0].1.ends_with("is reserved"),
                "{sent:?}"
            );
        }
    }

    #[test]
    fn non_utf8_is_decoded_lossily() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        let sent = feed(&mut room, b"a\xff\xfeb", 1, t);
        assert_eq!(sent, to(&[1], "127.0.0.1:1 a\u{fffd}\u{fffd}b"));
    }

    #[test]
    fn controls_are_stripped_before_broadcast() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        let sent = feed(&mut room, b"\x1b[2Jhi\x07 there\rnow\x7f", 1, t);
        assert_eq!(sent, to(&[1], "127.0.0.1:1 hi there now"));
    }

    #[test]
    fn line_mode_follows_each_clients_last_datagram() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        feed(&mut room, b"@im@\n", 2, t);
        let sent = feed(&mut room, b"hi", 1, t);
        assert_eq!(
            sent,
            vec![(1, "127.0.0.1:1 hi".into()), (2, "127.0.0.1:1 hi\n".into())]
        );
        let sent = feed(&mut room, b"/who\n", 2, t);
        assert_eq!(sent, to(&[2], "* 2 here: 127.0.0.1:1, 127.0.0.1:2\n"));
        feed(&mut room, b"@im@", 2, t);
        assert_eq!(feed(&mut room, b"x", 1, t), to(&[1, 2], "127.0.0.1:1 x"));
    }

    #[test]
    fn nick_renames_and_tells_everyone() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        let sent = feed(&mut room, b"/nick alice", 1, t);
        assert_eq!(
            sent,
            vec![
                (1, "* you are now alice".into()),
                (2, "* 127.0.0.1:1 is now alice".into())
            ]
        );
        assert_eq!(feed(&mut room, b"hi", 1, t), to(&[1, 2], "alice hi"));
        let sent = feed(&mut room, b"/nick Alice_2", 1, t);
        assert_eq!(sent[1], (2, "* alice is now Alice_2".into()));
        assert_eq!(
            feed(&mut room, b"/nick Alice_2", 1, t),
            to(&[1], "* you are already Alice_2")
        );
    }

    #[test]
    fn nick_refuses_bad_and_taken_names() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        feed(&mut room, b"/nick bob", 2, t);
        assert_eq!(
            feed(&mut room, b"/nick BOB", 1, t),
            to(&[1], "* the name BOB is taken")
        );
        let sent = feed(&mut room, b"/nick 127.0.0.1:2", 1, t);
        assert_eq!(
            sent,
            to(
                &[1],
                "* cannot take the name 127.0.0.1:2: use 1-16 ASCII letters, digits, _ or -, \
                 starting with a letter"
            )
        );
        let sent = feed(&mut room, b"/nick", 1, t);
        assert_eq!(
            sent,
            to(&[1], "* usage: /nick NAME (1-16 letters, digits, _ or -)")
        );
        // Case changes of one's own name are fine; a name is freed when its owner leaves.
        assert_eq!(
            feed(&mut room, b"/nick Bob", 2, t)[1],
            (2, "* you are now Bob".into())
        );
        feed(&mut room, b"quit", 2, t);
        assert_eq!(
            feed(&mut room, b"/nick bob", 1, t),
            to(&[1], "* you are now bob")
        );
    }

    #[test]
    fn notices_quote_at_most_32_bytes_of_what_was_typed() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        let long = "x".repeat(40);
        let quoted = format!("{}…", "x".repeat(32));
        let sent = feed(&mut room, format!("/nick {long}").as_bytes(), 1, t);
        assert!(
            sent[0]
                .1
                .starts_with(&format!("* cannot take the name {quoted}: ")),
            "{sent:?}"
        );
        let sent = feed(&mut room, format!("/msg {long} hi").as_bytes(), 1, t);
        assert_eq!(sent, to(&[1], &format!("* no one here is called {quoted}")));
        let sent = feed(&mut room, format!("/{long}").as_bytes(), 1, t);
        assert_eq!(
            sent,
            to(
                &[1],
                &format!("* unknown command /{}…; try /help", "x".repeat(31))
            )
        );
    }

    #[test]
    fn me_cannot_pass_for_a_presence_notice() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        for action in [
            "left",
            "Joined",
            "timed out",
            "is now alice",
            "was removed",
            "left.",
            "left\tnow",
        ] {
            let sent = feed(&mut room, format!("/me {action}").as_bytes(), 1, t);
            assert_eq!(
                sent,
                to(
                    &[1],
                    "* that reads like a server notice; say it another way"
                ),
                "{action}"
            );
        }
        assert_eq!(feed(&mut room, b"/me left early", 1, t).len(), 1, "refused");
        assert_eq!(feed(&mut room, b"/me leftovers", 1, t).len(), 2, "relayed");
    }

    #[test]
    fn drops_left_untold_are_told_when_the_next_notice_is_due() {
        let t = Instant::now();
        let mut room = Room::new(
            Config {
                rate_per_sec: 1.0,
                burst: 1,
                ..config()
            },
            t,
        );
        feed(&mut room, b"@im@", 1, t);
        feed(&mut room, b"x", 1, t);
        assert_eq!(
            feed(&mut room, b"x", 1, t),
            to(&[1], "* slow down: 1 message dropped")
        );
        for _ in 0..39 {
            assert!(feed(&mut room, b"x", 1, t).is_empty());
        }
        let mut out = Outbox::new();
        room.tick(t + Duration::from_millis(999), &mut out);
        assert!(out.is_empty(), "not yet due");
        room.tick(t + NOTICE_INTERVAL, &mut out);
        assert_eq!(sorted(&out), to(&[1], "* slow down: 39 messages dropped"));
        out.clear();
        room.tick(t + 3 * NOTICE_INTERVAL, &mut out);
        assert!(out.is_empty(), "told once");
    }

    #[test]
    fn who_lists_members_in_join_order() {
        let t = Instant::now();
        let mut room = room_with(&[5, 3, 9], t);
        feed(&mut room, b"/nick alice", 3, t);
        assert_eq!(
            feed(&mut room, b"/WHO", 9, t),
            to(&[9], "* 3 here: 127.0.0.1:5, alice, 127.0.0.1:9")
        );
    }

    #[test]
    fn who_stays_within_the_message_limit() {
        let t = Instant::now();
        let ports: Vec<u16> = (1000..1020).collect();
        let mut room = room_with(&ports, t);
        let sent = feed(&mut room, b"/who", 1000, t);
        let text = &sent[0].1;
        assert!(
            text.len() <= "* ".len() + 64,
            "{} bytes: {text}",
            text.len()
        );
        assert_eq!(
            text,
            "* 20 here: 127.0.0.1:1000, 127.0.0.1:1001, … and 18 more"
        );
    }

    #[test]
    fn me_is_a_notice_for_everyone() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        assert_eq!(
            feed(&mut room, b"/me waves", 1, t),
            to(&[1, 2], "* 127.0.0.1:1 waves")
        );
        assert_eq!(
            feed(&mut room, b"/me", 1, t),
            to(&[1], "* usage: /me ACTION")
        );
    }

    #[test]
    fn msg_reaches_only_the_target() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2, 3], t);
        feed(&mut room, b"/nick bob", 2, t);
        assert_eq!(
            feed(&mut room, b"/msg BOB psst, hi", 1, t),
            vec![
                (1, "* private to bob: psst, hi".into()),
                (2, "* private from 127.0.0.1:1: psst, hi".into())
            ]
        );
        assert_eq!(
            feed(&mut room, b"/msg 127.0.0.1:3 by address", 2, t),
            vec![
                (2, "* private to 127.0.0.1:3: by address".into()),
                (3, "* private from bob: by address".into())
            ]
        );
        assert_eq!(
            feed(&mut room, b"/msg carol hi", 1, t),
            to(&[1], "* no one here is called carol")
        );
        assert_eq!(
            feed(&mut room, b"/msg bob", 1, t),
            to(&[1], "* usage: /msg WHO TEXT")
        );
        assert_eq!(
            feed(&mut room, b"/msg bob hi me", 2, t),
            to(&[2], "* that is you")
        );
    }

    #[test]
    fn help_unknown_and_double_slash() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        assert_eq!(
            feed(&mut room, b"/help", 1, t),
            to(&[1], &format!("* {HELP}"))
        );
        assert_eq!(
            feed(&mut room, b"/dance now", 1, t),
            to(&[1], "* unknown command /dance; try /help")
        );
        assert_eq!(
            feed(&mut room, b"//like this", 1, t),
            to(&[1, 2], "127.0.0.1:1 /like this")
        );
    }

    #[test]
    fn a_timed_out_name_comes_back_with_its_address() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        feed(&mut room, b"/nick alice", 1, t);
        feed(&mut room, b"@im@", 2, t + Duration::from_secs(8));
        let mut out = Outbox::new();
        room.tick(t + TIMEOUT + Duration::from_secs(1), &mut out);
        assert_eq!(room.len(), 1);
        let back = t + TIMEOUT + Duration::from_secs(2);
        let sent = feed(&mut room, b"still here?", 1, back);
        assert_eq!(
            sent,
            vec![
                (
                    1,
                    "* you joined as alice (2 here; /help for commands)".into()
                ),
                (1, "alice still here?".into()),
                (2, "* alice joined".into()),
                (2, "alice still here?".into()),
            ]
        );
        assert_eq!(
            feed(&mut room, b"/nick ALICE", 2, back),
            to(&[2], "* the name ALICE is taken")
        );
    }

    #[test]
    fn leaving_and_coming_back_refills_nothing() {
        let t = Instant::now();
        let mut room = Room::new(
            Config {
                rate_per_sec: 1.0,
                burst: 2,
                ..config()
            },
            t,
        );
        feed(&mut room, b"@im@", 1, t);
        feed(&mut room, b"/who", 1, t);
        feed(&mut room, b"/who", 1, t);
        feed(&mut room, b"quit", 1, t);
        assert!(
            feed(&mut room, b"@im@", 1, t).is_empty(),
            "no second welcome at once"
        );
        assert_eq!(
            feed(&mut room, b"/who", 1, t),
            to(&[1], "* slow down: 1 message dropped"),
            "the allowance was spent before leaving"
        );
        let later = t + Duration::from_secs(2);
        feed(&mut room, b"quit", 1, later);
        let sent = feed(&mut room, b"@im@", 1, later + NOTICE_INTERVAL);
        assert!(
            sent[0].1.starts_with("* you joined as "),
            "a welcome a second later: {sent:?}"
        );
    }

    #[test]
    fn a_parked_name_is_not_restored_once_taken_or_expired() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2, 3], t);
        feed(&mut room, b"/nick alice", 1, t);
        feed(&mut room, b"/nick carol", 3, t);
        let mut out = Outbox::new();
        let later = t + Duration::from_secs(8);
        feed(&mut room, b"@im@", 2, later);
        room.tick(t + TIMEOUT + Duration::from_secs(1), &mut out);
        assert_eq!(room.len(), 1);
        let back = t + TIMEOUT + Duration::from_secs(2);
        feed(&mut room, b"/nick alice", 2, back);
        let sent = feed(&mut room, b"@im@", 1, back);
        assert!(
            sent.iter().any(|(_, l)| l == "* 127.0.0.1:1 joined"),
            "{sent:?}"
        );
        let sent = feed(&mut room, b"@im@", 3, back + REMEMBER_DEPARTED_FOR);
        assert!(
            sent.iter().any(|(_, l)| l == "* 127.0.0.1:3 joined"),
            "{sent:?}"
        );
    }

    #[test]
    fn kick_removes_tells_everyone_and_bans_for_a_while() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        feed(&mut room, b"/nick bob", 2, t);
        let mut out = Outbox::new();
        assert_eq!(room.kick("Bob", t, &mut out), Some("bob".into()));
        assert_eq!(
            sorted(&out),
            vec![
                (1, "* bob was removed".into()),
                (2, "* you were removed by the server".into())
            ]
        );
        assert!(feed(&mut room, b"@im@", 2, t + Duration::from_secs(5)).is_empty());
        assert_eq!(room.len(), 1);
        feed(&mut room, b"@im@", 2, t + KICK_BAN);
        assert_eq!(room.len(), 2, "the ban expires");
        assert_eq!(room.kick("nobody", t, &mut out), None);
    }

    #[test]
    fn say_is_a_server_notice_to_everyone() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        let mut out = Outbox::new();
        room.say("maintenance at 5\x1b", &mut out);
        assert_eq!(sorted(&out), to(&[1, 2], "* server: maintenance at 5"));
    }

    #[test]
    fn shutdown_sends_an_empty_datagram_to_everyone() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        feed(&mut room, b"@im@\n", 2, t);
        let mut out = Outbox::new();
        room.shutdown(&mut out);
        assert_eq!(
            sorted(&out),
            to(&[1, 2], ""),
            "no newline, even in line mode"
        );
        assert!(room.is_empty());
    }

    #[test]
    fn a_full_room_refuses_newcomers_with_a_notice_now_and_then() {
        let t = Instant::now();
        let mut room = Room::new(
            Config {
                max_clients: 2,
                ..config()
            },
            t,
        );
        feed(&mut room, b"@im@", 1, t);
        feed(&mut room, b"@im@", 2, t);
        assert_eq!(
            feed(&mut room, b"@im@", 3, t),
            to(&[3], "* room is full (2 clients)")
        );
        assert!(
            feed(&mut room, b"hello?", 3, t).is_empty(),
            "one notice per second"
        );
        assert!(feed(&mut room, b"hello?", 3, t + Duration::from_millis(900)).is_empty());
        let later = t + Duration::from_millis(2100);
        assert_eq!(
            feed(&mut room, b"hi\n", 3, later),
            to(&[3], "* room is full (2 clients)\n")
        );
        assert_eq!(room.len(), 2);
        assert_eq!(room.stats().refused_full, 4);
        // Once someone leaves, there is room again.
        feed(&mut room, b"quit", 1, later);
        feed(&mut room, b"@im@", 3, later);
        assert_eq!(room.len(), 2);
    }

    #[test]
    fn strangers_are_remembered_in_bounded_memory() {
        let t = Instant::now();
        let mut room = Room::new(
            Config {
                max_clients: 1,
                ..config()
            },
            t,
        );
        feed(&mut room, b"@im@", 1, t);
        let mut notified = 0;
        let mut out = Outbox::new();
        for i in 0..(STRANGER_MEMORY as u32 + 1000) {
            let from = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7));
            room.handle_datagram(b"@im@", from, t, &mut out);
            notified += out.len();
            out.clear();
        }
        assert_eq!(
            notified, STRANGER_MEMORY,
            "past the memory, strangers get nothing"
        );
        // A new second, a new generation: notices flow again, but not to the last ones.
        let from = SocketAddr::from(([10, 0, 0, 5], 7));
        room.handle_datagram(b"@im@", from, t + NOTICE_INTERVAL, &mut out);
        assert!(
            out.is_empty(),
            "told less than a second ago is still remembered"
        );
        let new = SocketAddr::from(([10, 9, 9, 9], 7));
        room.handle_datagram(b"@im@", new, t + NOTICE_INTERVAL, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn the_rate_limit_drops_and_says_so_once_a_second() {
        let t = Instant::now();
        let mut room = Room::new(
            Config {
                rate_per_sec: 5.0,
                burst: 3,
                ..config()
            },
            t,
        );
        feed(&mut room, b"@im@", 1, t);
        for i in 0..3 {
            assert_eq!(feed(&mut room, b"x", 1, t).len(), 1, "burst message {i}");
        }
        assert_eq!(
            feed(&mut room, b"x", 1, t),
            to(&[1], "* slow down: 1 message dropped")
        );
        assert!(feed(&mut room, b"x", 1, t).is_empty());
        assert!(
            feed(&mut room, b"/who", 1, t).is_empty(),
            "commands count too"
        );
        for _ in 0..100 {
            assert!(
                feed(&mut room, b"@im@", 1, t).is_empty(),
                "heartbeats are free"
            );
        }
        // 0.19 s later still no token (5 a second), and no second notice yet.
        assert!(feed(&mut room, b"x", 1, t + Duration::from_millis(190)).is_empty());
        // 1 s later the bucket is full again (3), and messages go through.
        let later = t + Duration::from_secs(1);
        assert_eq!(feed(&mut room, b"y", 1, later), to(&[1], "127.0.0.1:1 y"));
        for _ in 0..2 {
            assert_eq!(feed(&mut room, b"y", 1, later).len(), 1);
        }
        assert_eq!(
            feed(&mut room, b"y", 1, later),
            to(&[1], "* slow down: 4 messages dropped"),
            "the count covers everything since the last notice"
        );
        assert_eq!(room.stats().dropped_rate, 5);
    }

    #[test]
    fn rate_zero_means_no_limit() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        for _ in 0..1000 {
            assert_eq!(feed(&mut room, b"x", 1, t).len(), 1);
        }
    }

    #[test]
    fn too_long_notices_are_limited_to_one_a_second() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        assert_eq!(feed(&mut room, &[b'x'; 65], 1, t).len(), 1);
        assert!(feed(&mut room, &[b'x'; 65], 1, t).is_empty());
        assert_eq!(
            feed(&mut room, &[b'x'; 65], 1, t + NOTICE_INTERVAL).len(),
            1
        );
        assert_eq!(room.stats().too_long, 3);
    }

    #[test]
    fn presence_notices_have_a_room_wide_budget() {
        let t = Instant::now();
        let mut room = room_with(&[1], t);
        let mut told = 0;
        for port in 2..100 {
            told += feed(&mut room, b"@im@", port, t)
                .iter()
                .filter(|(to, _)| *to == 1)
                .count();
        }
        assert_eq!(
            told,
            PRESENCE_BURST as usize - 1,
            "the first join spent one token"
        );
        assert_eq!(room.len(), 99, "everyone still joins");
        assert_eq!(
            room.stats().presence_skipped,
            98 - (PRESENCE_BURST as u64 - 1)
        );
        let later = t + Duration::from_secs(1);
        assert!(
            !feed(&mut room, b"quit", 2, later).is_empty(),
            "the budget refills"
        );
    }

    #[test]
    fn stats_count_datagrams_and_broadcasts() {
        let t = Instant::now();
        let mut room = room_with(&[1, 2], t);
        feed(&mut room, b"hi", 1, t);
        feed(&mut room, b"/me waves", 1, t);
        feed(&mut room, b"/who", 1, t);
        let stats = room.stats();
        assert_eq!((stats.datagrams, stats.broadcasts), (5, 2));
    }

    #[test]
    fn members_are_listed_in_join_order_with_idle_time() {
        let t = Instant::now();
        let mut room = room_with(&[5, 3, 9], t);
        feed(&mut room, b"@im@", 5, t + Duration::from_secs(2));
        let members = room.members(t + Duration::from_secs(4));
        let listed: Vec<_> = members
            .iter()
            .map(|m| (m.addr.port(), m.idle.as_secs()))
            .collect();
        assert_eq!(listed, vec![(5, 2), (3, 4), (9, 4)]);
    }
}
