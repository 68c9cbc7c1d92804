//! Numbered delivery to sessions: the lines each session is sent are numbered 1, 2, 3,
//! …, and the room keeps what it sent lately in one bounded ring, so a session that
//! missed a line can ask for it again, or be told it is gone.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::throttle::TokenBucket;

/// The most lines the room keeps for repairs, shared by every session.
pub const SENT_LINES: usize = 1024;
/// The most bytes the room keeps for repairs.
pub const SENT_BYTES: usize = 256 * 1024;
/// How many of its last numbers a session may ask for again.
pub const STREAM_INDEX: usize = 256;
/// Lines a session may have sent again a second, and at once: a repair costs the lines
/// it gets (one at least), so no session makes the room send more than this for it.
pub const REPAIR_RATE: f64 = 1000.0;
/// See [`REPAIR_RATE`].
pub const REPAIR_BURST: f64 = 1000.0;
/// Bytes of repairs one host's sessions together may draw a second, and at once: so
/// many sessions from one host cannot make the room a fountain of repeats.
pub const REPAIR_HOST_RATE: f64 = 1024.0 * 1024.0;
/// See [`REPAIR_HOST_RATE`].
pub const REPAIR_HOST_BURST: f64 = 1024.0 * 1024.0;
/// The most lines one repair request is answered with.
pub const REPAIR_MAX: u64 = 64;
/// How long a typed line after a gap waits for the missing one before the gap is
/// skipped (checked when the session next speaks).
pub const HOLD_TYPED_FOR: Duration = Duration::from_secs(2);
/// The most typed lines held behind a gap; past it, later ones are dropped (their
/// client sends them again). A paste arrives whole, so this is a paste's worth.
pub const HELD_TYPED_MAX: usize = 256;
/// The most bytes of typed lines held behind a gap.
pub const HELD_TYPED_BYTES: usize = 64 * 1024;
/// The most bytes of typed lines held behind gaps for all the sessions of one host.
pub const HELD_TYPED_HOST_BYTES: usize = 1024 * 1024;
/// The most bytes of typed lines all sessions together hold behind gaps: many hosts (or
/// loopback, which is no host) cannot make the room hold more.
pub const HELD_TYPED_ROOM_BYTES: usize = 8 * 1024 * 1024;

/// What the room sent lately, by a room-wide id, each line kept once however many
/// sessions got it: at most `max_lines` (by default [`SENT_LINES`]) and [`SENT_BYTES`].
#[derive(Debug)]
pub struct Sent {
    max_lines: usize,
    lines: VecDeque<Box<[u8]>>,
    /// The id of the first line kept (ids are consecutive).
    first_id: u64,
    bytes: usize,
}

/// A session's numbering: which room line each of its last numbers was.
#[derive(Debug)]
pub struct Stream {
    /// The number the next line gets.
    next_seq: u64,
    /// The room ids of its last numbers, oldest first, [`EARLIER`] set on history:
    /// 8 bytes each, allocated once, so numbering a line allocates nothing.
    ids: VecDeque<u64>,
    /// Its repair requests' allowance.
    pub repairs: TokenBucket,
    /// The highest number of its typed lines taken in order.
    received: u64,
    /// Typed lines that came after a gap, by number, and since when the gap is waited
    /// for.
    held: BTreeMap<u64, Box<[u8]>>,
    held_bytes: usize,
    gap_since: Option<Instant>,
}

/// The bit of an id in a stream's index that marks a history line (room ids never
/// reach it).
const EARLIER: u64 = 1 << 63;

/// What a repair request gets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repair<'a> {
    /// The lines still held: number, line, whether history.
    pub lines: Vec<(u64, &'a [u8], bool)>,
    /// The highest number asked for that is gone, if any.
    pub lost_upto: Option<u64>,
}

impl Default for Sent {
    fn default() -> Sent {
        Sent::new(SENT_LINES)
    }
}

impl Sent {
    /// A ring of at most `max_lines` lines (0: none kept, so nothing can be repaired).
    pub fn new(max_lines: usize) -> Sent {
        Sent {
            max_lines,
            lines: VecDeque::new(),
            first_id: 0,
            bytes: 0,
        }
    }

    /// Keeps `line`; returns its id.
    pub fn record(&mut self, line: &[u8]) -> u64 {
        let id = self.first_id + self.lines.len() as u64;
        self.bytes += line.len();
        self.lines.push_back(line.into());
        while self.lines.len() > self.max_lines
            || (self.bytes > SENT_BYTES && !self.lines.is_empty())
        {
            if let Some(oldest) = self.lines.pop_front() {
                self.bytes -= oldest.len();
                self.first_id += 1;
            }
        }
        id
    }

