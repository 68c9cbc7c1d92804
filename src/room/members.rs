//! The member table: members by address, in join order, by name, and counted by host.
//! The only place those must agree, so every change goes through here.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::manners::Manners;
use super::stream::{
    Stream, HELD_TYPED_HOST_BYTES, HELD_TYPED_ROOM_BYTES, REPAIR_HOST_BURST, REPAIR_HOST_RATE,
};
use super::throttle::{Allowance, TokenBucket};
use crate::outbox::Wrap;
use crate::proto::frame::Token;
use crate::proto::Name;

/// A member of the room.
#[derive(Debug)]
pub struct Member {
    /// When it was last heard from.
    pub last_seen: Instant,
    /// When it last said something (a line or a command; joining counts): under
    /// `--verify`, heartbeats alone keep a classic member only so long after it.
    pub last_said: Instant,
    /// Its name, if it took one; changed only through [`Members::rename`].
    name: Option<Name>,
    /// How it is shown to others: its name, or else its address.
    label: String,
    /// How what is sent to it is wrapped: in its session's frame, or, for a classic
    /// client, with a `\n` if its last datagram ended in one (netcat and friends).
    pub wrap: Wrap,
    /// What it may still send, and be sent.
    pub allowance: Allowance,
    /// Messages dropped for its rate since it was last told.
    pub n_dropped_untold: u64,
    /// In a session: the numbering of the lines it is sent.
    pub stream: Option<Stream>,
    /// Its place in the join order.
    joined: u64,
    /// Away, whom it ignores, whom it replies to. Whom it ignores changes only through
    /// [`Members::ignore`] and [`Members::unignore`], which count who ignores anyone.
    manners: Manners,
    /// The bytes of chat text it sent while a member: under `--verify`, what pays for
    /// the one notice it is sent when it times out.
    pub bytes_said: u64,
}

/// The members, kept in step: by address, by join order, by name's skeleton.
#[derive(Debug, Default)]
pub struct Members {
    by_addr: HashMap<SocketAddr, Member>,
    /// Members by join number: a listing reads the first few without sorting the table.
    by_join: BTreeMap<u64, SocketAddr>,
    /// Name skeleton → member, so names are unique however they are spelled.
    by_name: HashMap<String, SocketAddr>,
    /// Each host's members, counted, and what it may still draw in repairs (see
    /// [`Host`]).
    by_host: HashMap<Host, HostShare>,
    n_joined: u64,
    /// How many members ignore anyone: while none does, a line goes to everyone
    /// without asking each.
    ignorers: usize,
    /// Bytes of typed lines all sessions hold behind gaps.
    held: usize,
    /// No member can have timed out before this instant; `None` when there is no member
    /// (or none can ever time out). Keeps eviction from scanning on every datagram.
    next_timeout: Option<Instant>,
}

/// A host, as seats are counted: an IPv4 address, or an IPv6 /64 (one site's hosts
/// can take any address in theirs). Loopback is no host of its own: its members are
/// the server's own machine's people, and no one elsewhere can send from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

/// What one host has of the room: its members, and its repairs' budget in bytes.
#[derive(Debug)]
struct HostShare {
    members: usize,
    repairs: TokenBucket,
    /// Bytes of typed lines its sessions hold behind gaps.
    held: usize,
}

/// Why a name cannot be given to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameError {
    /// The member at this address has it, or one too like it.
    Taken(SocketAddr),
    /// The member already has exactly this name.
    Same,
    /// No such member.
    NotAMember,
}

impl Member {
    /// A member joining now, shown as `name` if it has one, else as its address.
    pub fn new(
        addr: SocketAddr,
        name: Option<Name>,
        wrap: Wrap,
        allowance: Allowance,
        now: Instant,
    ) -> Member {
        Member {
            last_seen: now,
            last_said: now,
            label: name
                .as_ref()
                .map_or_else(|| addr.to_string(), Name::to_string),
            name,
            stream: matches!(wrap, Wrap::Session(_)).then(|| Stream::new(now)),
            wrap,
            allowance,
            n_dropped_untold: 0,
            joined: 0,
            manners: Manners::default(),
            bytes_said: 0,
        }
    }
}

impl Member {
    /// How it is shown to others: its name, or else its address.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its name, if it took one.
    pub fn name(&self) -> Option<&Name> {
        self.name.as_ref()
    }

    /// The same member with the manners it had when it timed out.
    pub fn with_manners(self, manners: Manners) -> Member {
        Member { manners, ..self }
    }

    /// Its place in the join order: the same address joining again is someone else.
    pub fn joined(&self) -> u64 {
        self.joined
    }

