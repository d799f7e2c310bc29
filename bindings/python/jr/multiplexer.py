# SPDX-License-Identifier: MIT
"""The asyncio API of the seed (justredis MultiplexerPool era) on libjr.

One MultiplexerPool owns one libjr client in poll dispatch mode. Its
completion descriptor is watched with ``loop.add_reader``; every ready
completion is run by ``Client.dispatch`` on the event-loop thread and sets the
result of an asyncio future directly (no thread hop per reply).
"""
import asyncio
import collections
import os
import urllib.parse
import warnings
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeAlias, TypeVar

from . import _jr
from ._native import error, ext
from .encoding import Decoder, Encoder, utf8_encode
from .exceptions import RedisError, RedisReplyError
from .observe import Stats, _emit, _jr_level, _stats
from .options import _option

__all__ = ['MultiplexerPool', 'Multiplexer', 'Database', 'Command', 'Multi', 'Watch', 'PubSub',
           'Monitor']

_CancelledError = asyncio.CancelledError

# A node: (host, port), or a unix socket path.
Address: TypeAlias = tuple[str, int] | str
# The configuration: a dict (see README), a list of endpoints, one endpoint, or None.
Configuration: TypeAlias = Mapping[str, Any] | Iterable[Any] | str | bytes | None
_Options: TypeAlias = list[tuple[str, int | str]]


def _encode_args(args: tuple[Any, ...], encoder: Encoder) -> tuple[Any, ...]:
    # The default encoder runs inside the C extension (same rules).
    if encoder is utf8_encode:
        return args
    return tuple([encoder(a) for a in args])


def _finish(r: Any, decoder: Decoder | None, throw: bool) -> Any:
    if isinstance(r, BaseException):
        if throw:
            raise r
        return r
    return r if decoder is None else decoder(r)


# ---- Configuration ------------------------------------------------------------------------

def _endpoint_text(e: Any) -> tuple[str, Address]:
    """One seed endpoint -> (libjr "endpoint" text, what endpoints() reports)."""
    if isinstance(e, bytes):
        e = e.decode()
    if isinstance(e, str):
        if '/' in e:
            return e, e
        if e.startswith('['):
            host, _, port_text = e[1:].partition(']')
            port = int(port_text.lstrip(':') or 6379)
            return '[%s]:%d' % (host, port), (host, port)
        return _endpoint_text((e, 6379))
    if isinstance(e, (tuple, list)) and len(e) == 2:
        host = e[0].decode() if isinstance(e[0], bytes) else e[0]
        port = int(e[1])
        if ':' in host:
            return '[%s]:%d' % (host, port), (host, port)
        return '%s:%d' % (host, port), (host, port)
    raise ValueError('invalid endpoint %r: use "host", "/unix/path" or (host, port)' % (e,))


def _endpoint_list(value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)):
        return [value]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        return [value]
    return list(value)


def _seconds_ms(key: str, value: float | None) -> int:
    if value is None:
        return 0
    ms = int(round(float(value) * 1000))
    if ms < 0:
        raise ValueError('%s must not be negative' % key)
    return max(ms, 1) if value > 0 else 0


def _url_database(url: str) -> int:
    """The database a redis[s]://, valkey[s]://, redis[s]-sentinel:// or
    unix:// URL selects (0 if none)."""
    u = urllib.parse.urlsplit(url)
    db = 0
    path = u.path.strip('/')
    if u.scheme in ('redis', 'rediss', 'valkey', 'valkeys', 'redis-sentinel',
                    'rediss-sentinel') and path.isdigit():
        db = int(path)
    for k, v in urllib.parse.parse_qsl(u.query):
        if k == 'db' and v.isdigit():
            db = int(v)
    return db


_TLS_PATHS = ('tls_ca_file', 'tls_ca_dir', 'tls_cert_file', 'tls_key_file')

# The configuration keys (the seed's, and libjr's TLS keys; README). Each maps
# to libjr option keys in _parse_configuration; tests/test_options.py checks
# that mapping against libjr's option table.
_CONFIGURATION_KEYS = frozenset({
    'endpoints', 'url', 'password', 'username', 'clientname', 'database', 'connecttimeout',
    'connectretry', 'sockettimeout', 'commandtimeout', 'recvbuffersize', 'tcpkeepalive',
    'tcpnodelay', 'maxconnections', 'maxqueued', 'connectionhandler', 'tls', 'tls_verify',
    *_TLS_PATHS, 'tls_server_name', 'sentinels', 'sentinelmaster', 'sentinelusername',
    'sentinelpassword', 'protocol', 'clientcache', 'clientcacheprefix', 'clientcachettl'})

_SENTINEL_KEYS = {'sentinelmaster': 'sentinel_master', 'sentinelusername': 'sentinel_username',
                  'sentinelpassword': 'sentinel_password'}


def _checked(key: str, jrkey: str, value: int | str) -> tuple[str, int | str]:
    """(jrkey, value); a number must be in libjr's range for jrkey (a
    ValueError naming the configuration key otherwise)."""
    if isinstance(value, int):
        o = _option(jrkey)
        if not o.min <= value <= o.max:
            raise ValueError('%s: %d is out of range (%d..%d)' % (key, value, o.min, o.max))
    return jrkey, value


