//! Every notice the server writes, in one type: its [`Display`](fmt::Display) is the
//! wording on the wire, [`Notice::parse`] reads it back for our client, and the names
//! no one may take and the actions `/me` refuses are derived from it.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use super::name::MAX_NAME;
use super::text::reader_fold;

/// Every server notice starts with this; chat lines never do, as they start with a sender.
pub const NOTICE_PREFIX: &str = "* ";

/// Characters in a join code (see [`Notice::JoinWith`]): 50 bits in base32, short
/// enough to type, and to be told in a line three times as short as netcat's `hello`.
pub const JOIN_CODE_DIGITS: usize = 10;
/// The characters of a join code: RFC 4648's base32, lower case (typed in any case).
pub const JOIN_CODE_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Whether `code` is a join code as the server writes it.
pub fn is_join_code(code: &str) -> bool {
    code.len() == JOIN_CODE_DIGITS && code.bytes().all(|b| JOIN_CODE_ALPHABET.contains(&b))
}

/// Appends the terse answer that tells an address its join code when the full notice
/// does not fit what it sent yet (see [`Notice::JoinWith`]): the line to type itself.
pub fn write_terse_join(buf: &mut Vec<u8>, code: &str) {
    buf.extend_from_slice(b"/join ");
    buf.extend_from_slice(code.as_bytes());
}

/// What the join notice says after the code.
const JOIN_SUFFIX: &str = "; nothing is relayed till then";

/// How much of a user's text a notice quotes back: a forged request must not draw a
/// long answer.
pub const QUOTE_MAX_BYTES: usize = 32;

/// The command list `/help` sends.
const HELP: &str = "commands: /nick NAME, /who, /me ACTION, /msg WHO TEXT, /reply TEXT, \
                    /away [MESSAGE], /back, /ignore [NAME], /unignore NAME, /topic [TEXT], \
                    /quit [MESSAGE], /help; start a line with // to say something starting \
                    with /";

/// How many messages a member may send: `per_sec` a second, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_sec: f64,
    pub burst: u32,
}

