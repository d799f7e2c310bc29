// SPDX-License-Identifier: MIT
//! Statistics (`jr_client_stats`, `jr_client_endpoint_stats`), the latency
//! histogram (`jr_client_latency*`) and the Prometheus text
//! (`jr_client_stats_text`). Every call is cheap and allowed anywhere,
//! callbacks included: libjr's counters are written by its loop thread
//! alone and read without a lock.
use std::ffi::{c_char, CStr};
use std::mem::size_of;
use std::ptr;
use std::time::Duration;

use jr_sys as sys;

use crate::client::Client;
use crate::error::{check, Result};

/// A client's counters (`jr_stats`), read at one moment each (a struct
/// read while commands run is not one instant across its fields).
///
/// A "request" is a command the application submitted; libjr's own commands
/// (handshake, probes, UNWATCH) are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests the loop thread has taken in.
    pub submitted: u64,
    /// Requests completed (each exactly once).
    pub completed: u64,
    /// Completed with a server error reply.
    pub server_errors: u64,
    /// Completed with a library error ([`Error::Library`](crate::Error::Library)).
    pub library_errors: u64,
    /// `ETIMEDOUT`, `EQUEUETIMEOUT`, `EPOOLTIMEOUT`.
    pub timeouts: u64,
    /// `ECANCELED`, `EABANDONED` (a dropped async future counts here).
    pub cancels: u64,
    /// `submitted - completed`, now.
    pub in_flight: u64,
    /// Accepted and not released: what `max_queued` counts.
    pub queued: u64,
    /// Bytes handed to the sockets (TLS: encrypted).
    pub bytes_written: u64,
    /// Bytes read from the sockets.
    pub bytes_read: u64,
    /// Connections that finished their handshake.
    pub connects: u64,
    /// Such connections lost or closed by libjr.
    pub disconnects: u64,
    /// MOVED and ASK replies received.
    pub redirects: u64,
    /// Client-side caching: 0 until libjr has it.
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_invalidations: u64,
    /// Failed connect attempts (each retry counts).
    pub connect_failures: u64,
}

/// The figures of one endpoint (`jr_endpoint_stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStats {
    /// `"host:port"`, `"[v6]:port"` or a unix socket path.
    pub endpoint: String,
    /// Its connections up now (shared, pooled, pub/sub, MONITOR).
    pub connections: u64,
    /// Requests completed by a connection to it.
    pub completed: u64,
    pub server_errors: u64,
    pub library_errors: u64,
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub connects: u64,
    pub disconnects: u64,
    pub connect_failures: u64,
    /// MOVED and ASK replies it sent.
    pub redirects: u64,
}

/// One bucket of the latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyBucket {
    /// Exclusive upper bound; `None` for the last bucket (no bound).
    pub upper: Option<Duration>,
    /// Requests whose latency fell in it.
    pub count: u64,
}

fn bound(ns: u64) -> Option<Duration> {
    (ns != u64::MAX).then(|| Duration::from_nanos(ns))
}

impl Client {
    /// The client's counters now.
    pub fn stats(&self) -> Result<Stats> {
        // SAFETY: jr_stats is plain data; all-zero is a valid value.
        let mut s: sys::jr_stats = unsafe { std::mem::zeroed() };
        s.size = size_of::<sys::jr_stats>();
        // SAFETY: valid handle, out points to a sized struct.
        check(unsafe { sys::jr_client_stats(self.raw.as_ptr(), &mut s) })?;
        Ok(Stats {
            submitted: s.submitted,
            completed: s.completed,
            server_errors: s.server_errors,
            library_errors: s.library_errors,
            timeouts: s.timeouts,
            cancels: s.cancels,
            in_flight: s.in_flight,
            queued: s.queued,
            bytes_written: s.bytes_written,
            bytes_read: s.bytes_read,
            connects: s.connects,
            disconnects: s.disconnects,
            redirects: s.redirects,
            cache_hits: s.cache_hits,
            cache_misses: s.cache_misses,
            cache_invalidations: s.cache_invalidations,
            connect_failures: s.connect_failures,
        })
    }