def _parse_configuration(
        configuration: Configuration) -> tuple[_Options, list[tuple[bytes, ...]], int]:
    """Returns (libjr options as (key, value) pairs, connect commands, the
    configured database)."""
    conf: Mapping[str, Any]
    if configuration is None:
        conf = {}
    elif not isinstance(configuration, dict):  # a list of endpoints (or one)
        conf = {'endpoints': configuration}
    else:
        conf = configuration
    for key in conf:
        if key not in _CONFIGURATION_KEYS:
            raise ValueError('unknown configuration key %r' % (key,))
    options: _Options = []
    commands: list[tuple[bytes, ...]] = []
    database = 0
    url = conf.get('url')
    if url is not None:
        # First, so that explicit keys (tls, database, password...) override
        # what the URL says instead of being reset by it.
        if isinstance(url, bytes):
            url = url.decode()
        options.append(('url', url))
        database = _url_database(url)
    for key, value in conf.items():  # the caller's dict is not modified
        if key == 'endpoints':
            if value is None:
                continue
            for e in _endpoint_list(value):
                options.append(_checked(key, 'endpoint', _endpoint_text(e)[0]))
        elif key == 'url':
            pass  # handled above
        elif key in ('tls', 'tls_verify'):
            if value is not None:
                options.append(_checked(key, key, 1 if value else 0))
        elif key in _TLS_PATHS or key == 'tls_server_name':
            if value is None:
                continue
            if key in _TLS_PATHS:
                value = os.fspath(value)
            if isinstance(value, bytes):
                value = os.fsdecode(value)
            options.append(_checked(key, key, str(value)))
        elif key in ('password', 'username', 'clientname'):
            if value is None:
                continue
            if isinstance(value, bytes):
                value = value.decode()
            options.append(_checked(key, {'clientname': 'client_name'}.get(key, key), str(value)))
        elif key == 'sentinels':
            # Redis Sentinel: [(host, port), "host:port", "[v6]:port", ...]
            # (a bare host: port 26379); with sentinelmaster the master is
            # found through them and endpoints are ignored.
            if value is None:
                continue
            for e in [value] if isinstance(value, (str, bytes)) else value:
                if isinstance(e, bytes):
                    e = e.decode()
                if isinstance(e, (tuple, list)):
                    e = _endpoint_text(e)[0]
                options.append(_checked(key, 'sentinel', str(e)))
        elif key in _SENTINEL_KEYS:
            if value is None:
                continue
            if isinstance(value, bytes):
                value = value.decode()
            options.append(_checked(key, _SENTINEL_KEYS[key], str(value)))
        elif key == 'protocol':
            # libjr extra: 3 negotiates RESP3 (HELLO 3): typed replies (dict,
            # set, float, bool); needs a libjr built with hiredis >= 1.0.
            if value is not None:
                if type(value) is not int:
                    raise ValueError('protocol must be 2 or 3, not %r' % (value,))
                options.append(_checked(key, 'protocol', value))
        elif key == 'clientcache':
            # libjr extra: client-side caching (CLIENT TRACKING) in a cache of
            # this many bytes; 0 or None: off.
            if value is not None:
                if type(value) is not int:
                    raise ValueError('clientcache must be a number of bytes, not %r' % (value,))
                options.append(_checked(key, 'client_cache_bytes', value))
        elif key == 'clientcacheprefix':
            # Broadcast mode: only keys under these prefixes are cached.
            if value is None:
                continue
            for e in [value] if isinstance(value, (str, bytes)) else value:
                if isinstance(e, bytes):
                    e = e.decode()
                options.append(_checked(key, 'client_cache_prefix', str(e)))
        elif key == 'clientcachettl':
            if value is not None:  # seconds; 0: no age limit
                options.append(_checked(key, 'client_cache_ttl_ms', _seconds_ms(key, value)))
        elif key == 'database':
            if value is not None:
                database = int(value)
                options.append(_checked(key, 'database', database))
        elif key == 'connecttimeout':
            if value is not None:  # None: libjr's default
                options.append(_checked(key, 'connect_timeout_ms', _seconds_ms(key, value)))
        elif key == 'connectretry':
            if value is not None:
                options.append(_checked(key, 'connect_retry', int(value)))
        elif key == 'sockettimeout':
            options.append(_checked(key, 'socket_timeout_ms', _seconds_ms(key, value)))
        elif key == 'commandtimeout':
            options.append(_checked(key, 'command_timeout_ms', _seconds_ms(key, value)))
        elif key == 'recvbuffersize':
            if value is not None:
                options.append(_checked(key, 'recv_buffer_size', int(value)))
        elif key == 'tcpkeepalive':
            if value is True:  # on, with libjr's default idle time
                value = int(_option('tcp_keepalive_s').default)
            options.append(_checked(key, 'tcp_keepalive_s', int(value or 0)))
        elif key == 'tcpnodelay':
            if value is not None:  # None: libjr's default (on)
                options.append(_checked(key, 'tcp_nodelay', 1 if value else 0))
        elif key == 'maxconnections':
            if value is None:
                raise ValueError('maxconnections must be a positive number')
            options.append(_checked(key, 'max_connections', int(value)))
        elif key == 'maxqueued':
            options.append(_checked(key, 'max_queued', int(value)))
        elif key == 'connectionhandler':
            # The seed took a Connection factory class. libjr owns its
            # connections; what a handler is for (commands run on every new
            # connection) maps to libjr's connect commands: pass a list of
            # commands, e.g. [('CLIENT', 'SETINFO', 'LIB-NAME', 'app')].
            if value is None:
                continue
            if isinstance(value, (list, tuple)) and all(isinstance(c, (list, tuple))
                                                        for c in value):
                for cmd in value:
                    commands.append(tuple(utf8_encode(a) for a in cmd))
            else:
                warnings.warn('connectionhandler: a Connection class is not supported by libjr '
                              'and is ignored; pass a list of commands to run on every '
                              'connection instead', RuntimeWarning, stacklevel=4)
        else:  # in _CONFIGURATION_KEYS, without a branch here
            raise ValueError('unknown configuration key %r' % (key,))
    return options, commands, database


