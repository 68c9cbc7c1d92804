//! The name keeper: our name in the room, taken again whenever the server forgets it.

use std::time::Instant;

use crate::proto::Notice;

use super::NICK_ANSWER_WAIT;

/// Keeps our name in the room: learns it from the server's confirmations, and asks for
/// it again when the server welcomes us as a newcomer (after an eviction, a restart of
/// the server, or a start in a full room).
#[derive(Debug)]
pub(super) struct NameKeeper {
    /// The name we want: `--name`, or the last one the server confirmed.
    pub(super) wanted: Option<String>,
    /// Our name as the server knows it now.
    pub(super) confirmed: Option<String>,
    /// When a `/nick` went out that is not answered yet. After [`NICK_ANSWER_WAIT`] it
    /// counts as lost (UDP), and the next welcome asks again.
    pending_since: Option<Instant>,
}

impl NameKeeper {
    /// `wanted` is `--name`, asked for at the first welcome.
    pub(super) fn new(wanted: Option<String>) -> NameKeeper {
        NameKeeper {
            pending_since: None,
            wanted,
            confirmed: None,
        }
    }

    /// Reads a notice from the server; returns a `/nick` to send, if one is needed.
    pub(super) fn on_notice(&mut self, notice: Notice<'_>, now: Instant) -> Option<String> {
        match notice {
            Notice::NowCalled(name) | Notice::AlreadyCalled(name) => {
                self.confirmed = Some(name.to_string());
                self.wanted = Some(name.to_string());
                self.pending_since = None;
            }
            // Answered (no), or never reached the room: the next welcome tries again.
            Notice::NameReserved(_)
            | Notice::NameTaken(_)
            | Notice::NameTooLike { .. }
            | Notice::NameInvalid(_)
            | Notice::NickUsage
            | Notice::RoomFull { .. }
            | Notice::SlowDown { .. } => self.pending_since = None,
            Notice::Welcome { who, .. } => {
                // The server may have kept our name for our address: then all is well.
                if self.wanted.as_deref() == Some(who) {
                    self.confirmed = Some(who.to_string());
                    self.pending_since = None;
                    return None;
                }
                self.confirmed = None;
                let pending = self
                    .pending_since
                    .is_some_and(|since| now.saturating_duration_since(since) < NICK_ANSWER_WAIT);
                if !pending {
                    let wanted = self.wanted.as_ref()?;
                    self.pending_since = Some(now);
                    return Some(format!("/nick {wanted}"));
                }
            }
            _ => {}
        }
        None
    }
}
