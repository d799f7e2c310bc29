// SPDX-License-Identifier: MIT
//! Typed replies: [`FromReply`], as redis-rs's `FromRedisValue`.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use crate::error::{Error, Result};
use crate::reply::Reply;

/// A type a [`Reply`] converts to: `let v: Option<String> =
/// client.call_as(&["GET", "k"])?` (blocking), `client.get("k").await?`
/// (feature `tokio`), or `reply.convert::<T>()`.
///
/// | type | from |
/// | --- | --- |
/// | `Reply` | anything |
/// | `()` | anything but an error |
/// | `Option<T>` | `Nil` as `None`, else `T` |
/// | `String`, `Vec<u8>` | a bulk string, status, verbatim string or big number (a `String` must be UTF-8), an integer or double as its digits |
/// | `i64`, `u64`, `i32`, ... | an integer, a boolean, a big number or text of digits (`GET` of a counter) |
/// | `f64` | a double, an integer, or text (`"3.5"`, `"inf"`) |
/// | `bool` | a boolean, an integer (0 is false), or text `"0"` / `"1"` |
/// | `Vec<T>` | an array, set or push (each element as `T`); `Nil` as empty |
/// | `HashSet<T>`, `BTreeSet<T>` | a set or an array |
/// | `HashMap<K, V>`, `BTreeMap<K, V>` | a map (RESP3), or a flat array of key, value, key, value (`HGETALL` in RESP2) |
/// | `(A, B)`, `(A, B, C)` | an array of exactly 2 or 3 |
///
/// An error element (inside an array) is `Err(Error::Server(..))`; a reply of
/// another shape is `Err(Error::Conversion(..))` naming both.
pub trait FromReply: Sized {
    fn from_reply(reply: Reply) -> Result<Self>;
}

/// The conversion error: what was asked, what came.
pub(crate) fn mismatch<T>(want: &str, got: &Reply) -> Result<T> {
    if let Reply::Error(m) = got {
        return Err(Error::Server(m.clone()));
    }
    Err(Error::Conversion(format!(
        "cannot read {} as {want}",
        got.kind_name()
    )))
}

impl FromReply for Reply {
    fn from_reply(reply: Reply) -> Result<Self> {
        Ok(reply)
    }
}

impl FromReply for () {
    fn from_reply(reply: Reply) -> Result<Self> {
        match reply {
            Reply::Error(m) => Err(Error::Server(m)),
            _ => Ok(()),
        }
    }
}

impl<T: FromReply> FromReply for Option<T> {
    fn from_reply(reply: Reply) -> Result<Self> {
        match reply {
            Reply::Nil => Ok(None),
            r => T::from_reply(r).map(Some),
        }
    }
}

/// The text of a reply that has one (bulk, status, verbatim, and numbers
/// as digits).
fn text_of(reply: Reply) -> std::result::Result<Vec<u8>, Reply> {
    match reply {
        Reply::Bulk(b) => Ok(b),
        Reply::Status(s) | Reply::BigNumber(s) | Reply::Verbatim { text: s, .. } => {
            Ok(s.into_bytes())
        }
        Reply::Integer(i) => Ok(i.to_string().into_bytes()),
        Reply::Double(d) => Ok(d.to_string().into_bytes()),
        r => Err(r),
    }
}

impl FromReply for Vec<u8> {
    fn from_reply(reply: Reply) -> Result<Self> {
        text_of(reply).or_else(|r| mismatch("Vec<u8>", &r))
    }
}

