//! The loop's rule about time, driven with invented times and a model of the socket: a
//! burst of heartbeats that arrives while the room's thread is busy fanning out, even
//! one descheduled in the middle of it, is read, and evicts no one.
//!
//! The model does what [`Server::run`] does with the room and the [`Backlog`], in the
//! same order: a send costs time, the socket is drained every [`DRAIN_EVERY`] sends,
//! the backlog is read before the socket, and timeouts are judged at the backlog's
//! horizon. The kernel holds what arrived and was not yet taken off, up to what a real
//! one holds for small datagrams.

use std::collections::VecDeque;

use super::*;

/// About what Linux holds for a UDP socket of small datagrams.
const KERNEL_HOLDS: usize = 256;
const TIMEOUT: Duration = Duration::from_secs(2);

/// The room's thread, its socket and its clock, in invented time.
struct Model {
    room: Room,
    backlog: Backlog,
    out: Outbox,
    clock: Instant,
    /// Datagrams still to come, by arrival time.
    arrivals: VecDeque<Arrival>,
    /// What the kernel holds: arrived, not yet taken off the socket.
    kernel: VecDeque<Arrival>,
    /// Arrivals the kernel had no room for.
    kernel_drops: usize,
    /// Sends since the socket was last read.
    busy: u32,
    /// Sends so far, and after which one the thread is descheduled, for how long.
    sends: usize,
    stall: (usize, Duration),
    /// What one send costs.
    send_cost: Duration,
    /// Datagrams the room was handed.
    read: usize,
    /// Datagrams the backlog had no room for.
    backlog_drops: Vec<Arrival>,
    /// For each datagram from `watched`, when it arrived and when the last datagram of
    /// its fan-out was sent.
    watched: Option<SocketAddr>,
    watched_waiting: VecDeque<Instant>,
    watched_done: Vec<(Instant, Instant)>,
}