    /// The figures of every endpoint libjr has tried, in the order it first
    /// tried each (an endpoint keeps its place while the client lives).
    pub fn endpoint_stats(&self) -> Result<Vec<EndpointStats>> {
        let mut out = Vec::new();
        for i in 0.. {
            // SAFETY: plain data; all-zero is valid (a null endpoint).
            let mut e: sys::jr_endpoint_stats = unsafe { std::mem::zeroed() };
            e.size = size_of::<sys::jr_endpoint_stats>();
            // SAFETY: valid handle and sized out struct.
            let rc = unsafe { sys::jr_client_endpoint_stats(self.raw.as_ptr(), i, &mut e) };
            if rc == sys::JR_ENOENT {
                break;
            }
            check(rc)?;
            out.push(EndpointStats {
                endpoint: text(e.endpoint),
                connections: e.connections,
                completed: e.completed,
                server_errors: e.server_errors,
                library_errors: e.library_errors,
                bytes_written: e.bytes_written,
                bytes_read: e.bytes_read,
                connects: e.connects,
                disconnects: e.disconnects,
                connect_failures: e.connect_failures,
                redirects: e.redirects,
            });
        }
        Ok(out)
    }

    /// The latency (submit to completion) below which `percentile` percent
    /// of the requests completed (0..=100; 50 is the median), as the upper
    /// bound of its histogram bucket: at most 25% above the true value.
    /// `Ok(None)` before any request completed; `Ok(Some(Duration::MAX))`
    /// when it falls in the last, unbounded bucket. `EINVAL` for a
    /// percentile outside 0..=100.
    pub fn latency(&self, percentile: f64) -> Result<Option<Duration>> {
        let mut ns = 0u64;
        // SAFETY: valid handle and out pointer.
        match unsafe { sys::jr_client_latency(self.raw.as_ptr(), percentile, &mut ns) } {
            sys::JR_ENOENT => Ok(None),
            rc => check(rc).map(|_| Some(bound(ns).unwrap_or(Duration::MAX))),
        }
    }

    /// The latency histogram: log-spaced buckets (four per power of two from
    /// 1 µs), each with its upper bound and count.
    pub fn latency_buckets(&self) -> Result<Vec<LatencyBucket>> {
        let mut out = Vec::new();
        for i in 0.. {
            let (mut upper, mut count) = (0u64, 0u64);
            // SAFETY: valid handle and out pointers.
            let rc = unsafe {
                sys::jr_client_latency_bucket(self.raw.as_ptr(), i, &mut upper, &mut count)
            };
            if rc == sys::JR_ENOENT {
                break;
            }
            check(rc)?;
            out.push(LatencyBucket {
                upper: bound(upper),
                count,
            });
        }
        Ok(out)
    }

    /// The statistics in the Prometheus text exposition format (0.0.4):
    /// `jr_*` metrics, per-endpoint series labelled `endpoint="host:port"`,
    /// the histogram `jr_request_duration_seconds`. Serve it as it is.
    pub fn stats_text(&self) -> Result<String> {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let p = if buf.is_empty() {
                ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast::<c_char>()
            };
            // SAFETY: valid handle; p is null with len 0 or has buf.len() bytes.
            let n = unsafe { sys::jr_client_stats_text(self.raw.as_ptr(), p, buf.len()) };
            if n < 0 {
                check(n as i32)?;
            }
            let n = usize::try_from(n).expect("non-negative");
            if n < buf.len() {
                buf.truncate(n);
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
            // Cut (or the first call): room for the text, its NUL and what
            // a request completing meanwhile adds.
            buf = vec![0; n + 1 + 1024];
        }
    }
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: libjr's NUL-terminated text, valid until jr_client_free.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}