impl FromReply for String {
    fn from_reply(reply: Reply) -> Result<Self> {
        let b = text_of(reply).or_else(|r| mismatch("String", &r))?;
        String::from_utf8(b).map_err(|_| {
            Error::Conversion("cannot read a bulk string that is not UTF-8 as String".into())
        })
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_reply(reply: Reply) -> Result<Self> {
                let want = stringify!($t);
                match reply {
                    Reply::Integer(i) => <$t>::try_from(i).map_err(|_| {
                        Error::Conversion(format!("{i} is out of the range of {want}"))
                    }),
                    Reply::Bool(b) => Ok(<$t>::from(b)),
                    r @ Reply::Double(_) => mismatch(want, &r),
                    r => {
                        let b = text_of(r).or_else(|r| mismatch(want, &r))?;
                        std::str::from_utf8(&b)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(|| Error::Conversion(format!(
                                "cannot read {:?} as {want}",
                                String::from_utf8_lossy(&b)
                            )))
                    }
                }
            }
        }
    )*};
}
integers!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);

impl FromReply for f64 {
    fn from_reply(reply: Reply) -> Result<Self> {
        match reply {
            Reply::Integer(i) => Ok(i as f64),
            Reply::Double(d) => Ok(d),
            r => {
                let b = text_of(r).or_else(|r| mismatch("f64", &r))?;
                std::str::from_utf8(&b)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| {
                        Error::Conversion(format!(
                            "cannot read {:?} as f64",
                            String::from_utf8_lossy(&b)
                        ))
                    })
            }
        }
    }
}

impl FromReply for bool {
    fn from_reply(reply: Reply) -> Result<Self> {
        match reply {
            Reply::Integer(i) => Ok(i != 0),
            Reply::Bool(b) => Ok(b),
            Reply::Bulk(b) if b == b"0" || b == b"1" => Ok(b == b"1"),
            r => mismatch("bool", &r),
        }
    }
}

impl<T: FromReply> FromReply for Vec<T> {
    fn from_reply(reply: Reply) -> Result<Self> {
        match reply {
            Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => {
                a.into_iter().map(T::from_reply).collect()
            }
            Reply::Nil => Ok(Vec::new()),
            r => mismatch("Vec", &r),
        }
    }
}

/// Key, value pairs of a map or a flat array.
fn pairs<K: FromReply, V: FromReply>(reply: Reply, want: &str) -> Result<Vec<(K, V)>> {
    match reply {
        Reply::Map(m) => m
            .into_iter()
            .map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?)))
            .collect(),
        Reply::Array(a) if a.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(a.len() / 2);
            let mut it = a.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((K::from_reply(k)?, V::from_reply(v)?));
            }
            Ok(out)
        }
        Reply::Array(_) => Err(Error::Conversion(format!(
            "cannot read an array of odd length as {want}"
        ))),
        Reply::Nil => Ok(Vec::new()),
        r => mismatch(want, &r),
    }
}

impl<K: FromReply + Eq + Hash, V: FromReply, S: BuildHasher + Default> FromReply
    for HashMap<K, V, S>
{
    fn from_reply(reply: Reply) -> Result<Self> {
        Ok(pairs(reply, "HashMap")?.into_iter().collect())
    }
}

impl<T: FromReply + Eq + Hash, S: BuildHasher + Default> FromReply for HashSet<T, S> {
    fn from_reply(reply: Reply) -> Result<Self> {
        Ok(Vec::<T>::from_reply(reply)?.into_iter().collect())
    }
}

impl<T: FromReply + Ord> FromReply for BTreeSet<T> {
    fn from_reply(reply: Reply) -> Result<Self> {
        Ok(Vec::<T>::from_reply(reply)?.into_iter().collect())
    }
}

impl<K: FromReply + Ord, V: FromReply> FromReply for BTreeMap<K, V> {
    fn from_reply(reply: Reply) -> Result<Self> {
        Ok(pairs(reply, "BTreeMap")?.into_iter().collect())
    }
}