# ---- Node addresses ---------------------------------------------------------------------

def _address(text: str | bytes) -> Address:
    """libjr's node address ("host:port", "[v6addr]:port" or a unix socket
    path) -> what endpoints() reports: (host, port) or the path."""
    if isinstance(text, bytes):
        text = text.decode()
    if '/' in text:
        return text
    if text.startswith('['):
        host, _, port = text[1:].partition(']')
        return host, int(port.lstrip(':'))
    host, _, port = text.rpartition(':')
    return host, int(port)


def _server_text(server: Any) -> str:
    """A ``server=`` value -> libjr's endpoint text. Accepts what endpoints()
    returns ((host, port), a unix socket path), "host:port" and "host"."""
    if isinstance(server, bytes):
        server = server.decode()
    if isinstance(server, str) and '/' not in server and not server.startswith('['):
        host, sep, port = server.rpartition(':')
        if sep and host and ':' not in host and port.isdigit():
            return server
    try:
        return _endpoint_text(server)[0]
    except (ValueError, TypeError):
        raise ValueError('invalid server %r: use (host, port), "host:port" or "/unix/path"'
                         % (server,)) from None


_codes_by_name: dict[str, int] | None = None


def _node_value(value: Any) -> Any:
    """An element of an all-masters reply: a node's libjr failure arrives as
    an error reply "JR_E...: text" and becomes a RedisError with its code."""
    global _codes_by_name
    if type(value) is not RedisReplyError:
        return value
    name, sep, text = str(value).partition(': ')
    if not sep or not name.startswith('JR_E'):
        return value
    if _codes_by_name is None:
        _codes_by_name = {ext.err_name(c): c for c in range(-1, -128, -1)
                          if ext.err_name(c) != 'JR_E?'}
    code = _codes_by_name.get(name)
    if code is None:
        return value
    return error(text, code, ext.err_unsent(code))


_resp3: RedisError | bool | None = None


def resp3_available() -> bool:
    """Whether this libjr speaks RESP3 (``protocol: 3``): it does when it
    was built with hiredis >= 1.0."""
    global _resp3
    if _resp3 is None:
        # libjr has no capability query: a client with protocol=3 (lazy: it
        # connects to nothing) is refused with JR_EINVAL when it cannot.
        try:
            ext.Client([('protocol', 3), ('endpoint', '127.0.0.1:1')]).close()
            _resp3 = True
        except RedisError as e:
            if e.code != ext.EINVAL:
                raise
            _resp3 = e
    return _resp3 is True


def _check_resp3() -> None:
    if not resp3_available():
        e = _resp3
        assert isinstance(e, RedisError)
        raise error('protocol 3 (RESP3) is not available in this libjr (%s): use protocol 2, '
                    'or a libjr built with hiredis >= 1.0' % ext.version(), ext.EINVAL,
                    detail=e.detail)


# ---- Multiplexer ---------------------------------------------------------------------------