    /// The line with `id`, if still kept.
    pub fn get(&self, id: u64) -> Option<&[u8]> {
        let index = usize::try_from(id.checked_sub(self.first_id)?).ok()?;
        self.lines.get(index).map(|line| &line[..])
    }
}

impl Stream {
    /// A stream whose first line will be numbered 1.
    pub fn new(now: Instant) -> Stream {
        Stream {
            next_seq: 1,
            ids: VecDeque::with_capacity(STREAM_INDEX),
            repairs: TokenBucket::full(REPAIR_BURST, now),
            received: 0,
            held: BTreeMap::new(),
            held_bytes: 0,
            gap_since: None,
        }
    }

    /// The highest number of the session's typed lines taken in order.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// A typed line numbered `seq` came: returns the lines to act on now, in the order
    /// typed. A gap waited for too long is skipped first (see [`Stream::overdue`]); a
    /// duplicate gives nothing more; a line after a gap waits for it, cut to one byte
    /// over `max_len` if it is longer (it will be refused as too long all the same, and
    /// a held line costs no more than the room accepts).
    ///
    /// `host_room`: the bytes this session's host may still have held (see
    /// [`HELD_TYPED_HOST_BYTES`]); a line that does not fit is not held.
    pub fn typed(
        &mut self,
        seq: u64,
        body: &[u8],
        max_len: usize,
        host_room: usize,
        now: Instant,
    ) -> Vec<Box<[u8]>> {
        let mut lines = self.overdue(now);
        if seq <= self.received || self.held.contains_key(&seq) {
            return lines;
        }
        if Some(seq) == self.received.checked_add(1) {
            lines.push(body.into());
            self.received = seq;
            self.release(&mut lines, now);
        } else if self.held.len() < HELD_TYPED_MAX
            && self.held_bytes + body.len().min(max_len.saturating_add(1)) <= HELD_TYPED_BYTES
            && body.len().min(max_len.saturating_add(1)) <= host_room
        {
            let body = &body[..body.len().min(max_len.saturating_add(1))];
            self.held_bytes += body.len();
            self.held.insert(seq, body.into());
            self.gap_since.get_or_insert(now);
        }
        lines
    }

    /// The bytes of typed lines held behind a gap.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// The lines held behind a gap that waited [`HOLD_TYPED_FOR`]: the gap is skipped,
    /// and they are acted on now.
    pub fn overdue(&mut self, now: Instant) -> Vec<Box<[u8]>> {
        let mut lines = Vec::new();
        let waited = self
            .gap_since
            .is_some_and(|since| now.saturating_duration_since(since) >= HOLD_TYPED_FOR);
        if let (true, Some(&first)) = (waited, self.held.keys().next()) {
            self.received = first - 1;
            self.release(&mut lines, now);
        }
        lines
    }

    /// Takes the held lines that follow on; a gap that remains gets its own wait.
    fn release(&mut self, lines: &mut Vec<Box<[u8]>>, now: Instant) {
        let before = self.received;
        while let Some(next) = self.received.checked_add(1) {
            let Some(line) = self.held.remove(&next) else {
                break;
            };
            self.held_bytes -= line.len();
            lines.push(line);
            self.received = next;
        }
        if self.held.is_empty() {
            self.gap_since = None;
        } else if self.received != before {
            self.gap_since = Some(now);
        }
    }

