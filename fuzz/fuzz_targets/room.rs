//! Fuzzes the room state machine with a sequence of datagrams from a few addresses and
//! jumps in time: it never panics, and its limits hold.
//!
//! Input: records of `[port, millis, len, bytes…]`.

#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use udpchat::proto::{self, Request};
use udpchat::room::{Config, Outbox, Room};

const MAX_CLIENTS: usize = 8;
const MAX_MESSAGE: usize = 64;
const MAX_OVERHEAD: usize = 80;

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let config = Config {
        timeout: Duration::from_secs(2),
        max_message_bytes: MAX_MESSAGE,
        max_clients: MAX_CLIENTS,
        rate_per_sec: if data.first().is_some_and(|b| b & 1 == 1) {
            5.0
        } else {
            0.0
        },
        burst: 3,
        local_addr: None,
        verify: data.first().is_some_and(|b| b & 2 == 2),
        history_lines: 4,
        repair_lines: 16,
        max_per_host: 4,
    };
    let mut room = Room::new(config, now);
    let mut out = Outbox::new();
    let mut rest = data;
    while let [port, millis, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (datagram, tail) = tail.split_at(len);
        rest = tail;
        now += Duration::from_millis(u64::from(*millis) * 20);
        room.handle_timeout(now, &mut out);
        let from = SocketAddr::from(([127, 0, 0, 1], 1 + u16::from(port % 16)));
        let before = out.len();
        room.handle_datagram(datagram, from, now, &mut out);
        if matches!(
            proto::parse_request(datagram),
            Request::Heartbeat | Request::Leave
        ) {
            for (_, sent) in out.iter().skip(before) {
                assert!(sent.starts_with(b"* "), "a heartbeat or leave was relayed");
            }
        }
        assert!(room.len() <= MAX_CLIENTS);
        for (_, sent) in out.iter() {
            assert!(sent.len() <= MAX_MESSAGE + MAX_OVERHEAD);
            assert!(std::str::from_utf8(sent).is_ok());
        }
        out.clear();
    }
});