class MultiplexerPool:
    """The multiplexer: one shared pipelined connection per endpoint, plus a
    pool of dedicated connections (blocking commands, WATCH) and one
    subscription connection, all owned by libjr.

    ``configuration`` is a dict (see README), a list of endpoints, or None
    (127.0.0.1:6379). The client is created lazily inside the running event
    loop, on first use."""

    def __init__(self, configuration: Configuration = None) -> None:
        self._options, self._connect_commands, self._database = \
            _parse_configuration(configuration)
        default_ms = int(_option('command_timeout_ms').default)
        self._command_timeout: float | None = default_ms / 1000.0 if default_ms else None
        for key, value in self._options:
            if key == 'command_timeout_ms' and isinstance(value, int):
                self._command_timeout = value / 1000.0 if value else None
        if ('protocol', 3) in self._options:
            _check_resp3()
        self._c: _jr.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self._closed = False
        self._detected = False

    def _open(self) -> _jr.Client:
        if self._closed:
            raise error('Multiplexer closed', ext.ECLOSED)
        loop = asyncio.get_running_loop()
        c = ext.Client(self._options, self._connect_commands)
        c.set_log_level(_jr_level())
        _emit(c.logs())  # what libjr logged while making the client
        fd = c.fileno()
        loop.add_reader(fd, c.dispatch)
        # libjr's log lines wait in the extension (its loop thread never
        # takes the GIL); this reader hands them to the `jr` logger.
        loop.add_reader(c.log_fileno(), self._logs, c)
        self._loop, self._fd, self._c = loop, fd, c
        self._detected = False
        return c

    @staticmethod
    def _logs(c: _jr.Client) -> None:
        _emit(c.logs())
        c.set_log_level(_jr_level())  # follows the `jr` logger's level

    def _client_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop of the client (set by _open, which every caller ran)."""
        loop = self._loop
        assert loop is not None
        return loop

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes every connection. Pending commands complete with RedisError
        (ECLOSED if unsent, ESHUTDOWN if written); open transactions are
        discarded, watches released, pub/sub and monitor instances closed."""
        self._closed = True
        c, self._c = self._c, None
        if c is None:
            return
        self._remove_readers(c)
        c.close()
        _emit(c.logs())  # the lines of the close itself

    @property
    def closed(self) -> bool:
        return self._closed

    def __del__(self) -> None:
        # Forgotten without aclose(): free libjr's client (its loop thread and
        # sockets) instead of leaving it registered on the event loop.
        c = getattr(self, '_c', None)
        if c is not None:
            self._c = None
            self._remove_readers(c)
            try:
                c.close()
            except Exception:
                pass

    def _remove_readers(self, c: _jr.Client) -> None:
        try:
            if self._loop is not None and self._fd is not None:
                self._loop.remove_reader(self._fd)
                self._loop.remove_reader(c.log_fileno())
        except Exception:  # the loop may already be closed
            pass

    def stats(self) -> Stats:
        """The statistics (counters, per-endpoint figures, latency
        percentiles): see jr.Stats. All zero before the first command (the
        client is made on first use); RedisError ECLOSED after aclose()."""
        c = self._c
        if c is None:
            if self._closed:
                raise error('Multiplexer closed', ext.ECLOSED)
            return Stats()
        return _stats(c)

    def stats_text(self) -> str:
        """The statistics in the Prometheus text exposition format (0.0.4),
        to serve as they are (metric names start with ``jr_``; per-endpoint
        series carry ``endpoint="host:port"``). '' before the first command."""
        c = self._c
        if c is None:
            if self._closed:
                raise error('Multiplexer closed', ext.ECLOSED)
            return ''
        return c.stats_text()

    def latency(self, percentile: float) -> float | None:
        """Seconds from submit to completion at ``percentile`` (0..100), as
        the upper bound of libjr's histogram bucket (at most 25% above the
        true value); None before any request completed."""
        c = self._c
        if c is None:
            if self._closed:
                raise error('Multiplexer closed', ext.ECLOSED)
            return None
        ns = c.latency(percentile)
        return None if ns is None else ns / 1e9

    def database(self, number: int | None = None, encoder: Encoder | None = utf8_encode,
                 decoder: Decoder | None = None, server: Any = None) -> 'Database':
        """A view on database ``number`` (default: the configured
        ``database``, else 0). Views are cheap; libjr sends SELECT as needed.

        ``server``: run every command of the view on that one node, as given
        by ``endpoints()`` ((host, port) or a unix socket path; "host:port"
        works too), without following cluster redirections. Such a view uses
        the configured database and has no transactions.

        On a Redis Cluster (which has only database 0) a ``number`` other
        than 0 raises RedisError (code ECLUSTER) once the client knows it
        talks to a cluster; a view made before that fails each command
        with it, unsent."""
        if number is not None and (type(number) is not int or number < 0):
            raise error('invalid database number %r' % (number,), ext.EINVAL)
        if server is not None:
            if number is not None and number != self._database:
                raise error('a server= view runs on the configured database (%d), not %d'
                            % (self._database, number), ext.EINVAL)
            return Database(self, -1, encoder, decoder, _server_text(server))
        if number and self._c is not None:
            # A Redis Cluster has only database 0: once libjr knows it talks
            # to one, RedisError (ECLUSTER) now, as justredis does. Before
            # that, the view's commands fail with it, unsent.
            self._c.database(number)
        return Database(self, -1 if number is None else number, encoder, decoder)

    def pubsub(self, encoder: Encoder | None = utf8_encode,
               decoder: Decoder | None = None) -> 'PubSub':
        return PubSub(self, encoder, decoder)

    def monitor(self, decoder: Decoder | None = None) -> 'Monitor':
        """A MONITOR stream (libjr extra; the seed had none)."""
        return Monitor(self, decoder)

    def set_auth(self, username: str | bytes | None, password: str | bytes) -> None:
        """Rotates the credentials: every connection made from now on
        (reconnects, new pooled, pub/sub and cluster node connections) sends
        AUTH with these; connections already authenticated stay as they are.
        ``username`` None: password-only AUTH."""
        if isinstance(username, bytes):
            username = username.decode()
        if isinstance(password, bytes):
            password = password.decode()
        if password is None:
            raise ValueError('set_auth: a password is required')
        c = self._c
        if c is not None:
            c.set_auth(username, password)
        elif self._closed:
            raise error('Multiplexer closed', ext.ECLOSED)
        # The client may not exist yet (created on first use): it gets these.
        self._options = [o for o in self._options if o[0] not in ('username', 'password')]
        self._options += [('username', username or ''), ('password', password)]

    async def _client_detected(self) -> _jr.Client:
        """The client, once it knows whether it talks to a cluster. libjr
        decides that with the first *command* (CLUSTER SLOTS ahead of it);
        endpoints() and all-masters made before any command would see a
        cluster as a standalone server, so a PING goes first."""
        c = self._c
        if c is None:
            c = self._open()
        if not self._detected:
            fut = self._client_loop().create_future()
            c.submit(-1, ('PING',), fut)
            r = await fut
            if isinstance(r, RedisError) or getattr(r, 'code', None) == ext.EAUTH:
                raise r  # could not reach the server (or it refused us): nothing to describe
            if c is self._c:
                self._detected = True
        return c

    async def endpoints(self, roles: bool = False) -> list[Any]:
        """The nodes: (host, port) tuples (a unix socket path for a server on
        one). On a cluster every node, masters and replicas; on a standalone
        server the server (the first configured endpoint).

        ``roles=True``: a list of (address, role) pairs instead, role
        'master', 'replica' or 'standalone'."""
        c = await self._client_detected()
        fut = self._client_loop().create_future()
        c.endpoints(fut)
        r = await fut
        if isinstance(r, BaseException):
            raise r
        rows = [(_address(address), role.decode()) for address, role in r]
        return rows if roles else [address for address, _ in rows]

    async def run_commandreply_on_all_masters(self, *args: Any, encoder: Encoder | None = utf8_encode,
                                              decoder: Decoder | None = None,
                                              timeout: float | None = None) -> dict[Address, Any]:
        """Runs a command on every cluster master and returns
        {(host, port): reply}. A node's failure is its value, not raised: a
        RedisReplyError for an error reply, a RedisError for a library error
        (connection lost, timeout...). Raises RedisError (code ECLUSTER) on a
        standalone server."""
        args = _encode_args(args, encoder or utf8_encode)
        if not args:
            raise error('Empty command not allowed', ext.EINVAL)
        c = await self._client_detected()
        fut = self._client_loop().create_future()
        if timeout is None:
            c.submit_all_masters(args, fut)
        else:
            c.submit_all_masters(args, fut, timeout)
        r = await fut
        if isinstance(r, RedisError) and r.code == ext.ECLUSTER:
            raise error('not connected to a redis cluster', ext.ECLUSTER)
        if isinstance(r, BaseException):
            raise r
        out: dict[Address, Any] = {}
        for address, value in r:
            value = _node_value(value)
            if decoder is not None and not isinstance(value, BaseException):
                value = decoder(value)
            out[_address(address)] = value
        return out


