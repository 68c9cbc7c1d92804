//! What a socket error means for us, decided in one place for every platform.
//!
//! UDP reports ICMP errors on the next call on the socket, and each system names them
//! its own way: Linux and macOS say a closed port is `ConnectionRefused`; Windows says
//! `ConnectionReset` (WSAECONNRESET, os error 10054), even on an unconnected socket,
//! which is why the Python tutorial's server catches `ConnectionResetError`. std maps
//! each system's numbers to an [`ErrorKind`], so the kind decides, and numbers only
//! where std has no kind.

use std::io::{self, ErrorKind};

/// What an error from a UDP socket means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The peer's port is closed (an ICMP port-unreachable came back): the server is
    /// not running there, or a client left. Anyone who knows the address can forge one.
    PortClosed,
    /// The host or its network cannot be reached for now (a rebooting machine, a
    /// cable out): worth trying again later.
    Unreachable,
    /// Nothing came in time, or nothing is there to read: not an error.
    Timeout,
    /// Says nothing about the socket (a signal, a full buffer): try again.
    Transient,
    /// The socket itself failed: stop.
    Failure,
}

/// What `error`, from a UDP socket's send or receive, means.
pub fn classify(error: &io::Error) -> Meaning {
    match error.kind() {
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => Meaning::PortClosed,
        // A firewall's ICMP reject (administratively prohibited) reads as a permission
        // denied on a connected socket: that host, for now.
        ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::NetworkDown
        | ErrorKind::PermissionDenied => Meaning::Unreachable,
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Meaning::Timeout,
        ErrorKind::Interrupted | ErrorKind::OutOfMemory => Meaning::Transient,
        _ => match error.raw_os_error() {
            Some(code) if UNREACHABLE.contains(&code) => Meaning::Unreachable,
            Some(code) if TRANSIENT.contains(&code) => Meaning::Transient,
            _ => Meaning::Failure,
        },
    }
}

/// Whether a send's `error` says the system will never send to that destination: a
/// broadcast address without `SO_BROADCAST` (EACCES, 13 on Linux and macOS; WSAEACCES,
/// 10013 on Windows), returned by the send itself. Not EPERM (1), which a firewall's
/// drop or a full connection table returns for a while.
pub fn is_refused_destination(error: &io::Error) -> bool {
    const EACCES: i32 = if cfg!(windows) { 10013 } else { 13 };
    error.raw_os_error() == Some(EACCES)
}

/// The error numbers each system gives for what std has no kind of its own, one
/// module a system; each holds the same two tables.
///
/// `UNREACHABLE`: what an ICMP error turns into on a connected UDP socket, each saying
/// the host cannot be reached that way for now: EHOSTDOWN, EMSGSIZE (fragmentation
/// needed), ENOPROTOOPT (protocol unreachable), EPROTO (parameter problem), EOPNOTSUPP
/// (source route failed), and on Linux ENONET (host isolated).
///
/// `TRANSIENT`: what says nothing about the socket: ENOBUFS (a send queue full for a
/// moment).
#[cfg(target_os = "linux")]
mod numbers {
    pub const UNREACHABLE: &[i32] = &[112, 90, 92, 71, 95, 64];
    pub const TRANSIENT: &[i32] = &[105];
}
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
mod numbers {
    pub const UNREACHABLE: &[i32] = &[64, 40, 42, 100, 102];
    pub const TRANSIENT: &[i32] = &[55];
}
#[cfg(windows)]
mod numbers {
    pub const UNREACHABLE: &[i32] = &[10064, 10040]; // WSAEHOSTDOWN, WSAEMSGSIZE
    pub const TRANSIENT: &[i32] = &[10055]; // WSAENOBUFS
}
#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    windows
)))]
mod numbers {
    pub const UNREACHABLE: &[i32] = &[];
    pub const TRANSIENT: &[i32] = &[];
}
use numbers::{TRANSIENT, UNREACHABLE};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_means_what_it_says_on_every_platform() {
        for (kind, meaning) in [
            // Linux and macOS: a closed port.
            (ErrorKind::ConnectionRefused, Meaning::PortClosed),
            // Windows: a closed port (WSAECONNRESET, 10054).
            (ErrorKind::ConnectionReset, Meaning::PortClosed),
            (ErrorKind::HostUnreachable, Meaning::Unreachable),
            (ErrorKind::NetworkUnreachable, Meaning::Unreachable),
            (ErrorKind::NetworkDown, Meaning::Unreachable),
            (ErrorKind::WouldBlock, Meaning::Timeout),
            (ErrorKind::TimedOut, Meaning::Timeout),
            (ErrorKind::Interrupted, Meaning::Transient),
            // A firewall's reject (ICMP administratively prohibited).
            (ErrorKind::PermissionDenied, Meaning::Unreachable),
            (ErrorKind::NotConnected, Meaning::Failure),
            (ErrorKind::InvalidInput, Meaning::Failure),
            (ErrorKind::Other, Meaning::Failure),
        ] {
            assert_eq!(classify(&io::Error::from(kind)), meaning, "{kind:?}");
        }
    }

    #[test]
    fn only_a_send_the_system_refuses_for_good_drops_a_destination() {
        let eacces = if cfg!(windows) { 10013 } else { 13 };
        assert!(is_refused_destination(&io::Error::from_raw_os_error(
            eacces
        )));
        // EPERM (a firewall's drop, a full connection table) passes.
        let eperm = if cfg!(windows) { 10065 } else { 1 };
        assert!(!is_refused_destination(&io::Error::from_raw_os_error(
            eperm
        )));
        assert!(!is_refused_destination(&io::Error::from(
            ErrorKind::PermissionDenied
        )));
        assert!(!is_refused_destination(&io::Error::from(
            ErrorKind::ConnectionRefused
        )));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_numbers_reach_the_same_meanings() {
        for (errno, meaning) in [
            (111, Meaning::PortClosed),  // ECONNREFUSED
            (101, Meaning::Unreachable), // ENETUNREACH
            (113, Meaning::Unreachable), // EHOSTUNREACH
            (112, Meaning::Unreachable), // EHOSTDOWN
            (100, Meaning::Unreachable), // ENETDOWN
            (11, Meaning::Timeout),      // EAGAIN
            (4, Meaning::Transient),     // EINTR
            (105, Meaning::Transient),   // ENOBUFS
            (13, Meaning::Unreachable),  // EACCES: ICMP administratively prohibited
            (90, Meaning::Unreachable),  // EMSGSIZE: fragmentation needed
            (92, Meaning::Unreachable),  // ENOPROTOOPT: protocol unreachable
            (71, Meaning::Unreachable),  // EPROTO: parameter problem
            (64, Meaning::Unreachable),  // ENONET: host isolated
            (9, Meaning::Failure),       // EBADF
        ] {
            let error = io::Error::from_raw_os_error(errno);
            assert_eq!(classify(&error), meaning, "errno {errno}: {error}");
        }
    }
}
