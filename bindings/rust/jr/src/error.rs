// SPDX-License-Identifier: MIT
//! The two kinds of errors: a server error reply, or a library error code.
use std::ffi::CStr;
use std::fmt;

use jr_sys as sys;

/// Library error codes (`JR_E*` in jr.h). New codes may appear: match with
/// a fallback arm.
pub mod code {
    use jr_sys as sys;
    pub const EINVAL: i32 = sys::JR_EINVAL;
    pub const ENOMEM: i32 = sys::JR_ENOMEM;
    pub const ECLOSED: i32 = sys::JR_ECLOSED;
    pub const ECONNECT: i32 = sys::JR_ECONNECT;
    pub const ECONNLOST: i32 = sys::JR_ECONNLOST;
    pub const ETIMEDOUT: i32 = sys::JR_ETIMEDOUT;
    pub const EQUEUETIMEOUT: i32 = sys::JR_EQUEUETIMEOUT;
    pub const EPROTO: i32 = sys::JR_EPROTO;
    pub const ETOOBIG: i32 = sys::JR_ETOOBIG;
    pub const EREFUSED: i32 = sys::JR_EREFUSED;
    pub const ECANCELED: i32 = sys::JR_ECANCELED;
    pub const EABANDONED: i32 = sys::JR_EABANDONED;
    pub const EAUTH: i32 = sys::JR_EAUTH;
    pub const ESHUTDOWN: i32 = sys::JR_ESHUTDOWN;
    pub const EMISUSE: i32 = sys::JR_EMISUSE;
    pub const ENOENT: i32 = sys::JR_ENOENT;
    pub const EINTERNAL: i32 = sys::JR_EINTERNAL;
    pub const EFULL: i32 = sys::JR_EFULL;
    pub const EDISCARDED: i32 = sys::JR_EDISCARDED;
    pub const EWATCH: i32 = sys::JR_EWATCH;
    pub const EPOOLTIMEOUT: i32 = sys::JR_EPOOLTIMEOUT;
    pub const ECROSSSLOT: i32 = sys::JR_ECROSSSLOT;
    pub const ECLUSTER: i32 = sys::JR_ECLUSTER;
    pub const EFORKED: i32 = sys::JR_EFORKED;
    pub const ETLS: i32 = sys::JR_ETLS;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident = $code:ident,)*) => {
        /// What went wrong in libjr: one variant per `JR_E*` code of jr.h
        /// ([`ErrorKind::code`] gives the number back). libjr may add codes:
        /// an unknown one is `Other(code)`, and matches need a fallback arm.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[$doc])* $variant,)*
            /// A code this crate does not know yet.
            Other(i32),
        }

        impl ErrorKind {
            /// The kind of a negative `JR_E*` code.
            pub fn from_code(code: i32) -> ErrorKind {
                match code {
                    $(sys::$code => ErrorKind::$variant,)*
                    c => ErrorKind::Other(c),
                }
            }
            /// The `JR_E*` code (negative).
            pub fn code(self) -> i32 {
                match self {
                    $(ErrorKind::$variant => sys::$code,)*
                    ErrorKind::Other(c) => c,
                }
            }
        }
    };
}

kinds! {
    /// `JR_EINVAL`: an invalid argument or option.
    InvalidArgument = JR_EINVAL,
    /// `JR_ENOMEM`.
    OutOfMemory = JR_ENOMEM,
    /// `JR_ECLOSED`: the client is closing; the command was not sent.
    Closed = JR_ECLOSED,
    /// `JR_ECONNECT`: could not connect (the detail says to where and why).
    Connect = JR_ECONNECT,
    /// `JR_ECONNLOST`: the connection died after the command was written.
    ConnectionLost = JR_ECONNLOST,
    /// `JR_ETIMEDOUT`: the deadline passed after the command was written.
    TimedOut = JR_ETIMEDOUT,
    /// `JR_EQUEUETIMEOUT`: the deadline passed before it was written.
    QueueTimeout = JR_EQUEUETIMEOUT,
    /// `JR_EPROTO`: the server sent something that is not RESP.
    Protocol = JR_EPROTO,
    /// `JR_ETOOBIG`: a reply over the reader's limits.
    TooBig = JR_ETOOBIG,
    /// `JR_EREFUSED`: libjr refuses this command here (see `refusal_reason`).
    Refused = JR_EREFUSED,
    /// `JR_ECANCELED`: cancelled before it was written.
    Canceled = JR_ECANCELED,
    /// `JR_EABANDONED`: cancelled after it was written (its reply is dropped).
    Abandoned = JR_EABANDONED,
    /// `JR_EAUTH`: the handshake (AUTH, HELLO, SELECT) failed.
    Auth = JR_EAUTH,
    /// `JR_ESHUTDOWN`: the client closed while the command was written.
    Shutdown = JR_ESHUTDOWN,
    /// `JR_EMISUSE`: a call from where it is not allowed (a blocking call
    /// inside a callback).
    Misuse = JR_EMISUSE,
    /// `JR_ENOENT`: no such key, id or endpoint.
    NotFound = JR_ENOENT,
    /// `JR_EINTERNAL`: a bug in libjr.
    Internal = JR_EINTERNAL,
    /// `JR_EFULL`: `max_queued` / `max_queued_bytes` reached.
    Full = JR_EFULL,
    /// `JR_EDISCARDED`: a queued command of a transaction that did not run.
    Discarded = JR_EDISCARDED,
    /// `JR_EWATCH`: a watched key changed; the transaction did not run.
    Watch = JR_EWATCH,
    /// `JR_EPOOLTIMEOUT`: no dedicated connection came free in time.
    PoolTimeout = JR_EPOOLTIMEOUT,
    /// `JR_ECROSSSLOT`: keys of different cluster slots in one command.
    CrossSlot = JR_ECROSSSLOT,
    /// `JR_ECLUSTER`: a cluster call on a non-cluster (or the reverse).
    Cluster = JR_ECLUSTER,
    /// `JR_EFORKED`: the client was made before a fork().
    Forked = JR_EFORKED,
    /// `JR_ETLS`: TLS files unusable.
    Tls = JR_ETLS,
}