class Multiplexer(MultiplexerPool):
    """Same as MultiplexerPool: libjr always pairs the shared connection with
    a pool of dedicated ones (maxconnections, default 10), so blocking
    commands and WATCH work here too."""


# ---- Commands ---------------------------------------------------------------------------------

class Command:
    """A sent command: ``await handle`` or ``await handle()`` gives its reply."""
    __slots__ = ('_fut', '_decoder', '_throw', '_client', '_id', '_ready')

    def __init__(self, fut: 'asyncio.Future[Any]', decoder: Decoder | None, throw: bool,
                 client: _jr.Client | None = None, rid: int | None = None,
                 ready: bool = True) -> None:
        self._fut = fut
        self._decoder = decoder
        self._throw = throw
        self._client = client
        self._id = rid
        self._ready = ready

    def __await__(self) -> Generator[Any, None, Any]:
        return self._result().__await__()

    def __call__(self) -> Awaitable[Any]:
        return self._result()

    def done(self) -> bool:
        return self._ready and self._fut.done()

    async def _result(self) -> Any:
        if not self._ready:
            raise error('Command is not finalized yet', ext.EMISUSE)
        fut = self._fut
        try:
            r = await fut
        except _CancelledError:
            if self._client is not None and self._id is not None and fut.cancelled():
                self._client.cancel(self._id)
            raise
        return _finish(r, self._decoder, self._throw)


class Database:
    """Commands for one database number (-1: the configured default), or for
    one chosen node (``server``, libjr's endpoint text)."""
    __slots__ = ('_mp', '_number', '_encoder', '_decoder', '_server')

    def __init__(self, mp: MultiplexerPool, number: int, encoder: Encoder | None,
                 decoder: Decoder | None, server: str | None = None) -> None:
        self._mp = mp
        self._number = number
        self._encoder = encoder or utf8_encode
        self._decoder = decoder
        self._server = server

    async def __aenter__(self) -> tuple[Callable[..., Awaitable['Command']],
                                        Callable[..., Awaitable[Any]],
                                        Callable[[], 'Multi'], Callable[..., 'Watch']]:
        return self.command, self.commandreply, self.multi, self.watch

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        pass

    async def command(self, *args: Any, encoder: Encoder | None = None,
                      decoder: Decoder | None = None, throw: bool = True,
                      timeout: float | None = None) -> Command:
        """Sends a command (pipelined) and returns its handle."""
        mp = self._mp
        c = mp._c
        if c is None:
            c = mp._open()
        args = _encode_args(args, encoder or self._encoder)
        fut = mp._client_loop().create_future()
        if self._server is not None:
            if timeout is None:
                c.submit_to(self._server, args, fut)
            else:
                c.submit_to(self._server, args, fut, timeout)
            return Command(fut, decoder or self._decoder, throw)
        if timeout is None:
            rid = c.submit(self._number, args, fut)
        else:
            rid = c.submit(self._number, args, fut, timeout)
        return Command(fut, decoder or self._decoder, throw, c, rid)

    async def commandreply(self, *args: Any, encoder: Encoder | None = None,
                           decoder: Decoder | None = None, throw: bool = True,
                           timeout: float | None = None) -> Any:
        """Sends a command and returns its reply."""
        mp = self._mp
        c = mp._c
        if c is None:
            c = mp._open()
        enc = encoder or self._encoder
        if enc is not utf8_encode:
            args = tuple([enc(a) for a in args])
        fut = mp._client_loop().create_future()
        rid: int | None
        if self._server is not None:
            if timeout is None:
                c.submit_to(self._server, args, fut)
            else:
                c.submit_to(self._server, args, fut, timeout)
            rid = None
        elif timeout is None:
            rid = c.submit(self._number, args, fut)
        else:
            rid = c.submit(self._number, args, fut, timeout)
        try:
            r = await fut
        except _CancelledError:
            if fut.cancelled() and rid is not None:
                c.cancel(rid)
            raise
        if isinstance(r, BaseException):
            if throw:
                raise r
            return r
        dec = decoder or self._decoder
        return r if dec is None else dec(r)

    async def commandreplies(self, commands: Iterable[Sequence[Any]], *,
                             encoder: Encoder | None = None, decoder: Decoder | None = None,
                             throw: bool = True, timeout: float | None = None) -> list[Any]:
        """libjr extra: sends many commands in one call into the extension
        (pipelined, like as many ``commandreply`` calls; not a transaction)
        and returns their replies in order once all have arrived. One
        future for the batch instead of one per command: the cheapest way
        to run many small commands from one task.

        Each command is a tuple or list of arguments. A command refused by
        libjr or with arguments the encoder rejects does not stop the
        others. ``throw=True`` raises the first command's exception (in
        command order) after all completed; ``throw=False`` returns the
        exceptions as values in their places."""
        cmds: Sequence[Any] = commands if isinstance(commands, (list, tuple)) else list(commands)
        enc = encoder or self._encoder
        if enc is not utf8_encode:
            cmds = [_encode_args(tuple(c), enc) for c in cmds]
        mp = self._mp
        if self._server is not None:  # one node, no batch path in libjr: one by one
            replies = await asyncio.gather(*[
                self.commandreply(*c, encoder=utf8_encode, decoder=decoder, throw=False,
                                  timeout=timeout) for c in cmds])
        else:
            c = mp._c
            if c is None:
                c = mp._open()
            fut = mp._client_loop().create_future()
            if timeout is None:
                ids = c.submit_many(self._number, cmds, fut)
            else:
                ids = c.submit_many(self._number, cmds, fut, timeout)
            try:
                replies = await fut
            except _CancelledError:
                if fut.cancelled():
                    for rid in ids:
                        if rid:
                            c.cancel(rid)
                raise
            dec = decoder or self._decoder
            if dec is not None:
                replies = [r if isinstance(r, BaseException) else dec(r) for r in replies]
        if throw:
            for r in replies:
                if isinstance(r, BaseException):
                    raise r
        return replies

    def multi(self) -> 'Multi':
        self._no_server('MULTI')
        return Multi(self._mp, self._number, self._encoder, self._decoder)

    def watch(self, *keys: Any) -> 'Watch':
        self._no_server('WATCH')
        return Watch(self._mp, self._number, keys, self._encoder, self._decoder)

    def _no_server(self, what: str) -> None:
        if self._server is not None:
            raise error('%s is not available on a server= view (libjr routes transactions by '
                        'their keys)' % what, ext.EREFUSED)


