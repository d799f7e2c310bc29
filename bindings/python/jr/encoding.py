# SPDX-License-Identifier: MIT
"""Encoders (Python values to redis arguments) and decoders (replies to Python)."""

__all__ = ['encode', 'utf8_encode', 'bytes_as_strings', 'utf8_bytes_as_strings']


def encode(encoding='utf-8', errors='strict'):
    """Returns an encoder: bytes/bytearray/memoryview unchanged, str encoded
    with ``encoding``, int as decimal, float as ``repr``. bool and every
    other type raise ValueError (before anything is sent)."""

    def encoder(value):
        t = type(value)
        if t is bytes:
            return value
        if t is str:
            return value.encode(encoding, errors)
        if t is bool:
            raise ValueError('bool is not a redis argument (send 0/1 or a string explicitly)')
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            return str.encode(value, encoding, errors)
        if isinstance(value, int):
            return b'%d' % value
        if isinstance(value, float):
            return repr(value).encode()
        raise ValueError('%s is not a redis argument (use bytes, str, int or float, or an encoder)'
                         % type(value).__name__)

    encoder.encoding = encoding
    encoder.errors = errors
    return encoder


# The default encoder. When it is in effect, arguments are encoded by the C
# extension itself (same rules, UTF-8 strict), without calling this function.
utf8_encode = encode()


def bytes_as_strings(encoding='utf-8', errors='strict'):
    """Returns a decoder that turns bytes into str, recursively through lists;
    ints, None and exception values pass through unchanged."""

    def decoder(value):
        t = type(value)
        if t is bytes:
            return value.decode(encoding, errors)
        if t is list:
            return [decoder(v) for v in value]
        return value

    decoder.encoding = encoding
    decoder.errors = errors
    return decoder


utf8_bytes_as_strings = bytes_as_strings()