/// An error of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error reply (`"WRONGTYPE ..."`).
    Server(String),
    /// libjr failed the command: `kind` says what (its `JR_E*` number:
    /// [`Error::code`]), `unsent` is true when the command certainly did not
    /// reach the server (safe to retry), `message` is `jr_strerror(code)`,
    /// `detail` why, when libjr knows (`jr_error_detail`: the endpoint and
    /// the cause, e.g. `"connect 127.0.0.1:6390: ECONNREFUSED: connection
    /// refused"` or `"handshake with 127.0.0.1:6379: WRONGPASS ..."`), else
    /// `None` (a deadline that passed, a cancel). Display shows it.
    Library {
        kind: ErrorKind,
        unsent: bool,
        message: &'static str,
        detail: Option<String>,
    },
    /// A reply that does not convert to the type asked for
    /// ([`FromReply`](crate::FromReply)): what was asked and what came.
    Conversion(String),
}

impl Error {
    /// The library error for a negative `JR_E*` code.
    pub fn from_code(code: i32) -> Error {
        // SAFETY: jr_strerror and jr_err_unsent accept any int and return
        // static text / a flag.
        let (message, unsent) = unsafe {
            let s = CStr::from_ptr(sys::jr_strerror(code));
            (
                s.to_str().unwrap_or("libjr error"),
                sys::jr_err_unsent(code) != 0,
            )
        };
        Error::Library {
            kind: ErrorKind::from_code(code),
            unsent,
            message,
            detail: None,
        }
    }

    /// The library error for a negative `JR_E*` code with why it happened
    /// (the endpoint and the cause, or a refused handshake's server text).
    pub fn with_detail(code: i32, detail: String) -> Error {
        match Error::from_code(code) {
            Error::Library {
                kind,
                unsent,
                message,
                ..
            } => Error::Library {
                kind,
                unsent,
                message,
                detail: Some(detail),
            },
            e => e,
        }
    }

    /// Why a library error happened (endpoint and cause), if libjr said.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Library { detail, .. } => detail.as_deref(),
            _ => None,
        }
    }

    /// The kind of a library error, `None` for a server or conversion error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Library { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The `JR_E*` code of a library error (see [`code`]), `None` for a
    /// server or conversion error.
    pub fn code(&self) -> Option<i32> {
        self.kind().map(ErrorKind::code)
    }

    /// True when the command certainly did not reach the server.
    pub fn is_unsent(&self) -> bool {
        matches!(self, Error::Library { unsent: true, .. })
    }

    /// A deadline passed: `TimedOut`, `QueueTimeout` or `PoolTimeout`.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind(),
            Some(ErrorKind::TimedOut | ErrorKind::QueueTimeout | ErrorKind::PoolTimeout)
        )
    }

    /// `"JR_ECONNLOST"` for a library error, `"server"` for a server error,
    /// `"conversion"` for a conversion error.
    pub fn name(&self) -> &'static str {
        match self {
            // SAFETY: jr_err_name returns static text for any int.
            Error::Library { kind, .. } => unsafe {
                CStr::from_ptr(sys::jr_err_name(kind.code()))
                    .to_str()
                    .unwrap_or("JR_E?")
            },
            Error::Server(_) => "server",
            Error::Conversion(_) => "conversion",
        }
    }

    /// The first word of a server error (`"WRONGTYPE"`), by Redis convention
    /// its kind.
    pub fn server_kind(&self) -> Option<&str> {
        match self {
            Error::Server(m) => m.split(' ').next(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server(m) => write!(f, "server error: {m}"),
            Error::Library {
                message,
                detail: Some(d),
                ..
            } => write!(f, "{} ({}): {}", message, self.name(), d),
            Error::Library { message, .. } => write!(f, "{} ({})", message, self.name()),
            Error::Conversion(m) => write!(f, "reply conversion: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn check(rc: i32) -> Result<()> {
    if rc < 0 {
        Err(Error::from_code(rc))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code libjr names has a variant of its own, and the variant
    /// gives the code back; a code libjr adds fails here until it has one.
    #[test]
    fn every_libjr_code_has_a_kind() {
        let mut named = 0;
        for c in 1..=200 {
            // SAFETY: any int.
            let name = unsafe { CStr::from_ptr(sys::jr_err_name(-c)) }
                .to_str()
                .unwrap();
            let kind = ErrorKind::from_code(-c);
            if name == "JR_E?" {
                assert_eq!(kind, ErrorKind::Other(-c));
                continue;
            }
            named += 1;
            assert!(
                !matches!(kind, ErrorKind::Other(_)),
                "{name} ({}) has no ErrorKind variant",
                -c
            );
            assert_eq!(kind.code(), -c);
            assert_eq!(Error::from_code(-c).name(), name);
        }
        assert!(named >= 25, "{named}");
    }
}
