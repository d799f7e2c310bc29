# SPDX-License-Identifier: MIT
"""protocol=3: RESP3's types as Python values (against redis-server 7 and a
fake server for shapes a real one does not send), and the clear error of a
libjr built with hiredis 0.14, which has no RESP3."""
import math
import socket
import threading

import pytest

import jr
from jr import MultiplexerPool, RedisError, utf8_bytes_as_strings
from jr.multiplexer import resp3_available

# Skipped without RESP3 in libjr; failed then with JR_EXPECT_RESP3=1
# (conftest.py's resp3 fixture).
needs_resp3 = pytest.mark.usefixtures('resp3')


def test_protocol_key_is_checked():
    for bad in (1, 4, '3', 3.0, True):
        with pytest.raises(ValueError):
            MultiplexerPool({'protocol': bad})
    MultiplexerPool({'protocol': 2})
    MultiplexerPool({'protocol': None})


@pytest.mark.skipif(resp3_available(), reason='this libjr has RESP3')
def test_protocol_3_refused_clearly_without_resp3():
    with pytest.raises(RedisError) as ei:
        MultiplexerPool({'protocol': 3})
    e = ei.value
    assert e.code == jr.EINVAL and type(e) is RedisError
    assert str(e).startswith('protocol 3 (RESP3) is not available in this libjr')
    assert 'hiredis >= 1.0' in str(e)
    # libjr's own account, with the hiredis version it was built with
    assert e.detail is not None and 'hiredis 0.' in e.detail, e.detail


@needs_resp3
@pytest.mark.asyncio
async def test_resp3_types_from_redis(config):
    async with MultiplexerPool(dict(config, protocol=3)) as mp:
        db = mp.database()
        await db.commandreply('HSET', 'h', 'f1', 'v1', 'f2', 'v2')
        assert await db.commandreply('HGETALL', 'h') == {b'f1': b'v1', b'f2': b'v2'}
        assert await db.commandreply('HGETALL', 'h', decoder=utf8_bytes_as_strings) == \
            {'f1': 'v1', 'f2': 'v2'}
        await db.commandreply('SADD', 's', 'a', 'b', 'c')
        assert await db.commandreply('SMEMBERS', 's') == {b'a', b'b', b'c'}
        assert await db.commandreply('SMEMBERS', 's', decoder=utf8_bytes_as_strings) == \
            {'a', 'b', 'c'}
        await db.commandreply('ZADD', 'z', '1.5', 'm')
        assert await db.commandreply('ZSCORE', 'z', 'm') == 1.5
        assert await db.commandreply('ZRANGE', 'z', 0, -1, 'WITHSCORES') == [[b'm', 1.5]]

        async def proto(kind):
            return await db.commandreply('DEBUG', 'PROTOCOL', kind)
        d = await proto('double')
        assert type(d) is float and d == 3.141
        assert await proto('true') is True and await proto('false') is False
        big = await proto('bignum')
        assert type(big) is int and big == 1234567999999999999999999999999999999
        verb = await proto('verbatim')
        assert verb == 'This is a verbatim\nstring'
        assert await proto('map') == {0: False, 1: True, 2: False}
        assert await proto('set') == {0, 1, 2}
        assert await proto('null') is None
        assert await proto('string') == b'Hello World'
        assert await proto('integer') == 12345
        # errors are unchanged
        with pytest.raises(jr.RedisReplyError):
            await db.commandreply('NOSUCHCOMMAND')
        # pub/sub stays on its own RESP2 connection: same messages
        ps = mp.pubsub()
        await ps.add('ch')
        assert await ps.message(1) == [b'subscribe', b'ch', 1]
        await db.commandreply('PUBLISH', 'ch', 'hi')
        assert await ps.message(1) == [b'message', b'ch', b'hi']
        await ps.aclose()


@needs_resp3
@pytest.mark.asyncio
async def test_resp2_unchanged(config):
    async with MultiplexerPool(config) as mp:  # protocol 2 (the default)
        db = mp.database()
        await db.commandreply('HSET', 'h', 'f', 'v')
        assert await db.commandreply('HGETALL', 'h') == [b'f', b'v']
        await db.commandreply('ZADD', 'z', '1.5', 'm')
        assert await db.commandreply('ZSCORE', 'z', 'm') == b'1.5'


class FakeResp3Server:
    """Answers HELLO with a map, CLUSTER with an error (standalone), and each
    other command with the canned reply of its name."""
    REPLIES = {
        b'MAPKEY': b'%2\r\n*1\r\n+a\r\n:1\r\n+b\r\n:2\r\n',  # an array as a key
        b'SETLIST': b'~2\r\n*1\r\n+a\r\n+b\r\n',  # an array in a set
        b'INF': b',inf\r\n',
        b'NAN': b',nan\r\n',
        b'NEGBIG': b'(-123456789012345678901234567890\r\n',
        b'NESTED': b'%1\r\n+k\r\n~1\r\n#t\r\n',
    }

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.client, args=(conn,), daemon=True).start()

    def client(self, conn):
        f = conn.makefile('rb')
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                n = int(line[1:])
                args = []
                for _ in range(n):
                    size = int(f.readline()[1:])
                    args.append(f.read(size + 2)[:-2])
                name = args[0].upper()
                if name == b'HELLO':
                    out = b'%2\r\n+server\r\n+fake\r\n+proto\r\n:3\r\n'
                elif name == b'CLUSTER':
                    out = b'-ERR This instance has cluster support disabled\r\n'
                else:
                    out = self.REPLIES.get(name, b'+OK\r\n')
                conn.sendall(out)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def stop(self):
        self.sock.close()


@needs_resp3
@pytest.mark.asyncio
async def test_unhashable_keys_and_elements():
    srv = FakeResp3Server()
    try:
        async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                    'protocol': 3}) as mp:
            db = mp.database()
            assert await db.commandreply('MAPKEY') == [[[b'a'], 1], [b'b', 2]]
            assert await db.commandreply('SETLIST') == [[b'a'], b'b']
            assert await db.commandreply('INF') == math.inf
            assert math.isnan(await db.commandreply('NAN'))
            assert await db.commandreply('NEGBIG') == -123456789012345678901234567890
            assert await db.commandreply('NESTED') == {b'k': {True}}
    finally:
        srv.stop()
