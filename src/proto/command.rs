//! The grammar of chat text: a `/command` for the server, or text for everyone.

/// Every command word a member can type, as typed: what the client's Tab completes
/// after a `/` at the start of a line.
pub const COMMANDS: &[&str] = &[
    "/nick",
    "/who",
    "/me",
    "/msg",
    "/help",
    "/join",
    "/quit",
    "/exit",
    "/away",
    "/back",
    "/reply",
    "/r",
    "/ignore",
    "/unignore",
    "/topic",
];

/// What chat text asks for, once decoded and made terminal-safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat<'a> {
    /// Text to broadcast (a leading `//` already reduced to `/`).
    Text(&'a str),
    /// A `/command` for the server; never broadcast.
    Command(Command<'a>),
}

/// A `/command`. Arguments are trimmed; a missing one is an empty string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`: take a name.
    Nick(&'a str),
    /// `/who`: list the members.
    Who,
    /// `/me ACTION`: broadcast `* <who> ACTION`.
    Me(&'a str),
    /// `/msg WHO TEXT`: a private message.
    Msg { to: &'a str, text: &'a str },
    /// `/help`: list the commands.
    Help,
    /// `/join CODE`: under `--verify`, prove the address with the code the server sent.
    Join(&'a str),
    /// `/quit [MESSAGE]` or `/exit [MESSAGE]`: leave, saying why (the bare word `quit`
    /// is the protocol's own leave, with no message).
    Quit(&'a str),
    /// `/away [MESSAGE]`: away until `/back` or the next line.
    Away(&'a str),
    /// `/back`: no longer away.
    Back,
    /// `/reply TEXT` or `/r TEXT`: a private message to whoever sent one last.
    Reply(&'a str),
    /// `/ignore [NAME]`: hide a member's lines, actions and private messages; alone,
    /// list those hidden.
    Ignore(&'a str),
    /// `/unignore NAME`: show them again.
    Unignore(&'a str),
    /// `/topic [TEXT]`: set the room's topic; alone, tell it.
    Topic(&'a str),
    /// Any other `/word` (the word with its slash).
    Unknown(&'a str),
}

/// Reads decoded chat text: a `/command`, or text to broadcast.
pub fn parse_chat(text: &str) -> Chat<'_> {
    let Some(body) = text.strip_prefix('/') else {
        return Chat::Text(text);
    };
    if body.starts_with('/') {
        return Chat::Text(body);
    }
    let (word, rest) = split_word(body);
    let command = match word.to_ascii_lowercase().as_str() {
        "nick" => Command::Nick(rest.trim_end()),
        "who" => Command::Who,
        "me" => Command::Me(rest.trim_end()),
        "msg" => {
            let (to, text) = split_word(rest);
            Command::Msg {
                to,
                text: text.trim_end(),
            }
        }
        "help" => Command::Help,
        "join" => Command::Join(rest.trim_end()),
        "quit" | "exit" => Command::Quit(rest.trim_end()),
        "away" => Command::Away(rest.trim_end()),
        "back" => Command::Back,
        "reply" | "r" => Command::Reply(rest.trim_end()),
        "ignore" => Command::Ignore(rest.trim_end()),
        "unignore" => Command::Unignore(rest.trim_end()),
        "topic" => Command::Topic(rest.trim_end()),
        _ => Command::Unknown(&text[..word.len() + 1]),
    };
    Chat::Command(command)
}

/// Splits the first whitespace-separated word off `text`: `(word, rest)`, with the rest's
/// leading whitespace removed.
fn split_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_a_member_can_type_is_understood_and_in_the_help() {
        let help = crate::proto::Notice::Help.to_string();
        for word in COMMANDS {
            assert!(
                !matches!(parse_chat(word), Chat::Command(Command::Unknown(_))),
                "{word} is not understood"
            );
            // Aliases and what only a newcomer needs are named by what they stand for.
            if !["/r", "/exit", "/join"].contains(word) {
                assert!(help.contains(word), "{word} is not in /help");
            }
        }
    }

    #[test]
    fn chat_text_and_double_slash() {
        assert_eq!(parse_chat("hello"), Chat::Text("hello"));
        assert_eq!(parse_chat(" /nick x"), Chat::Text(" /nick x"));
        assert_eq!(parse_chat("//like this"), Chat::Text("/like this"));
        assert_eq!(parse_chat("///x"), Chat::Text("//x"));
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        let cmd = |t| match parse_chat(t) {
            Chat::Command(c) => c,
            Chat::Text(t) => panic!("{t:?} is not a command"),
        };
        assert_eq!(cmd("/nick alice"), Command::Nick("alice"));
        assert_eq!(cmd("/NICK  alice "), Command::Nick("alice"));
        assert_eq!(cmd("/nick"), Command::Nick(""));
        assert_eq!(cmd("/nick two words"), Command::Nick("two words"));
        assert_eq!(cmd("/who"), Command::Who);
        assert_eq!(cmd("/me waves  at all"), Command::Me("waves  at all"));
        assert_eq!(cmd("/me"), Command::Me(""));
        assert_eq!(
            cmd("/msg bob  hi there"),
            Command::Msg {
                to: "bob",
                text: "hi there"
            }
        );
        assert_eq!(
            cmd("/msg bob"),
            Command::Msg {
                to: "bob",
                text: ""
            }
        );
        assert_eq!(cmd("/msg"), Command::Msg { to: "", text: "" });
        assert_eq!(cmd("/help"), Command::Help);
        assert_eq!(cmd("/join 7f3a9c2b1d4e "), Command::Join("7f3a9c2b1d4e"));
        assert_eq!(cmd("/JOIN"), Command::Join(""));
        assert_eq!(cmd("/quit bye all "), Command::Quit("bye all"));
        assert_eq!(cmd("/EXIT"), Command::Quit(""));
        assert_eq!(
            cmd("/away  lunch, back at 2"),
            Command::Away("lunch, back at 2")
        );
        assert_eq!(cmd("/back"), Command::Back);
        assert_eq!(cmd("/r  sure"), Command::Reply("sure"));
        assert_eq!(cmd("/reply sure thing"), Command::Reply("sure thing"));
        assert_eq!(cmd("/ignore bob"), Command::Ignore("bob"));
        assert_eq!(cmd("/ignore"), Command::Ignore(""));
        assert_eq!(cmd("/unignore bob"), Command::Unignore("bob"));
        assert_eq!(
            cmd("/topic release on Friday"),
            Command::Topic("release on Friday")
        );
        assert_eq!(cmd("/dance now"), Command::Unknown("/dance"));
        assert_eq!(cmd("/"), Command::Unknown("/"));
        assert_eq!(cmd("/\tx"), Command::Unknown("/"));
    }
}
