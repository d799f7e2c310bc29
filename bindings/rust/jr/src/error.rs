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

/// An error of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The server answered with an error reply (`"WRONGTYPE ..."`).
    Server(String),
    /// libjr failed the command: `code` is a `JR_E*` value (see [`code`]),
    /// `unsent` is true when the command certainly did not reach the server
    /// (safe to retry), `message` is `jr_strerror(code)`, `detail` why, when
    /// libjr knows (`jr_error_detail`: the endpoint and the cause, e.g.
    /// `"connect 127.0.0.1:6390: ECONNREFUSED: connection refused"` or
    /// `"handshake with 127.0.0.1:6379: WRONGPASS ..."`), else `None` (a
    /// deadline that passed, a cancel). Display shows it.
    Library {
        code: i32,
        unsent: bool,
        message: &'static str,
        detail: Option<String>,
    },
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
            code,
            unsent,
            message,
            detail: None,
        }
    }

    /// The library error for a negative `JR_E*` code with the server's error
    /// text that came with it (a refused handshake's `"WRONGPASS ..."`).
    pub fn with_detail(code: i32, detail: String) -> Error {
        match Error::from_code(code) {
            Error::Library {
                code,
                unsent,
                message,
                ..
            } => Error::Library {
                code,
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
            Error::Server(_) => None,
        }
    }

    /// The `JR_E*` code of a library error, `None` for a server error.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Library { code, .. } => Some(*code),
            Error::Server(_) => None,
        }
    }

    /// True when the command certainly did not reach the server.
    pub fn is_unsent(&self) -> bool {
        matches!(self, Error::Library { unsent: true, .. })
    }

    /// `"JR_ECONNLOST"` for a library error, `"server"` for a server error.
    pub fn name(&self) -> &'static str {
        match self {
            // SAFETY: jr_err_name returns static text for any int.
            Error::Library { code, .. } => unsafe {
                CStr::from_ptr(sys::jr_err_name(*code))
                    .to_str()
                    .unwrap_or("JR_E?")
            },
            Error::Server(_) => "server",
        }
    }

    /// The first word of a server error (`"WRONGTYPE"`), by Redis convention
    /// its kind.
    pub fn server_kind(&self) -> Option<&str> {
        match self {
            Error::Server(m) => m.split(' ').next(),
            Error::Library { .. } => None,
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