    /// Away, whom it ignores, whom it replies to.
    pub fn manners(&self) -> &Manners {
        &self.manners
    }

    /// Its manners, to change all but whom it ignores.
    pub fn manners_mut(&mut self) -> &mut Manners {
        &mut self.manners
    }

    /// Whether it is in a session: only datagrams with its token speak for it.
    pub fn is_session(&self) -> bool {
        matches!(self.wrap, Wrap::Session(_))
    }

    /// Whether `token` is its session's.
    pub fn has_token(&self, token: Token) -> bool {
        self.wrap == Wrap::Session(token)
    }

    /// Puts it in a session with `token`, its lines numbered from 1 again.
    pub fn open_session(&mut self, token: Token, now: Instant) {
        self.wrap = Wrap::Session(token);
        self.stream = Some(Stream::new(now));
    }

    /// Notes how its latest classic datagram ended; a session is not changed.
    pub fn heard_classic(&mut self, line_mode: bool) {
        if !self.is_session() {
            self.wrap = Wrap::classic(line_mode);
        }
    }
}

impl Host {
    /// The host of `addr`, as seats are counted; `None` for loopback.
    pub fn of(addr: SocketAddr) -> Option<Host> {
        let ip = canonical_ip(addr);
        (!ip.is_loopback()).then(|| Host::of_ip(ip))
    }

    /// The host `addr` sends from, loopback included (each loopback address its own):
    /// what the server's queues take turns between.
    pub fn sender(addr: SocketAddr) -> Host {
        Host::of_ip(canonical_ip(addr))
    }

    fn of_ip(ip: IpAddr) -> Host {
        match ip {
            IpAddr::V4(v4) => Host::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut prefix = [0u8; 8];
                prefix.copy_from_slice(&v6.octets()[..8]);
                Host::V6Prefix(prefix)
            }
        }
    }
}

/// `addr`'s IP address, an IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical_ip(addr: SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        ip => ip,
    }
}

impl Members {
    /// Adds `member` at the end of the join order; it must not be a member already, and
    /// its name, if any, must be free (see [`Members::name_is_free`]).
    pub fn insert(&mut self, addr: SocketAddr, mut member: Member, timeout: Duration) {
        self.n_joined += 1;
        member.joined = self.n_joined;
        if let Some(name) = &member.name {
            self.by_name.insert(name.skeleton(), addr);
        }
        self.by_join.insert(member.joined, addr);
        if member.manners.ignores_anyone() {
            self.ignorers += 1;
        }
        if let Some(host) = Host::of(addr) {
            let now = member.last_seen;
            self.by_host
                .entry(host)
                .or_insert_with(|| HostShare {
                    members: 0,
                    repairs: TokenBucket::full(REPAIR_HOST_BURST, now),
                    held: 0,
                })
                .members += 1;
        }
        if let Some(due) = member.last_seen.checked_add(timeout) {
            self.next_timeout = Some(self.next_timeout.map_or(due, |d| d.min(due)));
        }
        self.by_addr.insert(addr, member);
    }

    /// Removes a member, from every index.
    pub fn remove(&mut self, addr: SocketAddr) -> Option<Member> {
        let member = self.by_addr.remove(&addr)?;
        self.by_join.remove(&member.joined);
        self.held = self
            .held
            .saturating_sub(member.stream.as_ref().map_or(0, Stream::held_bytes));
        if let Some(host) = Host::of(addr) {
            if let Some(share) = self.by_host.get_mut(&host) {
                share.members -= 1;
                share.held = share
                    .held
                    .saturating_sub(member.stream.as_ref().map_or(0, Stream::held_bytes));
                if share.members == 0 {
                    self.by_host.remove(&host);
                }
            }
        }
        if let Some(name) = &member.name {
            self.by_name.remove(&name.skeleton());
        }
        if member.manners.ignores_anyone() {
            self.ignorers = self.ignorers.saturating_sub(1);
        }
        if self.by_addr.is_empty() {
            self.next_timeout = None;
        }
        Some(member)
    }

    /// Gives `addr` the name `name`; returns how it was shown before.
    pub fn rename(&mut self, addr: SocketAddr, name: Name) -> Result<String, RenameError> {
        let key = name.skeleton();
        if let Some(&holder) = self.by_name.get(&key).filter(|&&owner| owner != addr) {
            return Err(RenameError::Taken(holder));
        }
        let member = self.by_addr.get_mut(&addr).ok_or(RenameError::NotAMember)?;
        if member.name.as_ref() == Some(&name) {
            return Err(RenameError::Same);
        }
        if let Some(old) = &member.name {
            self.by_name.remove(&old.skeleton());
        }
        self.by_name.insert(key, addr);
        let old = std::mem::replace(&mut member.label, name.to_string());
        member.name = Some(name);
        Ok(old)
    }

