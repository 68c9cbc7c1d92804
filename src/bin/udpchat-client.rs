//! `udpchat-client`: chat in a udpchat (or compatible) room from a terminal.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use udpchat::client::{self, Outcome};
use udpchat::{cli, limits, proto};

/// Chat in a UDP chat room. Type a line to send it; `quit` or end of input leaves.
#[derive(Debug, Parser)]
#[command(name = "udpchat-client", version)]
struct Cli {
    /// The server, as host:port or just host (port 9999), e.g. 127.0.0.1:9999,
    /// localhost, [::1]:9999.
    #[arg(default_value = "127.0.0.1:9999")]
    server: String,
    // The numbers in these helps come from `limits` and `proto`, as the parsers' do.
    #[arg(long, value_name = "SECS",
          help = format!("Seconds between heartbeats (fractions allowed, {} to {})",
                         limits::MIN_SECS, limits::MAX_SECS),
          default_value_t = cli::Secs::whole(limits::DEFAULT_HEARTBEAT_SECS),
          allow_negative_numbers = true)]
    heartbeat: cli::Secs,
    #[arg(long, value_name = "NAME",
          help = format!("Take this name in the room (1 to {} ASCII letters, digits, _ or -, \
                          starting with a letter), and take it again whenever the server \
                          forgets it", proto::MAX_NAME),
          value_parser = cli::parse_name)]
    name: Option<String>,
    /// Ring the terminal bell when someone mentions your name or messages you privately.
    #[arg(long)]
    bell: bool,
    /// When the server goes away, end (exit status 1) instead of trying it again.
    #[arg(long)]
    no_reconnect: bool,
    /// Append what you see to FILE (created if missing), each line after its full date
    /// and time, without colors: a transcript to grep.
    #[arg(long, value_name = "FILE")]
    log: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let (mut logger, log) = cli::logger("warn");
    logger.init();
    let status = chat(args);
    log.flush(Duration::from_secs(1));
    status
}

fn chat(args: Cli) -> ExitCode {
    // A terminal gets the interactive client: raw input, restored on every way out
    // (this guard's drop, a panic's unwinding included). Anything else reads lines.
    let raw = client::terminal::RawMode::enter();
    let server = cli::server_address(&args.server);
    let config = client::Config {
        server: server.clone(),
        log: args.log,
        session: client::SessionConfig {
            server,
            heartbeat: args.heartbeat.0,
            max_message_bytes: proto::DEFAULT_MAX_MESSAGE,
            name: args.name,
            bell: args.bell,
            reconnect: !args.no_reconnect,
            leave_keys: client::terminal::leave_keys(raw.is_some()),
        },
    };
    let terminal = raw.as_ref().map(|raw| client::Terminal {
        screen: client::Screen {
            columns: client::terminal::size().map_or(80, |(_, columns)| columns),
            palette: client::terminal::palette(),
        },
        raw,
    });
    let outcome = client::run(&config, io::stdin(), &mut io::stdout().lock(), terminal);
    drop(raw);
    match outcome {
        Ok(Outcome::Quit) => ExitCode::SUCCESS,
        Ok(Outcome::ServerDown) => {
            eprintln!("udpchat-client: server {} is down", config.server);
            ExitCode::FAILURE
        }
        Ok(Outcome::NoAnswer) => {
            eprintln!(
                "udpchat-client: no answer from {}: nothing there speaks udpchat",
                config.server
            );
            ExitCode::FAILURE
        }
        Ok(Outcome::Removed) => {
            eprintln!("udpchat-client: the server removed you from the room");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("udpchat-client: {e}");
            match e {
                // The server named cannot be found, or the log cannot be written: a
                // usage problem.
                client::Error::Resolve { .. }
                | client::Error::NoAddress { .. }
                | client::Error::Log { .. } => ExitCode::from(2),
                client::Error::Socket(_) | client::Error::Output(_) => ExitCode::FAILURE,
            }
        }
    }
}