/// A datagram: when it arrives, where from, what it holds.
type Arrival = (Instant, SocketAddr, &'static [u8]);

impl Model {
    /// Moves into the kernel whatever has arrived by now.
    fn arrive(&mut self) {
        while self
            .arrivals
            .front()
            .is_some_and(|(at, _, _)| *at <= self.clock)
        {
            let arrival = self.arrivals.pop_front().expect("an arrival");
            if self.kernel.len() < KERNEL_HOLDS {
                self.kernel.push_back(arrival);
            } else {
                self.kernel_drops += 1;
            }
        }
    }

    /// As `Server::drain`: everything the kernel holds, into the backlog.
    fn drain(&mut self) {
        self.busy = 0;
        self.arrive();
        let now = self.clock;
        while let Some(arrival) = self.kernel.pop_front() {
            if !self.backlog.push(arrival.2, arrival.1, now) {
                self.backlog_drops.push(arrival);
            }
        }
        self.backlog.socket_emptied(now);
    }

    /// As `Server::send_all`: each send takes time, and drains when due.
    fn send_all(&mut self) {
        let n = self.out.iter().count();
        self.out.clear();
        for _ in 0..n {
            self.busy += 1;
            if self.busy >= DRAIN_EVERY {
                self.drain();
            }
            self.clock += self.send_cost;
            self.sends += 1;
            if self.sends == self.stall.0 {
                self.clock += self.stall.1;
            }
        }
    }

    /// Makes every one of `members` a member at `at` by its heartbeat; what the room
    /// says of it is not sent.
    fn seat(&mut self, members: impl IntoIterator<Item = SocketAddr>, at: Instant) {
        for member in members {
            self.handle(HEARTBEAT_BYTES, member, at);
        }
        self.out.clear();
    }

    fn handle(&mut self, datagram: &[u8], from: SocketAddr, at: Instant) {
        self.room.handle_datagram(datagram, from, at, &mut self.out);
        if Some(from) == self.watched {
            let arrived = self.watched_waiting.pop_front().expect("a watched arrival");
            // Its whole fan-out, its own echo included, is sent by the next send_all.
            let fan_out = self.send_cost * u32::try_from(self.out.len()).expect("small");
            self.watched_done.push((arrived, self.clock + fan_out));
        }
    }

    /// One turn of `Server::run`; false when there is nothing left to do.
    fn turn(&mut self) -> bool {
        if let Some(waiting) = self.backlog.pop() {
            self.handle(&waiting.datagram, waiting.from, waiting.at);
            self.backlog.charge(self.out.len());
            self.read += 1;
            self.busy += 1;
            if self.busy >= DRAIN_EVERY {
                self.drain();
            }
        } else {
            self.busy = 0;
            self.arrive();
            match self.kernel.pop_front() {
                Some((_, from, datagram)) => {
                    let now = self.clock;
                    self.handle(datagram, from, now);
                    self.read += 1;
                }
                None => {
                    // A receive that finds nothing: it waits for the next arrival.
                    self.backlog.socket_emptied(self.clock);
                    match self.arrivals.front() {
                        Some(&(at, _, _)) => self.clock = at,
                        None => return false,
                    }
                }
            }
        }
        self.send_all();
        let clock = self.clock;
        if self.backlog.is_empty() && self.room.next_deadline().is_some_and(|d| d <= clock) {
            self.drain();
        }
        let horizon = self.backlog.horizon(clock);
        self.room.handle_timeout(horizon, &mut self.out);
        self.send_all();
        true
    }
}

impl Model {
    fn new(config: Config, t0: Instant, send_cost: Duration) -> Model {
        Model {
            room: Room::new(config, t0),
            backlog: Backlog::new(BACKLOG_BYTES, t0),
            out: Outbox::new(),
            clock: t0,
            arrivals: VecDeque::new(),
            kernel: VecDeque::new(),
            kernel_drops: 0,
            busy: 0,
            sends: 0,
            stall: (0, Duration::ZERO),
            send_cost,
            read: 0,
            backlog_drops: Vec::new(),
            watched: None,
            watched_waiting: VecDeque::new(),
            watched_done: Vec::new(),
        }
    }
}

const HEARTBEAT_BYTES: &[u8] = b"@im@";

/// A room of up to a thousand members, open, with no history or repairs, and seats
/// not counted per host (one host may have them all: seats are not what is tried).
fn model_config() -> Config {
    Config {
        timeout: Duration::from_secs(10),
        max_message_bytes: 1024,
        max_clients: 1000,
        rate_per_sec: 0.0,
        burst: 10,
        local_addr: None,
        verify: false,
        history_lines: 0,
        repair_lines: 0,
        max_per_host: usize::MAX,
    }
}

fn member(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn a_burst_of_heartbeats_during_a_stalled_fan_out_is_read_and_evicts_no_one() {
    const MEMBERS: u16 = 1000;
    let t0 = Instant::now();
    let ms = |n: u64| Duration::from_micros(n * 1000);
    let config = Config {
        timeout: TIMEOUT,
        max_clients: 2000,
        rate_per_sec: 0.0,
        ..model_config()
    };
    // A loaded machine: a fan-out to a thousand takes 100 ms.
    let mut model = Model::new(config, t0, Duration::from_micros(100));
    // Descheduled for 30 ms after the 750th send, across the members' timeout.
    model.stall = (750, ms(30));
    let chatter = member(5000);
    model.seat((1..=MEMBERS).map(member).chain([chatter]), t0);
    assert_eq!(model.room.len(), usize::from(MEMBERS) + 1);

    // Every member heartbeats once more, one every 100 µs from 1.89 s, all before their
    // timeout at 2 s; the chatter's line comes at 1.9 s, so the fan-out (from 1.9 s to
    // past 2 s, with the stall from 1.975 s to 2.005 s) is under way through the burst.
    let burst_start = t0 + ms(1890);
    model.arrivals = (1..=MEMBERS)
        .map(|port| {
            let at = burst_start + Duration::from_micros(100 * u64::from(port));
            (at, member(port), HEARTBEAT_BYTES)
        })
        .collect();
    model.clock = t0 + ms(1900);
    model.arrive();
    model.handle(b"keeping the room busy", chatter, t0 + ms(1900));
    model.send_all();
    assert!(
        model.clock > t0 + TIMEOUT,
        "the fan-out lasts past the timeout"
    );
    while model.turn() {}

    assert_eq!(model.kernel_drops, 0, "the model's kernel never overflowed");
    assert_eq!(model.read, usize::from(MEMBERS), "every heartbeat was read");
    let stats = model.room.stats();
    assert_eq!(
        stats.timed_out, 0,
        "no member with a heartbeat in time is evicted"
    );
    assert_eq!(model.room.len(), usize::from(MEMBERS) + 1);

    // And the rule still evicts: once everyone is silent for longer than the timeout,
    // a receive that finds the socket empty lets the room judge them.
    model.clock = t0 + ms(4100);
    assert!(!model.turn(), "nothing more arrives");
    let horizon = model.backlog.horizon(model.clock);
    model.room.handle_timeout(horizon, &mut model.out);
    assert_eq!(model.room.stats().timed_out, u64::from(MEMBERS) + 1);
}

// Issue 18, item 3: one host whose 600 members each chat within the rate limit asks
// for more fan-out than the room can give; an honest member on another host still has
// its lines handled within a few turns, and loses none.
#[test]
fn one_host_saturating_the_room_delays_another_hosts_lines_by_a_turn_or_two() {
    const FLOOD_MEMBERS: u16 = 600;
    let t0 = Instant::now();
    let ms = |n: u64| Duration::from_micros(n * 1000);
    let config = Config {
        rate_per_sec: crate::limits::DEFAULT_RATE,
        burst: crate::limits::DEFAULT_BURST,
        ..model_config()
    };
    // A fast machine: 3 µs a send, so a line to the room takes 1.8 ms and the room
    // fans out about 550 lines a second; the flood's host asks for 2 400.
    let mut model = Model::new(config, t0, Duration::from_micros(3));
    let flood = |port: u16| SocketAddr::from(([10, 0, 0, 1], port));
    let honest = SocketAddr::from(([10, 0, 0, 2], 4000));
    model.seat((1..=FLOOD_MEMBERS).map(flood).chain([honest]), t0);
    assert_eq!(model.room.len(), usize::from(FLOOD_MEMBERS) + 1);

    // For two seconds each flooding member says a line every 250 ms (4 a second, under
    // the limit of 5), spread evenly; the honest member one every 200 ms.
    let start = t0 + ms(100);
    let mut arrivals: Vec<Arrival> = Vec::new();
    for k in 0..8u32 {
        for port in 1..=FLOOD_MEMBERS {
            let offset = Duration::from_micros(250_000 * u64::from(port) / 600);
            arrivals.push((
                start + ms(250) * k + offset,
                flood(port),
                b"flooding the room",
            ));
        }
    }
    for k in 0..10u32 {
        let at = start + ms(200) * k + Duration::from_micros(77);
        arrivals.push((at, honest, b"an honest line"));
        model.watched_waiting.push_back(at);
    }
    arrivals.sort_by_key(|&(at, _, _)| at);
    model.arrivals = arrivals.into();
    model.watched = Some(honest);
    while model.watched_done.len() < 10 && model.clock < start + ms(10_000) && model.turn() {}

    assert_eq!(model.kernel_drops, 0, "the model's kernel never overflowed");
    assert!(
        model
            .backlog_drops
            .iter()
            .all(|&(_, from, _)| from != honest),
        "no honest line was dropped"
    );
    assert_eq!(
        model.watched_done.len(),
        10,
        "every honest line was handled"
    );
    let worst = model
        .watched_done
        .iter()
        .map(|&(arrived, sent)| sent - arrived)
        .max()
        .expect("ten lines");
    assert!(
        worst < ms(10),
        "an honest line waited {worst:?} from arrival to the end of its fan-out"
    );
    assert!(
        model.backlog.queued() > 1000,
        "the flood really was more than the room could fan out"
    );
}

#[test]
fn a_departed_clients_closed_port_never_disturbs_the_room() {
    use std::io::{Error, ErrorKind};
    // What Linux and macOS say, and what Windows says (WSAECONNRESET), of a port that
    // closed, and of a host that cannot be reached: about one client.
    for kind in [
        ErrorKind::ConnectionRefused,
        ErrorKind::ConnectionReset,
        ErrorKind::HostUnreachable,
        ErrorKind::NetworkUnreachable,
        ErrorKind::Interrupted,
    ] {
        assert!(is_about_a_peer(&Error::from(kind)), "{kind:?}");
    }
    // The socket's own failure stops the loop.
    assert!(!is_about_a_peer(&Error::from(ErrorKind::NotConnected)));
}

// Issue 18, item 1: safe by default: a server on anything but loopback verifies
// addresses unless told --open; on loopback, the classic open room stays.
#[test]
fn a_server_off_loopback_verifies_by_default() {
    for (bind, verifies) in [
        ("127.0.0.1:9999", false),
        ("127.0.0.2:9999", false),
        ("[::1]:9999", false),
        ("0.0.0.0:9999", true),
        ("[::]:9999", true),
        ("192.168.1.5:9999", true),
        ("[fe80::1]:9999", true),
    ] {
        let local: SocketAddr = bind.parse().unwrap();
        assert_eq!(verifies_by_default(local), verifies, "{bind}");
    }
}