    /// Numbers the room line `id`; returns its number.
    pub fn number(&mut self, id: u64, earlier: bool) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.ids.len() == STREAM_INDEX {
            self.ids.pop_front();
        }
        self.ids.push_back(if earlier { id | EARLIER } else { id });
        seq
    }

    /// The latest number sent (0 before the first).
    pub fn latest(&self) -> u64 {
        self.next_seq - 1
    }

    /// The lines numbered `from..=to` (at most [`REPAIR_MAX`] of them, and none past
    /// the latest), from `sent`, and the highest of them that is gone.
    pub fn repair<'a>(&self, from: u64, to: u64, sent: &'a Sent) -> Repair<'a> {
        let mut repair = Repair::default();
        let first_indexed = self.next_seq - self.ids.len() as u64;
        let to = to
            .min(self.latest())
            .min(from.saturating_add(REPAIR_MAX - 1));
        for seq in from.max(1)..=to {
            let held = seq
                .checked_sub(first_indexed)
                .and_then(|index| self.ids.get(usize::try_from(index).ok()?))
                .and_then(|&id| Some((sent.get(id & !EARLIER)?, id & EARLIER != 0)));
            match held {
                Some((line, earlier)) => repair.lines.push((seq, line, earlier)),
                None => repair.lost_upto = Some(seq),
            }
        }
        repair
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_gives_back_what_the_ring_still_holds() {
        let t = Instant::now();
        let mut sent = Sent::default();
        let mut stream = Stream::new(t);
        for i in 0..5 {
            let id = sent.record(format!("line {i}").as_bytes());
            assert_eq!(stream.number(id, i == 0), i + 1);
        }
        assert_eq!(stream.latest(), 5);
        let repair = stream.repair(2, 3, &sent);
        assert_eq!(
            repair.lines,
            [(2, &b"line 1"[..], false), (3, &b"line 2"[..], false)]
        );
        assert_eq!(repair.lost_upto, None);
        assert_eq!(
            stream.repair(1, 1, &sent).lines,
            [(1, &b"line 0"[..], true)]
        );
        assert!(
            stream.repair(6, 9, &sent).lines.is_empty(),
            "nothing past the latest"
        );
        // The ring forgets: what it no longer holds is lost.
        for _ in 0..SENT_LINES {
            sent.record(b"filler");
        }
        let repair = stream.repair(1, 5, &sent);
        assert!(repair.lines.is_empty());
        assert_eq!(repair.lost_upto, Some(5));
    }

    #[test]
    fn the_ring_and_the_index_stay_bounded() {
        let t = Instant::now();
        let mut sent = Sent::default();
        let mut stream = Stream::new(t);
        let big = vec![b'x'; 10_000];
        for _ in 0..100 {
            let id = sent.record(&big);
            stream.number(id, false);
        }
        assert!(sent.bytes <= SENT_BYTES);
        assert_eq!(sent.lines.len(), SENT_BYTES / 10_000);
        for _ in 0..1000 {
            stream.number(0, false);
        }
        assert_eq!(stream.ids.len(), STREAM_INDEX);
        assert_eq!(
            stream.repair(1, 1, &sent).lost_upto,
            Some(1),
            "past the index"
        );
        assert_eq!(stream.repair(5, 500, &sent).lines.len(), 0);
    }

    #[test]
    fn a_held_line_costs_no_more_than_the_room_accepts() {
        let t = Instant::now();
        let mut stream = Stream::new(t);
        let huge = vec![b'x'; 65_000];
        assert!(
            stream.typed(2, &huge, 1024, usize::MAX, t).is_empty(),
            "held behind a gap"
        );
        assert_eq!(stream.held_bytes, 1025, "cut to one byte over the limit");
        let taken = stream.typed(1, b"a", 1024, usize::MAX, t);
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[1].len(), 1025, "still longer than the limit: refused");
    }

    #[test]
    fn typed_lines_are_taken_in_order_and_a_partly_filled_gap_waits_again() {
        let t = Instant::now();
        let mut stream = Stream::new(t);
        let texts = |lines: Vec<Box<[u8]>>| -> Vec<String> {
            lines
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect()
        };
        assert_eq!(texts(stream.typed(1, b"a", 1024, usize::MAX, t)), ["a"]);
        assert!(stream.typed(3, b"c", 1024, usize::MAX, t).is_empty());
        assert!(stream.typed(5, b"e", 1024, usize::MAX, t).is_empty());
        // 2 comes late: a and c go, and the gap at 4 waits its own time from now.
        let late = t + HOLD_TYPED_FOR - Duration::from_millis(100);
        assert_eq!(
            texts(stream.typed(2, b"b", 1024, usize::MAX, late)),
            ["b", "c"]
        );
        assert!(
            stream.overdue(t + HOLD_TYPED_FOR).is_empty(),
            "4 has its own wait"
        );
        assert_eq!(texts(stream.overdue(late + HOLD_TYPED_FOR)), ["e"]);
        assert_eq!(stream.received(), 5);
        assert!(
            stream
                .typed(4, b"d", 1024, usize::MAX, late + HOLD_TYPED_FOR)
                .is_empty(),
            "skipped"
        );
    }

    #[test]
    fn the_largest_number_is_taken_without_overflow() {
        let t = Instant::now();
        let mut stream = Stream::new(t);
        assert!(stream.typed(u64::MAX, b"x", 1024, usize::MAX, t).is_empty());
        let later = t + HOLD_TYPED_FOR;
        assert_eq!(stream.overdue(later).len(), 1);
        assert_eq!(stream.received(), u64::MAX);
        assert!(stream
            .typed(u64::MAX, b"x", 1024, usize::MAX, later)
            .is_empty());
    }
}
