// SPDX-License-Identifier: MIT
//! Owned replies.
use std::ffi::CStr;
use std::fmt;
use std::slice;

use jr_sys as sys;

use crate::error::{Error, Result};

/// An owned reply, copied out of libjr's reply tree.
///
/// A top-level error reply arrives as `Err(Error::Server(..))`; inside an
/// array (e.g. an EXEC result) an error element is `Reply::Error`.
/// [`Reply::convert`] turns it into a Rust type ([`FromReply`](crate::FromReply)).
/// Debug shows a bulk string as text (`Bulk("hello")`) when it is UTF-8,
/// else as escaped bytes (`Bulk(b"\xff\x00")`).
#[derive(Clone, PartialEq, Eq)]
pub enum Reply {
    /// A bulk string (binary).
    Bulk(Vec<u8>),
    /// A status reply (`+OK`).
    Status(String),
    Integer(i64),
    /// A null bulk string or array (e.g. GET on a missing key).
    Nil,
    Array(Vec<Reply>),
    /// An error element inside an array.
    Error(String),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Bulk(b) => match std::str::from_utf8(b) {
                Ok(s) => f.debug_tuple("Bulk").field(&s).finish(),
                Err(_) => write!(f, "Bulk(b\"{}\")", b.escape_ascii()),
            },
            Reply::Status(s) => f.debug_tuple("Status").field(s).finish(),
            Reply::Integer(i) => f.debug_tuple("Integer").field(i).finish(),
            Reply::Nil => f.write_str("Nil"),
            Reply::Array(a) => f.debug_tuple("Array").field(a).finish(),
            Reply::Error(s) => f.debug_tuple("Error").field(s).finish(),
        }
    }
}

impl Reply {
    /// The variant's name for messages ("a bulk string", "an array").
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Reply::Bulk(_) => "a bulk string",
            Reply::Status(_) => "a status",
            Reply::Integer(_) => "an integer",
            Reply::Nil => "nil",
            Reply::Array(_) => "an array",
            Reply::Error(_) => "an error",
        }
    }

    /// Copies a borrowed reply tree.
    ///
    /// # Safety
    /// `r` must be null or a reply valid for the duration of the call.
    pub unsafe fn from_raw(r: *const sys::jr_reply) -> Reply {
        // SAFETY: the caller guarantees r; the accessors are NULL-safe.
        unsafe { Reply::copy(r) }
    }

    unsafe fn copy(r: *const sys::jr_reply) -> Reply {
        // SAFETY: see from_raw.
        unsafe {
            match sys::jr_reply_get_type(r) {
                sys::JR_REPLY_STRING => Reply::Bulk(raw_bytes(r).to_vec()),
                sys::JR_REPLY_STATUS => Reply::Status(String::from_utf8_lossy(raw_bytes(r)).into()),
                sys::JR_REPLY_ERROR => Reply::Error(String::from_utf8_lossy(raw_bytes(r)).into()),
                sys::JR_REPLY_INTEGER => Reply::Integer(sys::jr_reply_integer(r)),
                sys::JR_REPLY_ARRAY => {
                    let n = sys::jr_reply_len(r);
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push(Reply::copy(sys::jr_reply_element(r, i)));
                    }
                    Reply::Array(v)
                }
                _ => Reply::Nil,
            }
        }
    }

    /// The bytes of a bulk string or status reply.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Status(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
    /// A bulk string or status reply as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reply::Bulk(b) => std::str::from_utf8(b).ok(),
            Reply::Status(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Nil)
    }
    /// The bytes of a bulk string or status reply, by value.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Status(s) => Some(s.into_bytes()),
            _ => None,
        }
    }
    pub fn into_array(self) -> Option<Vec<Reply>> {
        match self {
            Reply::Array(a) => Some(a),
            _ => None,
        }
    }
    /// An error element as an [`Error::Server`]; other replies as `Ok`.
    pub fn into_result(self) -> Result<Reply> {
        match self {
            Reply::Error(m) => Err(Error::Server(m)),
            r => Ok(r),
        }
    }
}

/// SAFETY: as Reply::from_raw; the slice borrows the reply.
unsafe fn raw_bytes<'a>(r: *const sys::jr_reply) -> &'a [u8] {
    let mut len = 0usize;
    // SAFETY: see Reply::from_raw; the bytes live as long as the reply.
    unsafe {
        let p = sys::jr_reply_str(r, &mut len);
        if p.is_null() || len == 0 {
            &[]
        } else {
            slice::from_raw_parts(p.cast::<u8>(), len)
        }
    }
}

/// The outcome of a completion (status, borrowed reply) as a Result.
///
/// # Safety
/// `r` must be null or valid for the duration of the call.
pub(crate) unsafe fn result_from(status: i32, r: *const sys::jr_reply) -> Result<Reply> {
    if status < 0 {
        // Why, when libjr knows: the endpoint and the cause ("connect
        // 127.0.0.1:1: ECONNREFUSED: ...", "handshake with ...: WRONGPASS
        // ..."). Valid here: inside the completion callback, or right after
        // jr_client_call / jr_db_call on the thread that called.
        // SAFETY: no arguments; the text is valid until we return.
        let p = unsafe { sys::jr_error_detail() };
        if !p.is_null() {
            // SAFETY: NUL-terminated, copied before return.
            let text = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
            return Err(Error::with_detail(status, text));
        }
        // SAFETY: the caller guarantees r (null-safe accessor).
        if unsafe { sys::jr_reply_get_type(r) } == sys::JR_REPLY_ERROR {
            // JR_EAUTH with the server's error reply (a refused handshake).
            // SAFETY: as above; the bytes are copied before return.
            let text = String::from_utf8_lossy(unsafe { raw_bytes(r) }).into_owned();
            return Err(Error::with_detail(status, text));
        }
        return Err(Error::from_code(status));
    }
    // SAFETY: the caller guarantees r.
    unsafe { Reply::from_raw(r) }.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_text() {
        let r = Reply::Array(vec![
            Reply::Bulk(b"hello".to_vec()),
            Reply::Bulk(vec![0xff, 0, b'a']),
            Reply::Integer(3),
            Reply::Nil,
        ]);
        assert_eq!(
            format!("{r:?}"),
            r#"Array([Bulk("hello"), Bulk(b"\xff\x00a"), Integer(3), Nil])"#
        );
    }
}
