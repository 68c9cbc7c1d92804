//! Fuzzes the wire format: any datagram parses without panicking, and what is relayed
//! or printed carries no terminal control.

#![no_main]

use libfuzzer_sys::fuzz_target;
use udpchat::client::split::split_typed_line;
use udpchat::proto::{self, Chat, Request};

fuzz_target!(|data: &[u8]| {
    if let Request::Text(text) = proto::parse_request(data) {
        assert!(data.starts_with(text));
    }
    let decoded = proto::decode(data);
    let safe = proto::terminal_safe(&decoded);
    assert!(!safe.chars().any(proto::text::is_unsafe));
    let _ = proto::parse_chat(&safe);
    let _ = proto::Notice::parse(&safe);
    let max = 32 + usize::from(data.first().copied().unwrap_or(0));
    let pieces = split_typed_line(&decoded, max);
    let command = matches!(proto::parse_chat(&decoded), Chat::Command(_));
    for (i, piece) in pieces.iter().enumerate() {
        if !command {
            assert!(piece.len() <= max);
        }
        if i > 0 && !command {
            assert!(matches!(
                proto::parse_request(piece.as_bytes()),
                Request::Text(_)
            ));
            assert!(matches!(proto::parse_chat(piece), Chat::Text(_)));
        }
    }
});