/// A notice from the server, as the text after [`NOTICE_PREFIX`].
///
/// Fields that hold what a user typed (a refused name, an unknown target or command) are
/// quoted by `Display` to at most [`QUOTE_MAX_BYTES`]; labels and names are written whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Notice<'a> {
    /// To a newcomer: how it is shown, how many are here, and how many messages it may
    /// send (`None`: no limit), so a client can pace itself.
    Welcome {
        who: &'a str,
        here: usize,
        limit: Option<RateLimit>,
    },
    /// The answer to a `/nick` that took.
    NowCalled(&'a str),
    /// The answer to a `/nick` of the name one has.
    AlreadyCalled(&'a str),
    /// `/nick` without a name.
    NickUsage,
    /// `/nick` of a name that reads as a notice's first word.
    NameReserved(&'a str),
    /// `/nick` of a name another member has (in any case).
    NameTaken(&'a str),
    /// `/nick` of a name too like another member's (`B0b` while `bob` is here).
    NameTooLike { name: &'a str, holder: &'a str },
    /// `/nick` of something that is not a name.
    NameInvalid(&'a str),
    /// To everyone else: a member took a name.
    Renamed { old: &'a str, new: &'a str },
    /// To everyone else: a member joined.
    Joined(&'a str),
    /// To everyone else: a member left.
    Left(&'a str),
    /// To everyone else: a member was silent too long.
    TimedOut(&'a str),
    /// To everyone else: the operator removed a member.
    WasRemoved(&'a str),
    /// To the member the operator removed.
    YouWereRemoved,
    /// `/me`: `* <who> <action>`, to everyone.
    Action { who: &'a str, action: &'a str },
    /// `/me` without an action.
    ActionUsage,
    /// `/me` whose action would read as a notice about its sender.
    ActionRefused,
    /// The answer to `/who`: the count, then the listing the room wrote.
    Who { here: usize, listing: &'a str },
    /// To the sender of a private message.
    PrivateTo { to: &'a str, text: &'a str },
    /// To the target of a private message.
    PrivateFrom { from: &'a str, text: &'a str },
    /// `/msg` without a target or a text.
    MsgUsage,
    /// `/msg` to oneself.
    ThatIsYou,
    /// `/msg` to someone not here.
    NoSuchMember(&'a str),
    /// The answer to `/help`.
    Help,
    /// A `/word` the server does not know.
    UnknownCommand(&'a str),
    /// The operator's `say`, to everyone.
    Server(&'a str),
    /// Chat text over the limit, not relayed.
    TooLong { len: usize, limit: usize },
    /// Messages dropped for the sender's rate since it was last told.
    SlowDown { dropped: u64 },
    /// To a newcomer not let in.
    RoomFull { max: usize },
    /// To a newcomer not let in because its host has every seat one host may take.
    HostFull { max: usize },
    /// Under `--verify`, to an address not yet a member: the line that makes it one.
    /// Only who receives at the address learns the code.
    JoinWith(&'a str),
    /// `/join` from a member.
    AlreadyIn,
    /// To a line-mode member (netcat) as the server stops, instead of the empty
    /// datagram, which netcat takes for the end of its input and stops reading.
    GoingAway,
    /// To everyone else: a member left with `/quit MESSAGE`.
    LeftSaying { who: &'a str, message: &'a str },
    /// To a line-mode member (netcat) evicted for silence, once: it would otherwise
    /// stop hearing the room without a word.
    YouTimedOut { secs: u64 },
    /// The answer to `/away`, with the message others are told (may be empty).
    YouAreAway(&'a str),
    /// The answer to `/back`, or to the first line of a member that was away.
    YouAreBack,
    /// To the sender of `/msg` or `/reply` to a member who is away.
    IsAway { who: &'a str, message: &'a str },
    /// The answer to `/topic` alone, and what a newcomer is told after its welcome.
    Topic { topic: &'a str, by: &'a str },
    /// To everyone: a member (or the server) set the topic.
    TopicSet { who: &'a str, topic: &'a str },
    /// The answer to `/topic` alone in a room without one.
    NoTopic,
    /// `/reply` from a member no one has sent a private message.
    NoOneToReply,
    /// `/reply` without a text.
    ReplyUsage,
    /// The answer to `/ignore` alone: the labels ignored (empty: no one).
    Ignoring { listing: &'a str },
    /// The answer to `/ignore NAME`.
    NowIgnoring(&'a str),
    /// The answer to `/unignore NAME`.
    Unignored(&'a str),
    /// `/unignore` of a name not ignored.
    NotIgnoring(&'a str),
    /// Lines, actions and private messages not delivered to a member because it
    /// ignores their sender, told at most once a minute.
    Hidden { count: u64 },
    /// `/ignore` from a member that ignores as many as it may.
    IgnoreFull { max: usize },
}

impl<'a> Notice<'a> {
    /// Reads a line from a server as a notice, if it is one whose wording starts with a
    /// fixed word. Notices that start with a member's label (joined, left, `/me`, …)
    /// read as `None`: a client cannot tell them from one another, and acts on none.
    pub fn parse(line: &'a str) -> Option<Notice<'a>> {
        let text = line.strip_prefix(NOTICE_PREFIX)?;
        if let Some(rest) = text.strip_prefix("you joined as ") {
            let (who, inside) = rest.rsplit_once(" (")?;
            let mut parts = inside.strip_suffix(')')?.split("; ");
            let here = parts.next()?.strip_suffix(" here")?.parse().ok()?;
            if parts.next()? != "/help for commands" {
                return None;
            }
            let limit = match parts.next() {
                None | Some(NO_LIMIT) => None,
                Some(limit) => {
                    let (rate, burst) = limit.split_once(" messages a second, ")?;
                    Some(RateLimit {
                        per_sec: rate.parse().ok()?,
                        burst: burst.strip_suffix(" at once")?.parse().ok()?,
                    })
                }
            };
            return Some(Notice::Welcome { who, here, limit });
        }
        let simple = [
            (
                "you are now ",
                Notice::NowCalled as fn(&'a str) -> Notice<'a>,
            ),
            ("you are already ", Notice::AlreadyCalled),
            ("no one here is called ", Notice::NoSuchMember),
            ("server: ", Notice::Server),
            ("you no longer ignore ", Notice::Unignored),
            ("you do not ignore ", Notice::NotIgnoring),
        ];
        for (prefix, make) in simple {
            if let Some(rest) = text.strip_prefix(prefix) {
                return Some(make(rest));
            }
        }
        if let Some(code) = text
            .strip_prefix("to join, type /join ")
            .and_then(|rest| rest.strip_suffix(JOIN_SUFFIX))
        {
            // Only a code as the server writes it: a line that merely looks like this
            // notice cannot make a client type something else.
            return is_join_code(code).then_some(Notice::JoinWith(code));
        }
        if let Some(name) = text
            .strip_prefix("the name ")
            .and_then(|r| r.strip_suffix(" is reserved"))
        {
            return Some(Notice::NameReserved(name));
        }
        if let Some(name) = text
            .strip_prefix("the name ")
            .and_then(|r| r.strip_suffix(" is taken"))
        {
            return Some(Notice::NameTaken(name));
        }
        if let Some((name, holder)) = text
            .strip_prefix("the name ")
            .and_then(|r| r.strip_suffix(", who is here"))
            .and_then(|r| r.split_once(" is too like "))
        {
            return Some(Notice::NameTooLike { name, holder });
        }
        if let Some(name) = text
            .strip_prefix("cannot take the name ")
            .and_then(|r| r.strip_suffix(NAME_RULE))
        {
            return Some(Notice::NameInvalid(name));
        }
        if let Some(word) = text
            .strip_prefix("unknown command ")
            .and_then(|r| r.strip_suffix("; try /help"))
        {
            return Some(Notice::UnknownCommand(word));
        }
        for (prefix, private_to) in [("private to ", true), ("private from ", false)] {
            if let Some((who, said)) = text.strip_prefix(prefix).and_then(|r| r.split_once(": ")) {
                return Some(if private_to {
                    Notice::PrivateTo {
                        to: who,
                        text: said,
                    }
                } else {
                    Notice::PrivateFrom {
                        from: who,
                        text: said,
                    }
                });
            }
        }
        if let Some(rest) = text.strip_prefix("message too long (") {
            let (len, limit) = rest.strip_suffix(')')?.split_once(" bytes, limit ")?;
            return Some(Notice::TooLong {
                len: len.parse().ok()?,
                limit: limit.parse().ok()?,
            });
        }
        if let Some(rest) = text.strip_prefix("slow down: ") {
            let (n, _) = rest.split_once(' ')?;
            return Some(Notice::SlowDown {
                dropped: n.parse().ok()?,
            });
        }
        if let Some(rest) = text.strip_prefix("room is full for your host (") {
            let (n, _) = rest.split_once(' ')?;
            return Some(Notice::HostFull {
                max: n.parse().ok()?,
            });
        }
        if let Some(rest) = text.strip_prefix("room is full (") {
            let (n, _) = rest.split_once(' ')?;
            return Some(Notice::RoomFull {
                max: n.parse().ok()?,
            });
        }
        if let Some(who) = text
            .strip_prefix("you now ignore ")
            .and_then(|r| r.strip_suffix(IGNORE_SUFFIX))
        {
            return Some(Notice::NowIgnoring(who));
        }
        if let Some(rest) = text.strip_prefix("you timed out after ") {
            let (secs, rest) = rest.split_once(" s ")?;
            let notice = Notice::YouTimedOut {
                secs: secs.parse().ok()?,
            };
            return (notice.to_string() == text && !rest.is_empty()).then_some(notice);
        }
        if let Some(rest) = text.strip_prefix("you are away") {
            let message = match rest.strip_suffix(AWAY_SUFFIX)? {
                "" => "",
                quoted => quoted.strip_prefix(": ")?,
            };
            return Some(Notice::YouAreAway(message));
        }
        if let Some((topic, by)) = text
            .strip_prefix("topic: ")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.rsplit_once(" (set by "))
        {
            return Some(Notice::Topic { topic, by });
        }
        if let Some(rest) = text.strip_prefix("you ignore") {
            return match rest {
                " no one" => Some(Notice::Ignoring { listing: "" }),
                _ => Some(Notice::Ignoring {
                    listing: rest.strip_prefix(": ")?,
                }),
            };
        }
        if let Some(rest) = text.strip_prefix("you cannot ignore more than ") {
            let (n, _) = rest.split_once(';')?;
            return Some(Notice::IgnoreFull {
                max: n.parse().ok()?,
            });
        }
        if let Some(rest) = text.strip_prefix("hidden from you: ") {
            let (n, _) = rest.split_once(' ')?;
            return Some(Notice::Hidden {
                count: n.parse().ok()?,
            });
        }
        let fixed = [
            Notice::YouAreBack,
            Notice::NoTopic,
            Notice::NoOneToReply,
            Notice::ReplyUsage,
            Notice::NickUsage,
            Notice::YouWereRemoved,
            Notice::ActionUsage,
            Notice::ActionRefused,
            Notice::MsgUsage,
            Notice::ThatIsYou,
            Notice::Help,
            Notice::AlreadyIn,
            Notice::GoingAway,
        ];
        fixed.into_iter().find(|n| n.to_string() == text)
    }

    /// Reads a notice that starts with a member's label or a count (joined, left,
    /// renamed, away, a topic set, `/who`, an action): what [`Notice::parse`] leaves
    /// alone, as a client cannot tell them from what a member may say with `/me`. For
    /// what is shown, not acted on (our client's Tab learns names from them). A label
    /// has no space, so the first space ends it; anything else is an action.
    pub fn parse_labelled(line: &'a str) -> Option<Notice<'a>> {
        let text = line.strip_prefix(NOTICE_PREFIX)?;
        if let Some((count, listing)) = text.split_once(" here: ") {
            if let Ok(here) = count.parse() {
                return Some(Notice::Who { here, listing });
            }
        }
        let (who, rest) = text.split_once(' ')?;
        Some(match rest {
            "joined" => Notice::Joined(who),
            "left" => Notice::Left(who),
            "timed out" => Notice::TimedOut(who),
            "was removed" => Notice::WasRemoved(who),
            "is away" => Notice::IsAway { who, message: "" },
            _ => {
                if let Some(new) = rest.strip_prefix("is now ") {
                    Notice::Renamed { old: who, new }
                } else if let Some(message) = rest
                    .strip_prefix("left (")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    Notice::LeftSaying { who, message }
                } else if let Some(message) = rest.strip_prefix("is away: ") {
                    Notice::IsAway { who, message }
                } else if let Some(topic) = rest.strip_prefix("set the topic: ") {
                    Notice::TopicSet { who, topic }
                } else {
                    Notice::Action { who, action: rest }
                }
            }
        })
    }

    /// For a notice that starts with a member's label, the words that follow it
    /// (`joined`, `is now`, …); `None` for the rest. `/me` refuses an action that
    /// starts with one of these, so `* <who> <action>` cannot pass for one.
    pub fn follows_label(&self) -> Option<&'static str> {
        match self {
            Notice::Renamed { .. } => Some("is now"),
            Notice::Joined(_) => Some("joined"),
            Notice::Left(_) => Some("left"),
            Notice::TimedOut(_) => Some("timed out"),
            Notice::WasRemoved(_) => Some("was removed"),
            Notice::LeftSaying { .. } => Some("left"),
            Notice::IsAway { .. } => Some("is away"),
            Notice::TopicSet { .. } => Some("set the topic"),
            Notice::Action { .. } | Notice::Who { .. } => None,
            Notice::Welcome { .. }
            | Notice::NowCalled(_)
            | Notice::AlreadyCalled(_)
            | Notice::NickUsage
            | Notice::NameReserved(_)
            | Notice::NameTaken(_)
            | Notice::NameTooLike { .. }
            | Notice::NameInvalid(_)
            | Notice::YouWereRemoved
            | Notice::ActionUsage
            | Notice::ActionRefused
            | Notice::PrivateTo { .. }
            | Notice::PrivateFrom { .. }
            | Notice::MsgUsage
            | Notice::ThatIsYou
            | Notice::NoSuchMember(_)
            | Notice::Help
            | Notice::UnknownCommand(_)
            | Notice::Server(_)
            | Notice::TooLong { .. }
            | Notice::SlowDown { .. }
            | Notice::RoomFull { .. }
            | Notice::HostFull { .. }
            | Notice::JoinWith(_)
            | Notice::AlreadyIn
            | Notice::GoingAway
            | Notice::YouTimedOut { .. }
            | Notice::YouAreAway(_)
            | Notice::YouAreBack
            | Notice::Topic { .. }
            | Notice::NoTopic
            | Notice::NoOneToReply
            | Notice::ReplyUsage
            | Notice::Ignoring { .. }
            | Notice::NowIgnoring(_)
            | Notice::Unignored(_)
            | Notice::NotIgnoring(_)
            | Notice::Hidden { .. }
            | Notice::IgnoreFull { .. } => None,
        }
    }

    /// Whether the notice's wording starts with something a sender chose (a label, an
    /// action) or a count, rather than a fixed word.
    pub fn starts_with_a_value(&self) -> bool {
        self.follows_label().is_some() || matches!(self, Notice::Action { .. } | Notice::Who { .. })
    }

    /// One notice of every kind, with sample values: what tests walk, and what the
    /// reserved words are derived from. [`Notice::kind_index`] proves it complete.
    pub fn examples() -> [Notice<'static>; KINDS] {
        [
            Notice::Welcome {
                who: "127.0.0.1:5000",
                here: 3,
                limit: Some(RateLimit {
                    per_sec: 5.0,
                    burst: 10,
                }),
            },
            Notice::NowCalled("alice"),
            Notice::AlreadyCalled("alice"),
            Notice::NickUsage,
            Notice::NameReserved("you"),
            Notice::NameTaken("bob"),
            Notice::NameTooLike {
                name: "B0b",
                holder: "bob",
            },
            Notice::NameInvalid("a.b"),
            Notice::Renamed {
                old: "127.0.0.1:5000",
                new: "alice",
            },
            Notice::Joined("alice"),
            Notice::Left("alice"),
            Notice::TimedOut("alice"),
            Notice::WasRemoved("alice"),
            Notice::YouWereRemoved,
            Notice::Action {
                who: "alice",
                action: "waves",
            },
            Notice::ActionUsage,
            Notice::ActionRefused,
            Notice::Who {
                here: 2,
                listing: "alice, bob",
            },
            Notice::PrivateTo {
                to: "bob",
                text: "psst",
            },
            Notice::PrivateFrom {
                from: "alice",
                text: "psst",
            },
            Notice::MsgUsage,
            Notice::ThatIsYou,
            Notice::NoSuchMember("carol"),
            Notice::Help,
            Notice::UnknownCommand("/dance"),
            Notice::Server("maintenance at 5"),
            Notice::TooLong {
                len: 2000,
                limit: 1024,
            },
            Notice::SlowDown { dropped: 4 },
            Notice::RoomFull { max: 1000 },
            Notice::JoinWith("k3f4x2ma7q"),
            Notice::AlreadyIn,
            Notice::GoingAway,
            Notice::HostFull { max: 100 },
            Notice::LeftSaying {
                who: "alice",
                message: "bye all",
            },
            Notice::YouTimedOut { secs: 10 },
            Notice::YouAreAway("lunch"),
            Notice::YouAreBack,
            Notice::IsAway {
                who: "bob",
                message: "lunch",
            },
            Notice::Topic {
                topic: "release on Friday",
                by: "alice",
            },
            Notice::TopicSet {
                who: "alice",
                topic: "release on Friday",
            },
            Notice::NoTopic,
            Notice::NoOneToReply,
            Notice::ReplyUsage,
            Notice::Ignoring {
                listing: "bob, carol",
            },
            Notice::NowIgnoring("bob"),
            Notice::Unignored("bob"),
            Notice::NotIgnoring("bob"),
            Notice::Hidden { count: 3 },
            Notice::IgnoreFull { max: 32 },
        ]
    }

    /// The variant's place in [`Notice::examples`]. An exhaustive match: a new variant
    /// does not compile until it is given a place, and a test checks each place is used.
    pub fn kind_index(&self) -> usize {
        match self {
            Notice::Welcome { .. } => 0,
            Notice::NowCalled(_) => 1,
            Notice::AlreadyCalled(_) => 2,
            Notice::NickUsage => 3,
            Notice::NameReserved(_) => 4,
            Notice::NameTaken(_) => 5,
            Notice::NameTooLike { .. } => 6,
            Notice::NameInvalid(_) => 7,
            Notice::Renamed { .. } => 8,
            Notice::Joined(_) => 9,
            Notice::Left(_) => 10,
            Notice::TimedOut(_) => 11,
            Notice::WasRemoved(_) => 12,
            Notice::YouWereRemoved => 13,
            Notice::Action { .. } => 14,
            Notice::ActionUsage => 15,
            Notice::ActionRefused => 16,
            Notice::Who { .. } => 17,
            Notice::PrivateTo { .. } => 18,
            Notice::PrivateFrom { .. } => 19,
            Notice::MsgUsage => 20,
            Notice::ThatIsYou => 21,
            Notice::NoSuchMember(_) => 22,
            Notice::Help => 23,
            Notice::UnknownCommand(_) => 24,
            Notice::Server(_) => 25,
            Notice::TooLong { .. } => 26,
            Notice::SlowDown { .. } => 27,
            Notice::RoomFull { .. } => 28,
            Notice::JoinWith(_) => 29,
            Notice::AlreadyIn => 30,
            Notice::GoingAway => 31,
            Notice::HostFull { .. } => 32,
            Notice::LeftSaying { .. } => 33,
            Notice::YouTimedOut { .. } => 34,
            Notice::YouAreAway(_) => 35,
            Notice::YouAreBack => 36,
            Notice::IsAway { .. } => 37,
            Notice::Topic { .. } => 38,
            Notice::TopicSet { .. } => 39,
            Notice::NoTopic => 40,
            Notice::NoOneToReply => 41,
            Notice::ReplyUsage => 42,
            Notice::Ignoring { .. } => 43,
            Notice::NowIgnoring(_) => 44,
            Notice::Unignored(_) => 45,
            Notice::NotIgnoring(_) => 46,
            Notice::Hidden { .. } => 47,
            Notice::IgnoreFull { .. } => 48,
        }
    }

    /// The first word of every notice that starts with a fixed word, lower case: no one
    /// may take these as a name.
    pub fn fixed_first_words() -> &'static [String] {
        static WORDS: OnceLock<Vec<String>> = OnceLock::new();
        WORDS.get_or_init(|| {
            let mut words: Vec<String> = Notice::examples()
                .iter()
                .filter(|notice| !notice.starts_with_a_value())
                .filter_map(|notice| {
                    let text = notice.to_string();
                    let word = text.split([' ', ':']).next()?.to_ascii_lowercase();
                    Some(word)
                })
                .collect();
            words.sort();
            words.dedup();
            words
        })
    }

    /// Whether `/me ACTION` would read as a notice about its sender (`* bob left`), as
    /// a reader sees it: after Unicode spaces and lookalike letters are folded.
    pub fn action_reads_as_notice(action: &str) -> bool {
        let action = reader_fold(action);
        Notice::examples()
            .iter()
            .filter_map(Notice::follows_label)
            .any(|words| {
                // The words as a whole: `left.` and `left now` count, `leftovers` not.
                action
                    .strip_prefix(&reader_fold(words))
                    .is_some_and(|rest| {
                        !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
                    })
            })
    }
}

/// The number of kinds of [`Notice`].
pub const KINDS: usize = 49;

/// The end of [`Notice::NowIgnoring`].
const IGNORE_SUFFIX: &str = ": their lines and private messages are hidden";

/// The end of [`Notice::YouAreAway`].
const AWAY_SUFFIX: &str = "; a line or /back brings you back";

/// The end of a welcome from a room without a message limit.
const NO_LIMIT: &str = "no message limit";

/// The end of [`Notice::NameInvalid`], after the quoted name.
const NAME_RULE: &str = ": use 1-16 ASCII letters, digits, _ or -, starting with a letter";
const _: () = assert!(MAX_NAME == 16, "NAME_RULE and NickUsage say 1-16");

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Notice::Welcome { who, here, limit } => {
                write!(f, "you joined as {who} ({here} here; /help for commands; ")?;
                match limit {
                    Some(RateLimit { per_sec, burst }) => {
                        write!(f, "{per_sec} messages a second, {burst} at once)")
                    }
                    None => write!(f, "{NO_LIMIT})"),
                }
            }
            Notice::NowCalled(name) => write!(f, "you are now {name}"),
            Notice::AlreadyCalled(name) => write!(f, "you are already {name}"),
            Notice::NickUsage => write!(f, "usage: /nick NAME (1-16 letters, digits, _ or -)"),
            Notice::NameReserved(name) => write!(f, "the name {} is reserved", quote(name)),
            Notice::NameTaken(name) => write!(f, "the name {} is taken", quote(name)),
            Notice::NameTooLike { name, holder } => write!(
                f,
                "the name {} is too like {holder}, who is here",
                quote(name)
            ),
            Notice::NameInvalid(name) => {
                write!(f, "cannot take the name {}{NAME_RULE}", quote(name))
            }
            Notice::Renamed { old, new } => write!(f, "{old} is now {new}"),
            Notice::Joined(who) => write!(f, "{who} joined"),
            Notice::Left(who) => write!(f, "{who} left"),
            Notice::TimedOut(who) => write!(f, "{who} timed out"),
            Notice::WasRemoved(who) => write!(f, "{who} was removed"),
            Notice::YouWereRemoved => write!(f, "you were removed by the server"),
            Notice::Action { who, action } => write!(f, "{who} {action}"),
            Notice::ActionUsage => write!(f, "usage: /me ACTION"),
            Notice::ActionRefused => {
                write!(f, "that reads like a server notice; say it another way")
            }
            Notice::Who { here, listing } => write!(f, "{here} here: {listing}"),
            Notice::PrivateTo { to, text } => write!(f, "private to {to}: {text}"),
            Notice::PrivateFrom { from, text } => write!(f, "private from {from}: {text}"),
            Notice::MsgUsage => write!(f, "usage: /msg WHO TEXT"),
            Notice::ThatIsYou => write!(f, "that is you"),
            Notice::NoSuchMember(who) => write!(f, "no one here is called {}", quote(who)),
            Notice::Help => f.write_str(HELP),
            Notice::UnknownCommand(word) => {
                write!(f, "unknown command {}; try /help", quote(word))
            }
            Notice::Server(text) => write!(f, "server: {text}"),
            Notice::TooLong { len, limit } => {
                write!(f, "message too long ({len} bytes, limit {limit})")
            }
            Notice::SlowDown { dropped } => {
                write!(f, "slow down: {} dropped", plural(dropped, "message"))
            }
            Notice::RoomFull { max } => {
                write!(f, "room is full ({})", plural(max as u64, "client"))
            }
            Notice::HostFull { max } => write!(
                f,
                "room is full for your host ({} from one host)",
                plural(max as u64, "client")
            ),
            Notice::JoinWith(code) => write!(f, "to join, type /join {code}{JOIN_SUFFIX}"),
            Notice::AlreadyIn => write!(f, "you are in the room already"),
            Notice::GoingAway => write!(f, "the server is going away"),
            Notice::LeftSaying { who, message } => write!(f, "{who} left ({message})"),
            Notice::YouTimedOut { secs } => write!(
                f,
                "you timed out after {secs} s without a line; send anything to come back"
            ),
            Notice::YouAreAway("") => write!(f, "you are away{AWAY_SUFFIX}"),
            Notice::YouAreAway(message) => write!(f, "you are away: {message}{AWAY_SUFFIX}"),
            Notice::YouAreBack => write!(f, "you are back"),
            Notice::IsAway { who, message: "" } => write!(f, "{who} is away"),
            Notice::IsAway { who, message } => write!(f, "{who} is away: {message}"),
            Notice::Topic { topic, by } => write!(f, "topic: {topic} (set by {by})"),
            Notice::TopicSet { who, topic } => write!(f, "{who} set the topic: {topic}"),
            Notice::NoTopic => write!(f, "no topic is set; /topic TEXT sets one"),
            Notice::NoOneToReply => write!(f, "no one has sent you a private message to reply to"),
            Notice::ReplyUsage => write!(f, "usage: /reply TEXT (or /r TEXT)"),
            Notice::Ignoring { listing: "" } => write!(f, "you ignore no one"),
            Notice::Ignoring { listing } => write!(f, "you ignore: {listing}"),
            Notice::NowIgnoring(who) => write!(f, "you now ignore {who}{IGNORE_SUFFIX}"),
            Notice::Unignored(who) => write!(f, "you no longer ignore {who}"),
            Notice::NotIgnoring(who) => write!(f, "you do not ignore {}", quote(who)),
            Notice::IgnoreFull { max } => write!(
                f,
                "you cannot ignore more than {max}; /unignore someone first"
            ),
            Notice::Hidden { count } => write!(
                f,
                "hidden from you: {} from people you ignore (/ignore lists them)",
                plural(count, "message")
            ),
        }
    }
}

/// A duration as people read it in a listing: `45s` under a minute, `12m` under an
/// hour, else `3h05m`.
pub fn short_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

/// `text` as a notice quotes it: at most [`QUOTE_MAX_BYTES`], cut with `…`.
pub fn quote(text: &str) -> Cow<'_, str> {
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
    use crate::proto::name::{is_reserved, Name, NameError};

    #[test]
    fn the_examples_hold_every_kind_once() {
        let mut seen = [false; KINDS];
        for notice in Notice::examples() {
            let i = notice.kind_index();
            assert!(!seen[i], "{notice:?} twice");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn every_notice_reads_back_as_itself_or_starts_with_a_value() {
        for notice in Notice::examples() {
            let line = format!("{NOTICE_PREFIX}{notice}");
            match Notice::parse(&line) {
                Some(parsed) => assert_eq!(parsed, notice, "{line}"),
                None => assert!(notice.starts_with_a_value(), "{line} does not parse"),
            }
        }
    }

    #[test]
    fn every_notice_that_starts_with_a_value_reads_back_as_itself_as_labelled() {
        for notice in Notice::examples() {
            if notice.starts_with_a_value() {
                let line = format!("{NOTICE_PREFIX}{notice}");
                assert_eq!(Notice::parse_labelled(&line), Some(notice), "{line}");
            }
        }
    }

    #[test]
    fn no_name_can_start_a_notice_that_starts_with_a_fixed_word() {
        for notice in Notice::examples() {
            let text = notice.to_string();
            let first = text.split([' ', ':']).next().unwrap_or_default();
            if notice.starts_with_a_value() {
                continue;
            }
            assert!(is_reserved(first), "{first:?} of {text:?}");
            assert_eq!(Name::parse(first), Err(NameError::Reserved), "{text}");
        }
        assert!(is_reserved("that"), "the word the report found");
    }

    #[test]
    fn me_cannot_echo_any_notice_about_its_sender() {
        for notice in Notice::examples() {
            let Some(words) = notice.follows_label() else {
                continue;
            };
            let text = notice.to_string();
            // The wording after the label is what /me would have to type.
            let (label, after) = match notice {
                Notice::Renamed { old, .. } => (old, &text[old.len() + 1..]),
                Notice::Joined(w)
                | Notice::Left(w)
                | Notice::TimedOut(w)
                | Notice::WasRemoved(w)
                | Notice::LeftSaying { who: w, .. }
                | Notice::IsAway { who: w, .. }
                | Notice::TopicSet { who: w, .. } => (w, &text[w.len() + 1..]),
                _ => unreachable!("only these follow a label"),
            };
            assert!(text.starts_with(label));
            assert!(after.starts_with(words), "{text}");
            assert!(Notice::action_reads_as_notice(after), "{after}");
        }
    }

    #[test]
    fn me_sees_through_invisible_and_lookalike_characters() {
        for action in [
            "left",
            "Joined",
            "timed out",
            "is now alice",
            "was removed",
            "left.",
            "left\tnow",
            "lеft",           // Cyrillic е
            "timed\u{a0}out", // no-break space
            "timed\u{2009}out",
            "JΟINED", // Greek Ο
            "ｌｅｆｔ",
            "was remoνed", // Greek ν
            "timed oυt",   // Greek υ
            "ωas removed",
            "Ieft",
            "j0ined",
            "timed 0ut",
            "1eft",
            "l\u{34f}eft",      // combining grapheme joiner
            "le\u{fe0f}ft",     // variation selector
            "timed\u{2800}out", // blank braille
            "joıned",           // dotless i
            "ⅼeft",             // Roman numeral fifty
        ] {
            assert!(Notice::action_reads_as_notice(action), "{action:?}");
        }
        for action in [
            "leftovers",
            "waves",
            "left-handed",
            "is nowhere",
            "joinedup",
        ] {
            assert!(!Notice::action_reads_as_notice(action), "{action:?}");
        }
    }

    #[test]
    fn only_a_code_as_the_server_writes_it_reads_as_a_join_code() {
        let told = "* to join, type /join k3f4x2ma7q; nothing is relayed till then";
        assert_eq!(Notice::parse(told), Some(Notice::JoinWith("k3f4x2ma7q")));
        assert_eq!(Notice::JoinWith("k3f4x2ma7q").to_string(), &told[2..]);
        for look_alike in [
            "* to join, type /join quit; nothing is relayed till then",
            "* to join, type /join k3f4x2ma7q; /nick mallory",
            "* to join, type /join K3F4X2MA7Q; nothing is relayed till then",
            "* to join, type /join k3f4x2ma7; nothing is relayed till then",
            "* to join, type /join k3f9x2ma1q; nothing is relayed till then",
        ] {
            assert_eq!(Notice::parse(look_alike), None, "{look_alike}");
        }
    }

    #[test]
    fn the_welcome_tells_the_rate_limit_in_words() {
        let welcome = Notice::Welcome {
            who: "alice",
            here: 2,
            limit: Some(RateLimit {
                per_sec: 0.5,
                burst: 3,
            }),
        };
        let text = welcome.to_string();
        assert_eq!(
            text,
            "you joined as alice (2 here; /help for commands; 0.5 messages a second, 3 at once)"
        );
        assert_eq!(Notice::parse(&format!("* {text}")), Some(welcome));
        let free = "* you joined as [::1]:5 (1 here; /help for commands; no message limit)";
        assert!(matches!(
            Notice::parse(free),
            Some(Notice::Welcome {
                who: "[::1]:5",
                here: 1,
                limit: None
            })
        ));
        let older = "* you joined as bob (1 here; /help for commands)";
        assert!(matches!(
            Notice::parse(older),
            Some(Notice::Welcome {
                who: "bob",
                limit: None,
                ..
            })
        ));
    }

    #[test]
    fn user_text_is_quoted_short() {
        let long = "x".repeat(40);
        let text = Notice::NoSuchMember(&long).to_string();
        assert_eq!(text, format!("no one here is called {}…", "x".repeat(32)));
        let word = format!("/{}é", "y".repeat(31));
        assert_eq!(
            Notice::UnknownCommand(&word).to_string(),
            format!("unknown command /{}…; try /help", "y".repeat(31))
        );
    }

    #[test]
    fn counts_are_plural_when_they_should_be() {
        assert_eq!(
            Notice::SlowDown { dropped: 1 }.to_string(),
            "slow down: 1 message dropped"
        );
        assert_eq!(
            Notice::RoomFull { max: 2 }.to_string(),
            "room is full (2 clients)"
        );
    }

    #[test]
    fn chat_lines_and_strangers_text_are_not_notices() {
        for line in [
            "alice hi",
            "127.0.0.1:5 * you were removed",
            "*you are now x",
            "",
        ] {
            assert_eq!(Notice::parse(line), None, "{line}");
        }
    }
}