# ---- Transactions -----------------------------------------------------------------------------

class Multi:
    """A MULTI/EXEC block. ``command`` is not awaitable: it queues the command
    and returns a handle that is awaited after the block. Leaving the block
    sends MULTI, the commands and EXEC contiguously; leaving it with an
    exception discards it (nothing is sent, handles raise RedisError
    EDISCARDED)."""

    def __init__(self, mp: MultiplexerPool, number: int, encoder: Encoder,
                 decoder: Decoder | None, watch: 'Watch | None' = None) -> None:
        self._mp = mp
        self._number = number
        self._encoder = encoder
        self._decoder = decoder
        self._watch = watch
        self._m: _jr.Multi | None = None
        self._handles: list[Command] = []
        self._state = 0  # 0 open, 1 executed, 2 discarded

    async def __aenter__(self) -> 'Multi':
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        if exc_type is None:
            await self._execute(True)
        else:
            self._discard(True)
        return False

    def _finished(self) -> RedisError:
        return error('Multiple command already finished', ext.EMISUSE)

    def command(self, *args: Any, encoder: Encoder | None = None, decoder: Decoder | None = None,
                throw: bool = True) -> Command:
        if self._state:
            raise self._finished()
        args = _encode_args(args, encoder or self._encoder)
        if not args:
            raise error('Empty command not allowed', ext.EINVAL)
        m = self._m
        if m is None:
            if self._watch is not None:
                m = self._watch._w_multi()
            else:
                c = self._mp._c
                if c is None:
                    c = self._mp._open()
                m = c.multi(self._number)
            self._m = m
        fut = self._mp._client_loop().create_future()
        m.add(args, fut)
        h = Command(fut, decoder or self._decoder, throw, ready=False)
        self._handles.append(h)
        return h

    async def execute(self) -> None:
        """Sends the block (called when leaving the context manager)."""
        await self._execute(False)

    async def _execute(self, soft: bool) -> None:
        if self._state:
            if soft:
                return
            raise self._finished()
        self._state = 1
        for h in self._handles:
            h._ready = True
        m = self._m
        if self._watch is None:
            if m is not None:  # an empty block sends nothing
                m.exec()
            return
        # A conditional transaction: wait for EXEC, so that "a watched key
        # changed" (RedisError EWATCH) or EXECABORT raises here.
        if m is None:
            m = self._m = self._watch._w_multi()
        fut = self._mp._client_loop().create_future()
        m.exec(fut)
        r = await fut
        if r is None:
            raise error(ext.strerror(ext.EWATCH), ext.EWATCH)
        if isinstance(r, BaseException):
            raise r

    async def discard(self) -> None:
        """Aborts the block: nothing is sent."""
        self._discard(False)

    def _discard(self, soft: bool) -> None:
        if self._state:
            if soft:
                return
            raise self._finished()
        self._state = 2
        for h in self._handles:
            h._ready = True
        if self._m is not None:
            self._m.discard()


