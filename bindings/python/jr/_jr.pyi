# SPDX-License-Identifier: MIT
"""Types of the C extension jr._jr (bindings/python/_jr.c): libjr's client in
poll dispatch mode. Checked against the built module by mypy's stubtest
(test.sh)."""
import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeAlias, final

# A command argument as the extension encodes it (the jr package's default
# encoder, done in C): bytes and bytearray as they are, str as UTF-8, int in
# decimal, float as repr. bool and every other type raise ValueError.
_Arg: TypeAlias = bytes | bytearray | str | int | float
_Args: TypeAlias = tuple[_Arg, ...] | list[_Arg]

# What a completion delivers: the converted reply (bulk and status strings
# as bytes, integers as int, nil as None, arrays as lists of replies; error
# elements inside arrays as RedisReplyError instances; with protocol=3 also
# maps as dicts, sets as sets, doubles as float, booleans as bool, big
# numbers as int, verbatim strings as str), or an exception instance
# (RedisReplyError for an error reply, RedisError for a library error) as
# the value, never raised.
_Reply: TypeAlias = (bytes | int | float | str | None | list['_Reply'] | dict[Any, '_Reply']
                     | set[Any] | BaseException)

# Receives exactly one value: an asyncio.Future gets it as its result (left
# alone if cancelled meanwhile); anything else is called with it.
_Target: TypeAlias = asyncio.Future[Any] | Callable[[_Reply], object]

# Pub/sub and MONITOR: called as callback(status, value): status 0 with a
# message, SUB_LOST / SUB_RESUBSCRIBED with None, a negative code with a
# RedisError; ECLOSED is the last call.
_MessageCallback: TypeAlias = Callable[[int, _Reply], object]

OK: Final[int]
EINVAL: Final[int]
ENOMEM: Final[int]
ECLOSED: Final[int]
ECONNECT: Final[int]
ECONNLOST: Final[int]
ETIMEDOUT: Final[int]
EQUEUETIMEOUT: Final[int]
EPROTO: Final[int]
ETOOBIG: Final[int]
EREFUSED: Final[int]
ECANCELED: Final[int]
EABANDONED: Final[int]
EAUTH: Final[int]
ESHUTDOWN: Final[int]
EMISUSE: Final[int]
ENOENT: Final[int]
EINTERNAL: Final[int]
EFULL: Final[int]
EDISCARDED: Final[int]
EWATCH: Final[int]
EPOOLTIMEOUT: Final[int]
ECROSSSLOT: Final[int]
ECLUSTER: Final[int]
EFORKED: Final[int]
ETLS: Final[int]
SUB_LOST: Final[int]
SUB_RESUBSCRIBED: Final[int]
LOG_ERROR: Final[int]
LOG_WARN: Final[int]
LOG_INFO: Final[int]
LOG_DEBUG: Final[int]
HEADER_VERSION: Final[str]


def _init(reply_error: type[BaseException], redis_error: type[BaseException],
          future: type[asyncio.Future[Any]], invalid_state: type[BaseException], /) -> None:
    """Hands the extension the exception classes and asyncio.Future."""


def strerror(code: int, /) -> str: ...
def err_name(code: int, /) -> str: ...
def err_unsent(code: int, /) -> bool: ...
def refusal_reason(name: bytes, /) -> str | None: ...
def version() -> str: ...
def options_describe() -> list[tuple[str, str, int, int, str, str]]:
    """libjr's option table (jr_options_describe): (name, type, min, max,
    default, doc) per key, in libjr's order."""


@final
class Client:
    """A libjr client in poll dispatch mode. options: (key, value) pairs of
    jr_options; connect_commands: commands run on every new connection."""

    def __init__(self, options: Sequence[tuple[str, int | str]] | None = ...,
                 connect_commands: Sequence[_Args] | None = ...) -> None: ...
    @property
    def closed(self) -> bool: ...
    # db -1: the client's default database. timeout: seconds, None for the
    # client's default. Returns the request id for cancel().
    def submit(self, db: int, args: _Args, target: _Target, timeout: float | None = ...,
               /) -> int: ...
    # Submits each command (as submit does); target gets the list of their
    # values once all completed (a refused command or bad arguments: that
    # exception as its value). Returns the request ids (0: not submitted).
    def submit_many(self, db: int, commands: Sequence[_Args], target: _Target,
                    timeout: float | None = ..., /) -> list[int]: ...
    def cancel(self, id: int, /) -> bool: ...
    def database(self, number: int, /) -> None: ...
    # target gets [[address, role], ...] (bytes each).
    def endpoints(self, target: _Target, /) -> None: ...
    def submit_all_masters(self, args: _Args, target: _Target, timeout: float | None = ...,
                           /) -> None: ...
    def submit_to(self, endpoint: str, args: _Args, target: _Target,
                  timeout: float | None = ..., /) -> None: ...
    def set_auth(self, username: str | None, password: str, /) -> None: ...
    def fileno(self) -> int: ...
    def dispatch(self, max: int = ..., /) -> int: ...
    def close(self) -> None: ...
    def multi(self, db: int, /) -> Multi: ...
    def watch(self, db: int, keys: _Args, /) -> Watch: ...
    def sub(self, callback: _MessageCallback, /) -> Sub: ...
    def monitor(self, callback: _MessageCallback, /) -> Monitor: ...
    # libjr's log lines, queued by its loop thread (which never takes the
    # GIL): an eventfd readable when some wait; logs() takes them as
    # (level, event, endpoint, text); set_log_level(n) keeps levels <= n
    # (1 error, 2 warn, 3 info, 4 debug; 0 none).
    def log_fileno(self) -> int: ...
    def logs(self) -> list[tuple[int, int, str, str]]: ...
    def set_log_level(self, level: int, /) -> None: ...
    # jr_client_stats / jr_client_endpoint_stats as dicts of counters.
    def stats(self) -> dict[str, int]: ...
    def endpoint_stats(self) -> list[dict[str, Any]]: ...
    # ns; None before any completion, or in the histogram's open last bucket.
    def latency(self, percentile: float, /) -> int | None: ...
    def latency_buckets(self) -> list[tuple[int | None, int]]: ...
    def stats_text(self) -> str: ...


@final
class Multi:
    """A MULTI/EXEC block (made by Client.multi or Watch.multi)."""

    @property
    def open(self) -> bool: ...
    def add(self, args: _Args, target: _Target, /) -> None: ...
    def exec(self, target: _Target | None = ..., timeout: float | None = ..., /) -> None: ...
    def discard(self) -> None: ...


@final
class Watch:
    """WATCH keys on a dedicated connection (made by Client.watch)."""

    @property
    def open(self) -> bool: ...
    def submit(self, args: _Args, target: _Target, timeout: float | None = ..., /) -> None: ...
    def multi(self) -> Multi: ...
    def close(self) -> None: ...


@final
class Sub:
    """A pub/sub subscriber (made by Client.sub). kind: 0 channels, 1
    patterns, 2 sharded channels."""

    @property
    def open(self) -> bool: ...
    def subscribe(self, kind: int, names: _Args, /) -> None: ...
    def unsubscribe(self, kind: int, names: _Args, /) -> None: ...
    def ping(self, text: bytes | None = ..., /) -> None: ...
    def close(self) -> None: ...


@final
class Monitor:
    """A MONITOR stream (made by Client.monitor)."""

    @property
    def open(self) -> bool: ...
    def close(self) -> None: ...
