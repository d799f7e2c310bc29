# SPDX-License-Identifier: MIT
"""Observability: libjr's statistics as Python values, and libjr's log lines
handed to the ``logging`` module (logger ``jr``)."""
import dataclasses
import logging
from typing import Any

from ._native import ext

__all__ = ['Stats', 'EndpointStats', 'logger']

logger = logging.getLogger('jr')
# A library's logger: silent unless the application configures logging
# (no "No handlers could be found", no lastResort output to stderr).
logger.addHandler(logging.NullHandler())

# libjr's log levels (jr.h JR_LOG_*) -> logging's.
_LEVELS = {ext.LOG_ERROR: logging.ERROR, ext.LOG_WARN: logging.WARNING,
           ext.LOG_INFO: logging.INFO, ext.LOG_DEBUG: logging.DEBUG}


def _jr_level() -> int:
    """The most detailed libjr level the ``jr`` logger lets through (0: none)."""
    for level in (ext.LOG_DEBUG, ext.LOG_INFO, ext.LOG_WARN, ext.LOG_ERROR):
        if logger.isEnabledFor(_LEVELS[level]):
            return level
    return 0


def _emit(rows: list[tuple[int, int, str, str]]) -> None:
    """Hands libjr's log lines (Client.logs()) to the ``jr`` logger. Each
    record has ``jr_event`` (libjr's JR_EVENT_* code) and ``jr_endpoint`` (an
    endpoint, a component such as ``'cluster'`` or ``'pool'``, or ``''``)."""
    for level, event, endpoint, text in rows:
        py_level = _LEVELS.get(level, logging.WARNING)
        if logger.isEnabledFor(py_level):
            logger.log(py_level, '%s: %s' if endpoint else '%s%s', endpoint, text,
                       extra={'jr_event': event, 'jr_endpoint': endpoint})


@dataclasses.dataclass(frozen=True)
class EndpointStats:
    """The figures of one endpoint (jr_endpoint_stats): ``endpoint`` is
    libjr's text ("host:port", "[v6]:port" or a unix socket path)."""
    endpoint: str
    connections: int = 0  # up now (shared, pooled, pub/sub, MONITOR)
    completed: int = 0  # requests completed by a connection to it
    server_errors: int = 0
    library_errors: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    redirects: int = 0  # MOVED and ASK replies it sent


@dataclasses.dataclass(frozen=True)
class Stats:
    """A snapshot of a multiplexer's statistics (jr_client_stats; jr.h says
    what each counter counts). Each counter is exact when read; the snapshot
    is not one instant across fields while commands run. A "request" is a
    command the application sent (not libjr's own: handshakes, probes).

    ``latency_*``: seconds from submit to completion at that percentile (the
    upper bound of libjr's histogram bucket, at most 25% above the true
    value), None before any request completed (or above the last bucket,
    137 s)."""
    submitted: int = 0
    completed: int = 0
    server_errors: int = 0  # error replies (RedisReplyError)
    library_errors: int = 0  # RedisError
    timeouts: int = 0
    cancels: int = 0
    in_flight: int = 0
    queued: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    connects: int = 0
    disconnects: int = 0
    redirects: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    cache_invalidations: int = 0
    connect_failures: int = 0
    endpoints: tuple[EndpointStats, ...] = ()
    latency_p50: float | None = None
    latency_p90: float | None = None
    latency_p99: float | None = None
    latency_p999: float | None = None


_STATS_FIELDS = frozenset(f.name for f in dataclasses.fields(Stats))
_ENDPOINT_FIELDS = frozenset(f.name for f in dataclasses.fields(EndpointStats))


def _seconds(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e9


def _stats(c: Any) -> Stats:
    """A Stats of an open _jr.Client (counters a newer libjr adds and this
    package does not know are left out)."""
    counters = {k: v for k, v in c.stats().items() if k in _STATS_FIELDS}
    endpoints = tuple(EndpointStats(**{k: v for k, v in e.items() if k in _ENDPOINT_FIELDS})
                      for e in c.endpoint_stats())
    return Stats(**counters, endpoints=endpoints,
                 latency_p50=_seconds(c.latency(50)), latency_p90=_seconds(c.latency(90)),
                 latency_p99=_seconds(c.latency(99)), latency_p999=_seconds(c.latency(99.9)))