class Watch:
    """A conditional transaction: WATCH keys on a dedicated connection,
    commands run at once on it (to decide what to write), then ``multi()``.
    Leaving the context manager (or aclose) releases the connection."""

    def __init__(self, mp: MultiplexerPool, number: int, keys: tuple[Any, ...], encoder: Encoder,
                 decoder: Decoder | None) -> None:
        if not keys:
            raise error('No keys set to watch', ext.EINVAL)
        self._mp = mp
        self._number = number
        self._encoder = encoder
        self._decoder = decoder
        self._keys = _encode_args(keys, encoder)
        self._w: _jr.Watch | None = None
        self._multi: Multi | None = None
        self._closed = False

    def _get(self) -> _jr.Watch:
        w = self._w
        if w is None:
            if self._closed:
                raise error('watch closed', ext.ECLOSED)
            c = self._mp._c
            if c is None:
                c = self._mp._open()
            w = self._w = c.watch(self._number, self._keys)
        return w

    def _w_multi(self) -> _jr.Multi:
        return self._get().multi()

    async def __aenter__(self) -> 'Watch':
        self._get()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        if self._multi is not None:
            self._multi._discard(True)
        w, self._w = self._w, None
        if w is not None:
            w.close()

    async def command(self, *args: Any, encoder: Encoder | None = None,
                      decoder: Decoder | None = None, throw: bool = True,
                      timeout: float | None = None) -> Command:
        w = self._get()
        args = _encode_args(args, encoder or self._encoder)
        fut = self._mp._client_loop().create_future()
        if timeout is None:
            w.submit(args, fut)
        else:
            w.submit(args, fut, timeout)
        return Command(fut, decoder or self._decoder, throw)

    async def commandreply(self, *args: Any, encoder: Encoder | None = None,
                           decoder: Decoder | None = None, throw: bool = True,
                           timeout: float | None = None) -> Any:
        return await (await self.command(*args, encoder=encoder, decoder=decoder, throw=throw,
                                         timeout=timeout))

    def multi(self) -> Multi:
        if self._multi is not None:
            raise error('Already entered a multi phase', ext.EMISUSE)
        self._multi = Multi(self._mp, self._number, self._encoder, self._decoder, watch=self)
        return self._multi


# ---- Pub/sub and MONITOR ----------------------------------------------------------------------

_H = TypeVar('_H', _jr.Sub, _jr.Monitor)


class _Stream(Generic[_H]):
    """A queue of messages fed by a libjr message callback."""

    def __init__(self, mp: MultiplexerPool, decoder: Decoder | None) -> None:
        self._mp = mp
        self._decoder = decoder
        self._queue: collections.deque[Any] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False  # closed by the user
        self._ended = False   # libjr said JR_ECLOSED
        self._h: _H | None = None

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _on_message(self, status: int, value: Any) -> None:
        if status == 0:
            if self._accept(value):
                self._queue.append(value)
        elif status == ext.SUB_LOST:
            self._queue.append(error('connection lost or not established, messages may have '
                                     'been missed (libjr reconnects and resubscribes by '
                                     'itself)', ext.ECONNLOST, False))
        elif status == ext.SUB_RESUBSCRIBED:
            return
        elif status == ext.ECLOSED:
            self._ended = True
            self._h = None
        elif isinstance(value, BaseException):
            self._queue.append(value)
        self._wake()

    def _accept(self, value: Any) -> bool:
        return True

    def _closed_error(self) -> RedisError:
        raise NotImplementedError

    def _can_wait(self) -> None:
        pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        h, self._h = self._h, None
        if h is not None:
            h.close()
        self._wake()

    async def message(self, timeout: float | None = None) -> Any:
        """The next message, or None after ``timeout`` seconds without one."""
        q = self._queue
        if self._closed:
            raise self._closed_error()
        if not q:
            if self._ended:
                raise self._closed_error()
            self._can_wait()
            fut = self._waiter = self._mp._client_loop().create_future()
            try:
                if timeout is None:
                    await fut
                else:
                    await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return None
            finally:
                self._waiter = None
            if not q:
                if self._closed or self._ended:
                    raise self._closed_error()
                return None
        msg = q.popleft()
        if isinstance(msg, BaseException):
            raise msg
        dec = self._decoder
        return msg if dec is None else dec(msg)


_CHANNELS, _PATTERNS, _SHARDED = 0, 1, 2
_SUBSCRIBED = {b'subscribe': _CHANNELS, b'psubscribe': _PATTERNS, b'ssubscribe': _SHARDED}