    /// Makes `addr` ignore `label` (and the member at `target`, if it is here); false
    /// if it did already, or is no member.
    pub fn ignore(&mut self, addr: SocketAddr, label: &str, target: Option<SocketAddr>) -> bool {
        let Some(member) = self.by_addr.get_mut(&addr) else {
            return false;
        };
        let before = member.manners.ignores_anyone();
        let added = member.manners.ignore(label, target);
        if !before && member.manners.ignores_anyone() {
            self.ignorers += 1;
        }
        added
    }

    /// Makes `addr` no longer ignore `who`; the label it ignored, if any.
    pub fn unignore(&mut self, addr: SocketAddr, who: &str) -> Option<String> {
        let member = self.by_addr.get_mut(&addr)?;
        let removed = member.manners.unignore(who);
        if removed.is_some() && !member.manners.ignores_anyone() {
            self.ignorers = self.ignorers.saturating_sub(1);
        }
        removed
    }

    /// Whether any member ignores anyone.
    pub fn anyone_ignores(&self) -> bool {
        self.ignorers > 0
    }

    /// Whether no member has `name` or one too like it.
    pub fn name_is_free(&self, name: &Name) -> bool {
        !self.by_name.contains_key(&name.skeleton())
    }

    /// The member called `who`: a name (under its skeleton), or an address as shown.
    pub fn find(&self, who: &str) -> Option<SocketAddr> {
        if let Ok(addr) = who.parse::<SocketAddr>() {
            // On a dual-stack socket IPv4 clients arrive as IPv4-mapped IPv6 addresses.
            let mapped = match addr.ip() {
                IpAddr::V4(ip) => Some(SocketAddr::new(ip.to_ipv6_mapped().into(), addr.port())),
                IpAddr::V6(_) => None,
            };
            return [Some(addr), mapped]
                .into_iter()
                .flatten()
                .find(|a| self.by_addr.contains_key(a));
        }
        self.by_name
            .get(&crate::proto::name::skeleton(who))
            .copied()
    }

    /// The member at `addr`.
    pub fn get(&self, addr: SocketAddr) -> Option<&Member> {
        self.by_addr.get(&addr)
    }

    /// The member at `addr`, to change.
    pub fn get_mut(&mut self, addr: SocketAddr) -> Option<&mut Member> {
        self.by_addr.get_mut(&addr)
    }