macro_rules! tuples {
    ($($n:literal: $($t:ident),*;)*) => {$(
        impl<$($t: FromReply),*> FromReply for ($($t,)*) {
            fn from_reply(reply: Reply) -> Result<Self> {
                match reply {
                    Reply::Array(a) if a.len() == $n => {
                        let mut it = a.into_iter();
                        Ok(($($t::from_reply(it.next().expect("length checked"))?,)*))
                    }
                    r => mismatch(concat!("a tuple of ", $n), &r),
                }
            }
        }
    )*};
}
tuples! {
    2: A, B;
    3: A, B, C;
    4: A, B, C, D;
}

impl Reply {
    /// This reply as a `T` (see [`FromReply`]):
    /// `let v: Option<String> = reply.convert()?`.
    pub fn convert<T: FromReply>(self) -> Result<T> {
        T::from_reply(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn conversions() {
        assert_eq!(
            bulk("hi").convert::<Option<String>>(),
            Ok(Some("hi".into()))
        );
        assert_eq!(Reply::Nil.convert::<Option<String>>(), Ok(None));
        assert_eq!(bulk("42").convert::<i64>(), Ok(42));
        assert_eq!(Reply::Integer(7).convert::<u16>(), Ok(7));
        assert_eq!(Reply::Integer(7).convert::<String>(), Ok("7".into()));
        assert!(Reply::Integer(-1).convert::<u32>().is_err());
        assert_eq!(bulk("2.5").convert::<f64>(), Ok(2.5));
        assert_eq!(Reply::Integer(1).convert::<bool>(), Ok(true));
        assert_eq!(Reply::Status("OK".into()).convert::<()>(), Ok(()));
        assert_eq!(
            Reply::Array(vec![bulk("a"), Reply::Nil]).convert::<Vec<Option<String>>>(),
            Ok(vec![Some("a".into()), None])
        );
        let h: HashMap<String, i64> =
            Reply::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")])
                .convert()
                .unwrap();
        assert_eq!((h["a"], h["b"]), (1, 2));
        let t: (String, i64) = Reply::Array(vec![bulk("x"), Reply::Integer(3)])
            .convert()
            .unwrap();
        assert_eq!(t, ("x".into(), 3));
        // Errors say what was asked and what came; error elements stay
        // server errors.
        let e = Reply::Array(vec![]).convert::<String>().unwrap_err();
        assert_eq!(
            e,
            Error::Conversion("cannot read an array as String".into())
        );
        let e = Reply::Array(vec![Reply::Error("ERR x".into())])
            .convert::<Vec<String>>()
            .unwrap_err();
        assert_eq!(e, Error::Server("ERR x".into()));
        assert!(Reply::Bulk(vec![0xff]).convert::<String>().is_err());
        assert!(bulk("x").convert::<i64>().is_err());
        assert!(Reply::Array(vec![bulk("a")])
            .convert::<HashMap<String, String>>()
            .is_err());
        // RESP3 types.
        let m = Reply::Map(vec![(bulk("a"), Reply::Integer(1))]);
        let m: BTreeMap<String, i64> = m.convert().unwrap();
        assert_eq!(m["a"], 1);
        assert_eq!(Reply::Double(1.5).convert::<f64>(), Ok(1.5));
        assert_eq!(Reply::Double(1.5).convert::<String>(), Ok("1.5".into()));
        assert!(Reply::Double(1.5).convert::<i64>().is_err());
        assert_eq!(Reply::Bool(true).convert::<bool>(), Ok(true));
        assert_eq!(Reply::Bool(true).convert::<i64>(), Ok(1));
        let big = Reply::BigNumber("123456789012345678901234567890".into());
        assert_eq!(
            big.clone().convert::<i128>(),
            Ok(123456789012345678901234567890)
        );
        assert!(big.convert::<i64>().is_err());
        let v = Reply::Verbatim {
            format: "txt".into(),
            text: "hi".into(),
        };
        assert_eq!(v.convert::<String>(), Ok("hi".into()));
        let s: HashSet<String> = Reply::Set(vec![bulk("x"), bulk("y")]).convert().unwrap();
        assert!(s.contains("x") && s.len() == 2);
    }
}
