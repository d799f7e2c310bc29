# SPDX-License-Identifier: MIT
"""The two exceptions of the seed's error model."""

__all__ = ['RedisError', 'RedisReplyError']


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
    """

    def __init__(self, message: str, code: int | None = None, unsent: bool = True,
                 detail: str | None = None) -> None:
        super().__init__('%s: %s' % (message, detail) if detail else message)
        self.code = code
        self.unsent = bool(unsent)
        self.detail = detail

    @property
    def name(self) -> str | None:
        if self.code is None:
            return None
        from ._native import ext  # not at the top: _native imports this module
        return ext.err_name(self.code)

    def __repr__(self) -> str:
        return '%s(%r, code=%r, unsent=%r)' % (type(self).__name__, str(self), self.code,
                                               self.unsent)
