# SPDX-License-Identifier: MIT
"""Encoders (Python values to redis arguments) and decoders (replies to Python)."""
from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ['Encoder', 'Decoder', 'encode', 'utf8_encode', 'bytes_as_strings',
           'utf8_bytes_as_strings']

# An encoder turns one command argument into bytes; a decoder turns a reply
# (bytes, int, None, lists of those; RedisReplyError elements) into what the
# caller gets.
Encoder: TypeAlias = Callable[[Any], bytes]
Decoder: TypeAlias = Callable[[Any], Any]


class _Encode:
    """The encoder ``encode()`` returns (a callable with ``encoding`` and
    ``errors`` attributes)."""
    __slots__ = ('encoding', 'errors')

    def __init__(self, encoding: str, errors: str) -> None:
        self.encoding = encoding
        self.errors = errors

    def __call__(self, value: object) -> bytes:
        if type(value) is bytes:  # the exact types first: the common case
            return value
        if type(value) is str:
            return value.encode(self.encoding, self.errors)
        if type(value) is bool:
            raise ValueError('bool is not a redis argument (send 0/1 or a string explicitly)')
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            return str.encode(value, self.encoding, self.errors)
        if isinstance(value, int):
            return b'%d' % value
        if isinstance(value, float):
            return repr(value).encode()
        raise ValueError('%s is not a redis argument (use bytes, str, int or float, or an encoder)'
                         % type(value).__name__)

    def __repr__(self) -> str:
        return 'encode(%r, %r)' % (self.encoding, self.errors)


def encode(encoding: str = 'utf-8', errors: str = 'strict') -> Encoder:
    """Returns an encoder: bytes/bytearray/memoryview unchanged, str encoded
    with ``encoding``, int as decimal, float as ``repr``. bool and every
    other type raise ValueError (before anything is sent)."""
    return _Encode(encoding, errors)


# The default encoder. When it is in effect, arguments are encoded by the C
# extension itself (same rules, UTF-8 strict), without calling this function.
utf8_encode = encode()


class _BytesAsStrings:
    """The decoder ``bytes_as_strings()`` returns."""
    __slots__ = ('encoding', 'errors')

    def __init__(self, encoding: str, errors: str) -> None:
        self.encoding = encoding
        self.errors = errors

    def __call__(self, value: Any) -> Any:
        t = type(value)
        if t is bytes:
            return value.decode(self.encoding, self.errors)
        if t is list:
            return [self(v) for v in value]
        if t is dict:  # RESP3 maps and sets (protocol 3)
            return {self(k): self(v) for k, v in value.items()}
        if t is set:
            return {self(v) for v in value}
        return value

    def __repr__(self) -> str:
        return 'bytes_as_strings(%r, %r)' % (self.encoding, self.errors)


def bytes_as_strings(encoding: str = 'utf-8', errors: str = 'strict') -> Decoder:
    """Returns a decoder that turns bytes into str, recursively through lists
    (and RESP3's dicts and sets); ints, floats, bools, None and exception
    values pass through unchanged."""
    return _BytesAsStrings(encoding, errors)


utf8_bytes_as_strings = bytes_as_strings()
