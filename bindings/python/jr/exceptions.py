# SPDX-License-Identifier: MIT
"""The two exceptions of the seed's error model, and the typed subclasses of
RedisError that Python code catches without knowing libjr's codes."""
import builtins
from typing import Any

from . import _jr as _ext

__all__ = ['RedisError', 'RedisReplyError', 'ConnectionError', 'TimeoutError']


class RedisReplyError(Exception):
    """An error reply from the redis server for a sent command.

    ``str(e)`` is the server's text, e.g. ``"ERR unknown command 'FOO'"``.
    Inside a list reply (EXEC, EVAL) error elements are instances of this
    class, returned as values.

    The server's refusal of a new connection's handshake (a wrong password:
    ``"WRONGPASS invalid username-password pair ..."``, or a failing connect
    command) is raised as this class too, as justredis does, by every command
    that was waiting for that connection; those never ran, and the exception
    also has ``code == jr.EAUTH``, ``unsent == True`` and ``detail`` (libjr's
    account, e.g. ``'handshake with 127.0.0.1:6379: WRONGPASS ...'``).
    """

    @property
    def prefix(self) -> str:
        """The error code word of the reply (``'ERR'``, ``'WRONGTYPE'``, ...)."""
        text = str(self)
        return text.split(' ', 1)[0] if text else ''


def _text(message: str, detail: str | None) -> str:
    return '%s: %s' % (message, detail) if detail else message


class RedisError(Exception):
    """An error from this library (the command may not have reached the server).

    Attributes:
      code    libjr's result code (negative int, e.g. ``jr.ECONNLOST``).
      name    the code's name (``'JR_ECONNLOST'``).
      unsent  True when the command certainly did not reach the server (safe
              to retry), False when it may have run.
      detail  why, when libjr knows more than the code: the endpoint and the
              cause (``'connect 127.0.0.1:6390: ECONNREFUSED: connection
              refused'``), else None; ``str(e)`` ends with it, after a colon.

    ``RedisError(message, code)`` makes the typed subclass of the code:
    ``jr.ConnectionError`` (also a builtin ``ConnectionError``) for
    ECONNECT, ECONNLOST and ETLS; ``jr.TimeoutError`` (also a builtin
    ``TimeoutError``, which is ``asyncio.TimeoutError``) for ETIMEDOUT,
    EQUEUETIMEOUT and EPOOLTIMEOUT; RedisError itself for the others.
    """

    code: int | None
    unsent: bool
    detail: str | None

    def __new__(cls, *args: Any, **kwargs: Any) -> 'RedisError':
        if cls is RedisError:
            code = args[1] if len(args) > 1 else kwargs.get('code')
            if code is not None:
                cls = _CLASS_OF_CODE.get(code, RedisError)
        if issubclass(cls, OSError):
            # The text alone: OSError.__new__ would read more arguments as
            # errno, strerror and filename.
            message = args[0] if args else kwargs.get('message', '')
            detail = args[3] if len(args) > 3 else kwargs.get('detail')
            return super().__new__(cls, _text(message, detail))
        return super().__new__(cls, *args)  # any signature a user's subclass has

    def __init__(self, message: str, code: int | None = None, unsent: bool = True,
                 detail: str | None = None) -> None:
        text = _text(message, detail)
        super().__init__(text)
        self.args = (text,)  # OSError.__init__ leaves the args __new__ saw
        self.code = code
        self.unsent = bool(unsent)
        self.detail = detail

    @property
    def name(self) -> str | None:
        if self.code is None:
            return None
        return _ext.err_name(self.code)

    def __str__(self) -> str:
        # OSError's own __str__ would do for one argument too; this keeps
        # every subclass's text the same as RedisError's.
        return str(self.args[0]) if self.args else ''

    def __repr__(self) -> str:
        return '%s(%r, code=%r, unsent=%r)' % (type(self).__name__, str(self), self.code,
                                               self.unsent)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy: the text already holds the detail.
        return (type(self), (str(self), self.code, self.unsent), {'detail': self.detail})


class ConnectionError(RedisError, builtins.ConnectionError):  # noqa: A001 (as redis-py names it)
    """The server could not be reached or the connection was lost
    (ECONNECT, ECONNLOST, ETLS); ``except ConnectionError`` (the builtin)
    catches it too. ``unsent`` says whether the command may have run."""


class TimeoutError(RedisError, builtins.TimeoutError):  # noqa: A001
    """A deadline passed (ETIMEDOUT: waiting for the reply, the command may
    have run; EQUEUETIMEOUT and EPOOLTIMEOUT: before it was written, not
    sent). ``except TimeoutError`` (the builtin, which is also
    ``asyncio.TimeoutError``) catches it too."""


_CLASS_OF_CODE: dict[int, type[RedisError]] = {
    _ext.ECONNECT: ConnectionError, _ext.ECONNLOST: ConnectionError, _ext.ETLS: ConnectionError,
    _ext.ETIMEDOUT: TimeoutError, _ext.EQUEUETIMEOUT: TimeoutError,
    _ext.EPOOLTIMEOUT: TimeoutError,
}
