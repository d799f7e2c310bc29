# SPDX-License-Identifier: MIT
"""Loads the C extension (installed as jr._jr, or a top-level _jr on sys.path
when running from a build tree) and hands it the exception classes."""
import asyncio

try:
    from . import _jr as ext
except ImportError:  # uninstalled: the extension is built outside the package
    import _jr as ext

from .exceptions import RedisError, RedisReplyError

ext._init(RedisReplyError, RedisError, asyncio.Future, asyncio.InvalidStateError)


def error(message, code, unsent=True):
    """A RedisError raised by the binding itself (nothing was sent)."""
    return RedisError(message, code, unsent)
