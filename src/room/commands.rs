//! The `/commands` a member can send: `/nick`, `/who`, `/me`, `/msg`, `/help` (and
//! `/join`, which only an address not yet a member needs).

use std::net::SocketAddr;
use std::time::Instant;

use log::debug;

use super::members::RenameError;
use super::{Outbox, Room};
use crate::proto::{Command, Name, NameError, Notice};

/// The longest `/who` answer before `… and K more`: small, as a forged `/who` makes the
/// server send it to whoever the forger names.
pub const WHO_MAX_BYTES: usize = 400;

impl Room {
    /// Runs a command from the member `from`; the answer goes to it alone, and
    /// `/me`, a rename or a private message to whom they concern.
    pub(super) fn handle_command(
        &mut self,
        command: Command<'_>,
        from: SocketAddr,
        now: Instant,
        out: &mut Outbox,
    ) {
        let listing;
        let answer = match command {
            Command::Nick(name) => match self.rename(name, from, out) {
                Some(answer) => answer,
                None => return,
            },
            Command::Who => {
                listing = self.who_listing();
                Notice::Who {
                    here: self.members.len(),
                    listing: &listing,
                }
            }
            Command::Me("") => Notice::ActionUsage,
            Command::Me(action) if Notice::action_reads_as_notice(action) => Notice::ActionRefused,
            Command::Me(action) => {
                let Some(member) = self.members.get(from) else {
                    return;
                };
                let notice = Notice::Action {
                    who: member.label(),
                    action,
                };
                debug!("{notice}");
                let payload = out.notice(notice);
                self.broadcast(payload, now, out);
                return;
            }
            Command::Msg { to: "", .. } | Command::Msg { text: "", .. } => Notice::MsgUsage,
            Command::Msg { to, text } => match self.members.find(to) {
                Some(target) if target == from => Notice::ThatIsYou,
                Some(target) => {
                    let (Some(sender), Some(receiver)) =
                        (self.members.get(from), self.members.get(target))
                    else {
                        return;
                    };
                    debug!(
                        "private message from {} to {}",
                        sender.label(),
                        receiver.label()
                    );
                    let private_from = out.notice(Notice::PrivateFrom {
                        from: sender.label(),
                        text,
                    });
                    let private_to = out.notice(Notice::PrivateTo {
                        to: receiver.label(),
                        text,
                    });
                    self.deliver(target, private_from, out);
                    self.deliver(from, private_to, out);
                    return;
                }
                None => Notice::NoSuchMember(to),
            },
            Command::Help => Notice::Help,
            Command::Join(_) => Notice::AlreadyIn,
            Command::Unknown(word) => Notice::UnknownCommand(word),
        };
        let payload = out.notice(answer);
        self.deliver(from, payload, out);
    }

    /// Renames `from` if it may take `name`, telling everyone else; the answer for it,
    /// or `None` when it has been sent already.
    fn rename<'a>(
        &mut self,
        name: &'a str,
        from: SocketAddr,
        out: &mut Outbox,
    ) -> Option<Notice<'a>> {
        let parsed = match Name::parse(name) {
            Ok(parsed) => parsed,
            Err(NameError::Empty) => return Some(Notice::NickUsage),
            Err(NameError::Reserved) => return Some(Notice::NameReserved(name)),
            Err(NameError::Invalid) => return Some(Notice::NameInvalid(name)),
        };
        let old = match self.members.rename(from, parsed) {
            Ok(old) => old,
            Err(RenameError::Taken(holder)) => {
                let holder = self.members.get(holder).map_or("", |m| m.label());
                let answer = if holder.eq_ignore_ascii_case(name) {
                    Notice::NameTaken(name)
                } else {
                    Notice::NameTooLike { name, holder }
                };
                let payload = out.notice(answer);
                self.deliver(from, payload, out);
                return None;
            }
            Err(RenameError::Same) => return Some(Notice::AlreadyCalled(name)),
            Err(RenameError::NotAMember) => return None,
        };
        let renamed = Notice::Renamed {
            old: &old,
            new: name,
        };
        debug!("{renamed}");
        let payload = out.notice(renamed);
        self.deliver_to_all(payload, Some(from), out);
        let payload = out.notice(Notice::NowCalled(name));
        self.deliver(from, payload, out);
        None
    }

    /// `a, b, c` in join order, cut short (`… and K more`) so the whole answer stays
    /// small however large the room; it reads only the members it lists.
    fn who_listing(&self) -> String {
        // Room kept for the `, … and K more` ending, so the whole stays within budget.
        const ENDING: usize = ", … and 4294967295 more".len();
        let n = self.members.len();
        let head = Notice::Who {
            here: n,
            listing: "",
        }
        .to_string()
        .len();
        let budget = self
            .config
            .max_message_bytes
            .min(WHO_MAX_BYTES)
            .saturating_sub(head);
        let mut listing = String::new();
        for (i, (_, member)) in self.members.in_join_order().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            let is_last = i + 1 == n;
            let reserve = if is_last { 0 } else { ENDING };
            if listing.len() + separator.len() + member.label().len() + reserve > budget {
                listing.push_str(&format!("{separator}… and {} more", n - i));
                break;
            }
            listing.push_str(separator);
            listing.push_str(member.label());
        }
        listing
    }
}
