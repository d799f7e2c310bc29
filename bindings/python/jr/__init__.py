# SPDX-License-Identifier: MIT
"""jr: asyncio Redis client on libjr (the seed justredis API).

    from jr import MultiplexerPool, utf8_bytes_as_strings

See bindings/python/README.md.
"""
from ._native import ext as _ext
from .encoding import bytes_as_strings, encode, utf8_bytes_as_strings, utf8_encode
from .exceptions import ConnectionError, RedisError, RedisReplyError, TimeoutError
from .multiplexer import (Command, Database, Monitor, Multi, Multiplexer, MultiplexerPool, PubSub,
                          Watch)
from .observe import EndpointStats, Stats
from .options import OptionInfo, describe_options

__version__ = '0.1.0'
libjr_version = _ext.version()

# libjr result codes, for RedisError.code
OK = _ext.OK
EINVAL = _ext.EINVAL
ENOMEM = _ext.ENOMEM
ECLOSED = _ext.ECLOSED
ECONNECT = _ext.ECONNECT
ECONNLOST = _ext.ECONNLOST
ETIMEDOUT = _ext.ETIMEDOUT
EQUEUETIMEOUT = _ext.EQUEUETIMEOUT
EPROTO = _ext.EPROTO
ETOOBIG = _ext.ETOOBIG
EREFUSED = _ext.EREFUSED
ECANCELED = _ext.ECANCELED
EABANDONED = _ext.EABANDONED
EAUTH = _ext.EAUTH
ESHUTDOWN = _ext.ESHUTDOWN
EMISUSE = _ext.EMISUSE
ENOENT = _ext.ENOENT
EINTERNAL = _ext.EINTERNAL
EFULL = _ext.EFULL
EDISCARDED = _ext.EDISCARDED
EWATCH = _ext.EWATCH
EPOOLTIMEOUT = _ext.EPOOLTIMEOUT
ECROSSSLOT = _ext.ECROSSSLOT
ECLUSTER = _ext.ECLUSTER
EFORKED = _ext.EFORKED
ETLS = _ext.ETLS

__all__ = [
    'MultiplexerPool', 'Multiplexer', 'Database', 'Command', 'Multi', 'Watch', 'PubSub', 'Monitor',
    'RedisError', 'RedisReplyError', 'encode', 'utf8_encode', 'bytes_as_strings',
    'utf8_bytes_as_strings', 'OptionInfo', 'describe_options', 'Stats', 'EndpointStats',
]