class PubSub(_Stream[_jr.Sub]):
    """A pub/sub instance. All instances of a multiplexer share one
    subscription connection for channels and patterns, and one per node for
    sharded channels (libjr reference-counts names across them).

    ``message()`` returns the raw RESP list, decoded by the instance decoder:
    ``['message', channel, data]``, ``['pmessage', pattern, channel, data]``,
    ``['smessage', channel, data]``, ``['subscribe', name, n]``,
    ``['psubscribe', name, n]``, ``['ssubscribe', name, n]`` and
    ``['pong', text]``. Unsubscribe confirmations are not delivered (as in the
    seed). The count ``n`` is the server's, for the subscription connection
    the instances share (as in the seed). After a lost connection (or while
    a sharded channel's slot moves to another node) ``message()`` raises
    RedisError (ECONNLOST) once; libjr resubscribes by itself, and the
    server's confirmations of that follow (``['subscribe', name, n]``)."""

    def __init__(self, mp: MultiplexerPool, encoder: Encoder | None,
                 decoder: Decoder | None) -> None:
        super().__init__(mp, decoder)
        self._encoder = encoder or utf8_encode
        # channels, patterns, sharded channels
        self._names_of: tuple[set[bytes], set[bytes], set[bytes]] = (set(), set(), set())
        # (kind, name) -> futures of add() calls
        self._confirming: dict[tuple[int, bytes], list[asyncio.Future[None]]] = {}
        self._pings = 0  # pings whose pong has not arrived

    def _on_message(self, status: int, value: Any) -> None:
        if status == 0 and type(value) is list and value and value[0] == b'pong':
            self._pings = max(0, self._pings - 1)
        elif status == ext.SUB_LOST:
            self._pings = 0  # pings in flight are lost with the connection
        if status == 0 and type(value) is list and len(value) == 3 and \
                value[0] in _SUBSCRIBED:
            kind = _SUBSCRIBED[value[0]]
            refused = value[2] if isinstance(value[2], BaseException) else None
            if refused is not None:
                # [kind, name, error]: the server refused the name (NOPERM...).
                self._names_of[kind].discard(value[1])
            futs = [f for f in self._confirming.pop((kind, value[1]), ()) if not f.done()]
            for f in futs:
                if refused is None:
                    f.set_result(None)
                else:
                    f.set_exception(refused)
            if refused is not None:
                if not futs:  # refused on a resubscription: message() raises it
                    self._queue.append(refused)
                    self._wake()
                return
        super()._on_message(status, value)
        if status == ext.ECLOSED:
            for futs in self._confirming.values():
                for f in futs:
                    if not f.done():
                        f.set_result(None)
            self._confirming.clear()

    def _sub(self) -> _jr.Sub:
        s = self._h
        if s is None:
            if self._closed or self._ended:
                raise self._closed_error()
            c = self._mp._c
            if c is None:
                c = self._mp._open()
            s = self._h = c.sub(self._on_message)
        return s

    def _accept(self, value: Any) -> bool:
        return not (type(value) is list and value and
                    value[0] in (b'unsubscribe', b'punsubscribe', b'sunsubscribe'))

    def _closed_error(self) -> RedisError:
        return error('Pub/sub instance closed', ext.ECLOSED)

    def _can_wait(self) -> None:
        if not any(self._names_of) and not self._pings:
            raise error('Not registered on any topic, not allowing to listen to messages',
                        ext.EMISUSE)

    def _names(self, names: Any) -> list[bytes]:
        if names is None:
            return []
        if not isinstance(names, (list, tuple, set, frozenset)):
            names = [names]  # one name
        enc = self._encoder
        out = []
        for n in names:
            n = enc(n) if enc is not utf8_encode or type(n) is not bytes else n
            if n not in out:
                out.append(n)
        return out

    async def add(self, channels: Any = None, patterns: Any = None,
                  shardchannels: Any = None) -> None:
        """Subscribes to channels, patterns and/or sharded channels (a name
        or a list each) and returns when the server has confirmed them. Each
        confirmation is also delivered through ``message()`` (``['subscribe',
        name, n]``). Sharded channels (Redis 7 SSUBSCRIBE, published with
        SPUBLISH) are subscribed on the node that serves their slot, and
        follow the slot when it moves. A name the server refuses (ACL
        NOPERM) raises RedisReplyError here and is not registered."""
        s = self._sub()
        waits = []
        for kind, names in enumerate((channels, patterns, shardchannels)):
            registered = self._names_of[kind]
            names = [n for n in self._names(names) if n not in registered]
            if not names:
                continue
            s.subscribe(kind, names)
            registered.update(names)
            for n in names:
                f = self._mp._client_loop().create_future()
                self._confirming.setdefault((kind, n), []).append(f)
                waits.append(f)
        # Returns once the server confirmed every new subscription, so that a
        # PUBLISH sent after add() cannot overtake the SUBSCRIBE. libjr does
        # not report a subscription connection that cannot connect, so the
        # wait is bounded by the command timeout (commandtimeout, default 5 s).
        if waits:
            limit = self._mp._command_timeout
            if limit is None:
                for f in waits:
                    await f
            else:
                try:
                    await asyncio.wait_for(asyncio.gather(*waits), limit)
                except asyncio.TimeoutError:
                    raise error('subscription not confirmed by the server within %g s (it '
                                'stays registered and is sent when the connection comes up)'
                                % limit, ext.ETIMEDOUT, False) from None
        if self._ended:
            raise self._closed_error()

    async def remove(self, channels: Any = None, patterns: Any = None,
                     shardchannels: Any = None) -> None:
        """Unsubscribes the given channels, patterns and/or sharded channels;
        with no argument, everything. Only what is named is removed."""
        s = self._sub()
        everything = channels is None and patterns is None and shardchannels is None
        for kind, names in enumerate((channels, patterns, shardchannels)):
            registered = self._names_of[kind]
            names = list(registered) if everything else \
                [n for n in self._names(names) if n in registered]
            if names:
                s.unsubscribe(kind, names)
                registered.difference_update(names)

    async def ping(self, message: Any = None) -> None:
        """Sends PING on the subscription connection; the ``['pong', text]``
        reply arrives through ``message()``."""
        s = self._sub()
        s.ping(None if message is None else bytes(self._encoder(message)))
        self._pings += 1

    @property
    def channels(self) -> frozenset[bytes]:
        return frozenset(self._names_of[_CHANNELS])

    @property
    def patterns(self) -> frozenset[bytes]:
        return frozenset(self._names_of[_PATTERNS])

    @property
    def shardchannels(self) -> frozenset[bytes]:
        return frozenset(self._names_of[_SHARDED])


class Monitor(_Stream[_jr.Monitor]):
    """A MONITOR stream: ``message()`` gives one line (bytes) per command the
    server ran."""

    def __init__(self, mp: MultiplexerPool, decoder: Decoder | None) -> None:
        super().__init__(mp, decoder)
        c = mp._c
        if c is None:
            c = mp._open()
        self._h = c.monitor(self._on_message)

    def _closed_error(self) -> RedisError:
        return error('Monitor closed', ext.ECLOSED)
