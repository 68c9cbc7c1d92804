//! The `/commands` a member can send: `/nick`, `/who`, `/me`, `/msg` and `/reply`,
//! `/away` and `/back`, `/ignore` and `/unignore`, `/topic`, `/quit`, `/help` (and
//! `/join`, which only an address not yet a member needs).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

use log::debug;

use super::manners::{Presence, ReplyTo, MAX_IGNORED};
use super::members::RenameError;
use super::{Departure, Outbox, Room, AWAY_MAX_BYTES};
use crate::proto::notice::{quote, short_duration};
use crate::proto::text::cut;
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
                listing = self.who_listing(now);
                Notice::Who {
                    here: self.members.len(),
                    listing: &listing,
                }
            }
            Command::Me("") => Notice::ActionUsage,
            Command::Me(action) if Notice::action_reads_as_notice(action) => Notice::ActionRefused,
            Command::Me(action) => {
                self.come_back(from, out);
                let Some(member) = self.members.get(from) else {
                    return;
                };
                let notice = Notice::Action {
                    who: member.label(),
                    action,
                };
                debug!("{notice}");
                let payload = out.notice(notice);
                self.broadcast(payload, Some(from), now, out);
                return;
            }
            Command::Msg { to: "", .. } | Command::Msg { text: "", .. } => Notice::MsgUsage,
            Command::Msg { to, text } => match self.members.find(to) {
                Some(target) if target == from => Notice::ThatIsYou,
                Some(target) => return self.whisper(from, target, text, now, out),
                None => Notice::NoSuchMember(to),
            },
            Command::Reply("") => Notice::ReplyUsage,
            Command::Reply(text) => {
                let Some(to) = self
                    .members
                    .get(from)
                    .and_then(|m| m.manners().reply_to.clone())
                else {
                    let payload = out.notice(Notice::NoOneToReply);
                    return self.deliver(from, payload, out);
                };
                // The very member who whispered, not whoever has its name or address now.
                let still_here = self
                    .members
                    .get(to.addr)
                    .is_some_and(|m| m.joined() == to.joined);
                if still_here && to.addr != from {
                    return self.whisper(from, to.addr, text, now, out);
                }
                let payload = out.notice(Notice::NoSuchMember(&to.label));
                return self.deliver(from, payload, out);
            }
            Command::Away(message) => {
                let Some(member) = self.members.get_mut(from) else {
                    return;
                };
                let message = cut(message, AWAY_MAX_BYTES);
                member.manners_mut().presence = Presence::Away {
                    since: now,
                    message: message.to_string(),
                };
                Notice::YouAreAway(message)
            }
            Command::Back => {
                if let Some(member) = self.members.get_mut(from) {
                    member.manners_mut().presence = Presence::Here;
                }
                Notice::YouAreBack
            }
            Command::Ignore("") | Command::Unignore("") => {
                listing = self.ignore_listing(from);
                Notice::Ignoring { listing: &listing }
            }
            Command::Ignore(who) => {
                let target = self.members.find(who);
                if target == Some(from) {
                    Notice::ThatIsYou
                } else {
                    // Someone here is ignored as they are shown; a name not here (someone
                    // who keeps coming back), as typed, if it can be a name at all.
                    let label = match target.and_then(|t| self.members.get(t)) {
                        Some(member) => Some(member.label().to_string()),
                        None => Name::parse(who).ok().map(|name| name.to_string()),
                    };
                    let full = self
                        .members
                        .get(from)
                        .is_some_and(|m| !m.manners().can_ignore_more());
                    match label {
                        Some(_) if full => Notice::IgnoreFull { max: MAX_IGNORED },
                        Some(label) => {
                            self.members.ignore(from, &label, target);
                            listing = label;
                            Notice::NowIgnoring(&listing)
                        }
                        None => Notice::NoSuchMember(who),
                    }
                }
            }
            Command::Unignore(who) => match self.members.unignore(from, who) {
                Some(label) => {
                    listing = label;
                    Notice::Unignored(&listing)
                }
                None => Notice::NotIgnoring(who),
            },
            Command::Topic("") => match &self.topic {
                Some(topic) => {
                    let payload = out.notice(Notice::Topic {
                        topic: &topic.text,
                        by: &topic.by,
                    });
                    return self.deliver(from, payload, out);
                }
                None => Notice::NoTopic,
            },
            Command::Topic(text) => {
                let Some(label) = self.members.get(from).map(|m| m.label().to_string()) else {
                    return;
                };
                return self.set_topic(text, &label, out);
            }
            Command::Quit(message) => {
                return self.remove(from, Departure::Left { message }, now, out);
            }
            Command::Help => Notice::Help,
            Command::Join(_) => Notice::AlreadyIn,
            Command::Unknown(word) => Notice::UnknownCommand(word),
        };
        let payload = out.notice(answer);
        self.deliver(from, payload, out);
    }

    /// A private message from `from` to `target` (not `from`): the target is sent it
    /// unless it ignores the sender (then it counts as hidden), the sender is sent a
    /// copy, and told if the target is away. The target's `/reply` answers the sender.
    fn whisper(
        &mut self,
        from: SocketAddr,
        target: SocketAddr,
        text: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        self.come_back(from, out);
        let (Some(sender), Some(receiver)) = (self.members.get(from), self.members.get(target))
        else {
            return;
        };
        debug!(
            "private message from {} to {}",
            sender.label(),
            receiver.label()
        );
        let sender_label = sender.label().to_string();
        let sender_joined = sender.joined();
        let private_to = out.notice(Notice::PrivateTo {
            to: receiver.label(),
            text,
        });
        let away = receiver.manners().away_message().map(|message| {
            out.notice(Notice::IsAway {
                who: receiver.label(),
                message,
            })
        });
        let ignored = receiver
            .manners()
            .ignores(&crate::proto::name::skeleton(&sender_label), from);
        if ignored {
            self.hide_from(target, now, out);
        } else {
            let private_from = out.notice(Notice::PrivateFrom {
                from: &sender_label,
                text,
            });
            self.deliver(target, private_from, out);
            if let Some(receiver) = self.members.get_mut(target) {
                receiver.manners_mut().reply_to = Some(ReplyTo {
                    addr: from,
                    joined: sender_joined,
                    label: sender_label,
                });
            }
        }
        self.deliver(from, private_to, out);
        if let Some(away) = away {
            self.deliver(from, away, out);
        }
    }

    /// `you ignore: a, b` for `/ignore` alone.
    fn ignore_listing(&self, from: SocketAddr) -> String {
        self.members
            .get(from)
            .map(|m| m.manners().ignored().collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
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
    fn who_listing(&self, now: Instant) -> String {
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
            let shown = match &member.manners().presence {
                Presence::Here => Cow::Borrowed(member.label()),
                Presence::Away { since, message } => {
                    let away = short_duration(now.saturating_duration_since(*since));
                    Cow::Owned(match message.as_str() {
                        "" => format!("{} (away {away})", member.label()),
                        // Its commas would read as more members.
                        message => format!(
                            "{} (away {away}: {})",
                            member.label(),
                            quote(&message.replace(',', ";"))
                        ),
                    })
                }
            };
            if listing.len() + separator.len() + shown.len() + reserve > budget {
                listing.push_str(&format!("{separator}… and {} more", n - i));
                break;
            }
            listing.push_str(separator);
            listing.push_str(&shown);
        }
        listing
    }
}
