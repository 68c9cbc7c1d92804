//! `udpchat-server`: runs a chat room on a UDP port, with a console on stdin.

use std::io;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use udpchat::{cli, limits, room, server};

/// A UDP chat room. Its console on stdin takes who, kick ADDR|NAME, say TEXT,
/// topic [TEXT], stats and quit.
#[derive(Debug, Parser)]
#[command(name = "udpchat-server", version)]
struct Cli {
    /// Address to listen on, as host:port or just host (port 9999), e.g. 0.0.0.0:9999,
    /// [::]:9999, localhost.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9999")]
    bind: String,
    // Each number's help is built from `limits`, so it says the range the parser takes.
    #[arg(long, value_name = "SECS",
          help = format!("Seconds of silence after which a client is evicted (fractions \
                          allowed, {} to {})", limits::MIN_SECS, limits::MAX_SECS),
          default_value_t = cli::Secs::whole(limits::DEFAULT_TIMEOUT_SECS),
          allow_negative_numbers = true)]
    timeout: cli::Secs,
    #[arg(long, value_name = "BYTES",
          help = format!("Longest chat message, in bytes ({} to {}, so any accepted text \
                          fits one datagram with its sender's label); longer ones get a \
                          notice instead", limits::MIN_MAX_MESSAGE, limits::MAX_MAX_MESSAGE),
          default_value_t = limits::DEFAULT_MAX_MESSAGE,
          value_parser = clap::value_parser!(u32)
              .range(i64::from(limits::MIN_MAX_MESSAGE)..=i64::from(limits::MAX_MAX_MESSAGE)))]
    max_message: u32,
    #[arg(long, value_name = "N",
          help = format!("Most clients in the room at once (at least {}); newcomers past it \
                          are refused", limits::MIN_MAX_CLIENTS),
          default_value_t = limits::DEFAULT_MAX_CLIENTS,
          value_parser = clap::value_parser!(u32).range(i64::from(limits::MIN_MAX_CLIENTS)..))]
    max_clients: u32,
    /// Chat messages and commands per second per client (heartbeats are free), 0 or
    /// more, fractions allowed; 0 turns the limit off.
    #[arg(long, value_name = "MSGS_PER_SEC", default_value_t = limits::DEFAULT_RATE,
          value_parser = parse_rate, allow_negative_numbers = true)]
    rate: f64,
    #[arg(long, value_name = "N",
          help = format!("Messages a client may send at once before --rate applies (at least \
                          {})", limits::MIN_BURST),
          default_value_t = limits::DEFAULT_BURST,
          value_parser = clap::value_parser!(u32).range(i64::from(limits::MIN_BURST)..))]
    burst: u32,
    /// Let an address in only once it proves it receives there: our client does so by
    /// itself; others are told a line to type (`/join CODE`). Until then, it is sent at
    /// most three times the bytes it sent, so a forged source draws no flood. The
    /// default on any address but loopback.
    #[arg(long, conflicts_with = "open")]
    verify: bool,
    /// Let any address in with its first datagram, as the classic chat room does, even
    /// on an address other than loopback (where a forged source can then make the
    /// server an amplifier).
    #[arg(long)]
    open: bool,
    #[arg(long, value_name = "N",
          help = format!("How many of the room's last chat lines our client is shown when it \
                          joins (0 to {}, and at most {} KiB of them); 0 for none. Private \
                          messages are never kept", limits::MAX_HISTORY, room::HISTORY_BYTES / 1024),
          default_value_t = limits::DEFAULT_HISTORY,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(limits::MAX_HISTORY)))]
    history: u32,
    #[arg(long, value_name = "N",
          help = format!("How many of the last lines sent our clients the server keeps, to \
                          send again to one that missed some (0 to {}, and at most {} KiB of \
                          them); 0 keeps none", limits::MAX_REPAIR_LINES, room::SENT_BYTES / 1024),
          default_value_t = limits::DEFAULT_REPAIR_LINES,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(limits::MAX_REPAIR_LINES)))]
    repair_lines: u32,
    #[arg(long, value_name = "N",
          help = format!("Most members from one host (at least {}; an IPv4 address, or an \
                          IPv6 /64; loopback counts as none), so one host cannot take every \
                          seat; a LAN behind one NAT still fits", limits::MIN_MAX_PER_HOST),
          default_value_t = limits::DEFAULT_MAX_PER_HOST,
          value_parser = clap::value_parser!(u32).range(i64::from(limits::MIN_MAX_PER_HOST)..))]
    max_per_host: u32,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate: give messages per second, 0 or more"
        )),
    }
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let (mut logger, log) = cli::logger("info");
    logger.init();
    let status = serve(&args);
    log.flush(LOG_FLUSH_WAIT);
    status
}

/// How long the server waits at exit for its last log lines to be written.
const LOG_FLUSH_WAIT: Duration = Duration::from_secs(1);

fn serve(args: &Cli) -> ExitCode {
    if let Some((most, why)) = limits::platform_max_message() {
        if args.max_message > most {
            eprintln!(
                "udpchat-server: --max-message {} cannot be sent here: {why}; use at most {most}",
                args.max_message
            );
            return ExitCode::from(2);
        }
    }
    let bind = cli::server_address(&args.bind);
    let socket = match UdpSocket::bind(&bind) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!(
                "udpchat-server: cannot bind {bind}: {}",
                cli::describe_address_error(&bind, &e)
            );
            return ExitCode::from(2);
        }
    };
    let verify = match socket.local_addr() {
        Ok(local) => args.verify || (!args.open && server::verifies_by_default(local)),
        Err(_) => !args.open,
    };
    let config = room::Config {
        timeout: args.timeout.0,
        max_message_bytes: args.max_message as usize,
        max_clients: args.max_clients as usize,
        rate_per_sec: args.rate,
        burst: args.burst,
        local_addr: None,
        verify,
        history_lines: args.history as usize,
        repair_lines: args.repair_lines as usize,
        max_per_host: args.max_per_host as usize,
    };
    let (server, handle) = match server::Server::new(socket, config) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("udpchat-server: cannot set up the socket: {e}");
            return ExitCode::from(2);
        }
    };
    let console = thread::spawn(move || {
        server::run_console(io::stdin().lock(), &mut io::stdout().lock(), &handle);
    });
    if let Err(e) = server.run() {
        // The console thread may be blocked reading stdin; exiting ends it.
        eprintln!("udpchat-server: receive failed: {e}");
        return ExitCode::FAILURE;
    }
    let _ = console.join();
    ExitCode::SUCCESS
}
