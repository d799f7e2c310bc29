# SPDX-License-Identifier: MIT
"""Loads the C extension jr._jr and hands it the exception classes."""
import asyncio

from . import _jr as ext
from .exceptions import RedisError, RedisReplyError

__all__ = ['ext', 'error']

ext._init(RedisReplyError, RedisError, asyncio.Future, asyncio.InvalidStateError)


def error(message: str, code: int, unsent: bool = True, detail: str | None = None) -> RedisError:
    """A RedisError raised by the binding itself (nothing was sent)."""
    return RedisError(message, code, unsent, detail)