    /// Every member, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, &Member)> + '_ {
        self.by_addr.iter().map(|(&addr, m)| (addr, m))
    }

    /// Every member, to change what is not indexed (its stream, its allowance).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SocketAddr, &mut Member)> + '_ {
        self.by_addr.iter_mut().map(|(&addr, m)| (addr, m))
    }

    /// The members in join order.
    pub fn in_join_order(&self) -> impl Iterator<Item = (SocketAddr, &Member)> + '_ {
        self.by_join
            .values()
            .filter_map(|&addr| self.by_addr.get(&addr).map(|m| (addr, m)))
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// How many members share `addr`'s host (none for loopback, which is no host).
    pub fn on_host_of(&self, addr: SocketAddr) -> usize {
        Host::of(addr)
            .and_then(|host| self.by_host.get(&host))
            .map_or(0, |share| share.members)
    }

    /// The bytes of typed lines `addr`'s session may still have held behind gaps:
    /// within [`HELD_TYPED_HOST_BYTES`] for all its host's sessions (no such limit for
    /// loopback) and [`HELD_TYPED_ROOM_BYTES`] for all sessions.
    pub fn held_room(&self, addr: SocketAddr) -> usize {
        let host = Host::of(addr)
            .and_then(|host| self.by_host.get(&host))
            .map_or(usize::MAX, |share| {
                HELD_TYPED_HOST_BYTES.saturating_sub(share.held)
            });
        host.min(HELD_TYPED_ROOM_BYTES.saturating_sub(self.held))
    }

    /// The bytes `addr`'s session holds went from `before` to `after`.
    pub fn held_changed(&mut self, addr: SocketAddr, before: usize, after: usize) {
        self.held = (self.held + after).saturating_sub(before);
        if let Some(share) = Host::of(addr).and_then(|host| self.by_host.get_mut(&host)) {
            share.held = (share.held + after).saturating_sub(before);
        }
    }

    /// Takes `bytes` of repairs from the budget of `addr`'s host, shared by all its
    /// sessions ([`REPAIR_HOST_RATE`] bytes a second); false if it has not that much.
    /// Loopback is no host: its repairs are limited per session only.
    pub fn take_host_repair(&mut self, addr: SocketAddr, bytes: usize, now: Instant) -> bool {
        let Some(share) = Host::of(addr).and_then(|host| self.by_host.get_mut(&host)) else {
            return true;
        };
        share
            .repairs
            .take_many(bytes as f64, REPAIR_HOST_RATE, REPAIR_HOST_BURST, now)
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// The earliest instant a member can time out at, if any can.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    /// The members silent for longer than `timeout` at `now`, in join order. Scans the
    /// table only when someone can be due.
    pub fn timed_out(&mut self, now: Instant, timeout: Duration) -> Vec<SocketAddr> {
        if self.next_timeout.is_none_or(|due| now <= due) {
            return Vec::new();
        }
        let mut silent = Vec::new();
        let mut next_timeout: Option<Instant> = None;
        for (addr, member) in self.in_join_order() {
            if now.saturating_duration_since(member.last_seen) > timeout {
                silent.push(addr);
            } else if let Some(due) = member.last_seen.checked_add(timeout) {
                next_timeout = Some(next_timeout.map_or(due, |d| d.min(due)));
            }
        }
        self.next_timeout = next_timeout;
        silent
    }

    /// Empties the table.
    pub fn clear(&mut self) {
        *self = Members {
            n_joined: self.n_joined,
            ..Members::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn join(members: &mut Members, port: u16, name: Option<&str>, now: Instant) {
        let name = name.map(|n| Name::parse(n).expect("a valid name"));
        let member = Member::new(addr(port), name, Wrap::Bare, Allowance::new(1, now), now);
        members.insert(addr(port), member, TIMEOUT);
    }

    fn order(members: &Members) -> Vec<String> {
        members
            .in_join_order()
            .map(|(_, m)| m.label.clone())
            .collect()
    }

    #[test]
    fn the_indexes_agree_through_inserts_renames_and_removals() {
        let t = Instant::now();
        let mut members = Members::default();
        join(&mut members, 5, None, t);
        join(&mut members, 3, Some("alice"), t);
        join(&mut members, 9, None, t);
        assert_eq!(order(&members), ["127.0.0.1:5", "alice", "127.0.0.1:9"]);
        assert_eq!(members.find("ALICE"), Some(addr(3)));
        assert_eq!(members.find("a1ice"), Some(addr(3)), "under the skeleton");
        assert_eq!(
            members.rename(addr(5), Name::parse("AIice").unwrap()),
            Err(RenameError::Taken(addr(3)))
        );
        assert_eq!(
            members.rename(addr(3), Name::parse("alice").unwrap()),
            Err(RenameError::Same)
        );
        assert_eq!(
            members.rename(addr(3), Name::parse("Alice").unwrap()),
            Ok("alice".to_string()),
            "a member may respell its own name"
        );
        assert_eq!(
            members.rename(addr(5), Name::parse("bob").unwrap()),
            Ok("127.0.0.1:5".to_string())
        );
        assert_eq!(order(&members), ["bob", "Alice", "127.0.0.1:9"]);
        members.remove(addr(3));
        assert_eq!(
            members.find("alice"),
            None,
            "a name is freed with its owner"
        );
        assert!(members.name_is_free(&Name::parse("alice").unwrap()));
        assert_eq!(members.find("127.0.0.1:9"), Some(addr(9)));
        assert_eq!(order(&members), ["bob", "127.0.0.1:9"]);
        assert_eq!(members.len(), 2);
    }

    #[test]
    fn timeouts_are_found_in_join_order_and_only_when_due() {
        let t = Instant::now();
        let mut members = Members::default();
        join(&mut members, 1, None, t);
        join(&mut members, 2, None, t + Duration::from_secs(3));
        assert_eq!(members.next_timeout(), Some(t + TIMEOUT));
        assert!(members.timed_out(t + TIMEOUT, TIMEOUT).is_empty());
        let late = t + TIMEOUT + Duration::from_millis(1);
        assert_eq!(members.timed_out(late, TIMEOUT), vec![addr(1)]);
        assert_eq!(
            members.next_timeout(),
            Some(t + Duration::from_secs(3) + TIMEOUT)
        );
    }

    #[test]
    fn an_endless_timeout_never_comes_due() {
        let t = Instant::now();
        let mut members = Members::default();
        let member = Member::new(addr(1), None, Wrap::Bare, Allowance::new(1, t), t);
        members.insert(addr(1), member, Duration::MAX);
        assert_eq!(members.next_timeout(), None);
        assert!(members
            .timed_out(t + Duration::from_secs(1 << 40), Duration::MAX)
            .is_empty());
    }
}
