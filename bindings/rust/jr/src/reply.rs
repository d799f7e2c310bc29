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
///
/// With `protocol` 3 ([`Options::protocol`](crate::Options::protocol)) the
/// server's RESP3 types arrive as `Map`, `Set`, `Double`, `Bool`,
/// `BigNumber` and `Verbatim`; a RESP2 connection never gives them.
/// Attributes are skipped by libjr. Equality compares a `Double` by its bits
/// (so `NaN == NaN` and `0.0 != -0.0`), which keeps `Eq` lawful.
#[derive(Clone)]
pub enum Reply {
    /// A bulk string (binary).
    Bulk(Vec<u8>),
    /// A status reply (`+OK`).
    Status(String),
    Integer(i64),
    /// A null bulk string or array (e.g. GET on a missing key), RESP3's null.
    Nil,
    Array(Vec<Reply>),
    /// An error element inside an array.
    Error(String),
    /// RESP3 map (`HGETALL`, `CONFIG GET`...): key, value pairs in the
    /// server's order.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set (`SMEMBERS`...).
    Set(Vec<Reply>),
    /// RESP3 double (`ZSCORE`, `INCRBYFLOAT`...), `inf`, `-inf` and `nan`
    /// included.
    Double(f64),
    /// RESP3 boolean.
    Bool(bool),
    /// RESP3 big number, as its decimal digits (with a `-` if negative).
    BigNumber(String),
    /// RESP3 verbatim string: its 3-letter format (`"txt"`, `"mkd"`) and text.
    Verbatim {
        format: String,
        text: String,
    },
    /// RESP3 push. Never a command's reply (libjr hands pushes to their
    /// handlers); here for completeness.
    Push(Vec<Reply>),
}

impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        use Reply::*;
        match (self, other) {
            (Bulk(a), Bulk(b)) => a == b,
            (Status(a), Status(b)) | (Error(a), Error(b)) | (BigNumber(a), BigNumber(b)) => a == b,
            (Integer(a), Integer(b)) => a == b,
            (Nil, Nil) => true,
            (Array(a), Array(b)) | (Set(a), Set(b)) | (Push(a), Push(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Double(a), Double(b)) => a.to_bits() == b.to_bits(),
            (Bool(a), Bool(b)) => a == b,
            (
                Verbatim { format, text },
                Verbatim {
                    format: f2,
                    text: t2,
                },
            ) => format == f2 && text == t2,
            _ => false,
        }
    }
}

impl Eq for Reply {}

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
            Reply::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Reply::Set(a) => f.debug_tuple("Set").field(a).finish(),
            Reply::Double(d) => f.debug_tuple("Double").field(d).finish(),
            Reply::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Reply::BigNumber(n) => f.debug_tuple("BigNumber").field(n).finish(),
            Reply::Verbatim { format, text } => f
                .debug_struct("Verbatim")
                .field("format", format)
                .field("text", text)
                .finish(),
            Reply::Push(a) => f.debug_tuple("Push").field(a).finish(),
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
            Reply::Map(_) => "a map",
            Reply::Set(_) => "a set",
            Reply::Double(_) => "a double",
            Reply::Bool(_) => "a boolean",
            Reply::BigNumber(_) => "a big number",
            Reply::Verbatim { .. } => "a verbatim string",
            Reply::Push(_) => "a push",
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
                sys::JR_REPLY_ARRAY => Reply::Array(Reply::elements(r)),
                sys::JR_REPLY_SET => Reply::Set(Reply::elements(r)),
                sys::JR_REPLY_PUSH => Reply::Push(Reply::elements(r)),
                sys::JR_REPLY_MAP => {
                    // Keys and values alternate: key i at 2i, its value at 2i+1.
                    let n = sys::jr_reply_len(r) / 2;
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push((
                            Reply::copy(sys::jr_reply_element(r, 2 * i)),
                            Reply::copy(sys::jr_reply_element(r, 2 * i + 1)),
                        ));
                    }
                    Reply::Map(v)
                }
                sys::JR_REPLY_DOUBLE => Reply::Double(sys::jr_reply_double(r)),
                sys::JR_REPLY_BOOL => Reply::Bool(sys::jr_reply_integer(r) != 0),
                sys::JR_REPLY_BIGNUM => {
                    Reply::BigNumber(String::from_utf8_lossy(raw_bytes(r)).into())
                }
                sys::JR_REPLY_VERB => {
                    let f = sys::jr_reply_verb_format(r);
                    Reply::Verbatim {
                        format: if f.is_null() {
                            String::new()
                        } else {
                            CStr::from_ptr(f).to_string_lossy().into_owned()
                        },
                        text: String::from_utf8_lossy(raw_bytes(r)).into(),
                    }
                }
                // JR_REPLY_NIL; JR_REPLY_ATTR is never delivered (skipped).
                _ => Reply::Nil,
            }
        }
    }

    /// SAFETY: as copy; r is an ARRAY, SET or PUSH.
    unsafe fn elements(r: *const sys::jr_reply) -> Vec<Reply> {
        // SAFETY: see from_raw; indexes below jr_reply_len.
        unsafe {
            let n = sys::jr_reply_len(r);
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(Reply::copy(sys::jr_reply_element(r, i)));
            }
            v
        }
    }

    /// A double (RESP3), or an integer as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Reply::Double(d) => Some(*d),
            Reply::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
    /// A boolean (RESP3), or an integer as `!= 0`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Reply::Bool(b) => Some(*b),
            Reply::Integer(i) => Some(*i != 0),
            _ => None,
        }
    }
    /// The pairs of a map (RESP3).
    pub fn as_map(&self) -> Option<&[(Reply, Reply)]> {
        match self {
            Reply::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The bytes of a bulk string, status, big number or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Status(s) | Reply::BigNumber(s) | Reply::Verbatim { text: s, .. } => {
                Some(s.as_bytes())
            }
            _ => None,
        }
    }
    /// A bulk string, status, big number or verbatim string as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reply::Bulk(b) => std::str::from_utf8(b).ok(),
            Reply::Status(s) | Reply::BigNumber(s) | Reply::Verbatim { text: s, .. } => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(i) => Some(*i),
            _ => None,
        }
    }
    /// The elements of an array, a set (RESP3) or a push.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => Some(a),
            _ => None,
        }
    }
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Nil)
    }
    /// The bytes of a bulk string, status, big number or verbatim string,
    /// by value.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Status(s) | Reply::BigNumber(s) | Reply::Verbatim { text: s, .. } => {
                Some(s.into_bytes())
            }
            _ => None,
        }
    }
    /// The elements of an array, a set (RESP3) or a push, by value.
    pub fn into_array(self) -> Option<Vec<Reply>> {
        match self {
            Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => Some(a),
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
