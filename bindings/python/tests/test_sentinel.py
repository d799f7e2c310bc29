# SPDX-License-Identifier: MIT
"""Redis Sentinel through the configuration keys (sentinels, sentinelmaster,
sentinelusername, sentinelpassword, and the redis-sentinel:// URL): a
master (the session's redis-server) and one sentinel that monitors it,
started on a free loopback port and stopped by PID."""

import pytest
import pytest_asyncio

import jr
from jr import MultiplexerPool

from conftest import RedisServer, free_port, raw


def start_sentinel(master_port, *extra_lines):
    """A `redis-server --sentinel` monitoring the master, from a generated
    config (extra_lines appended): conftest's RedisServer."""
    config = ('sentinel monitor mymaster 127.0.0.1 %d 1\n' % master_port +
              'sentinel down-after-milliseconds mymaster 5000\n' +
              ''.join(line + '\n' for line in extra_lines))
    return RedisServer('--sentinel', config=config)


@pytest.fixture(scope='module')
def sentinel(redis_server):
    s = start_sentinel(redis_server.port)
    yield s
    s.stop()


@pytest.fixture(scope='module')
def sentinel_auth(redis_server):
    s = start_sentinel(redis_server.port, 'user default off',
                 'user sentuser on >sentpass allcommands allkeys allchannels')
    yield s
    s.stop()


async def roundtrip(mp, port):
    db = mp.database()
    assert await db.commandreply('SET', 'sk', 'v') == b'OK'
    assert raw(port, 'GET', 'sk') == b'v'  # it reached the master
    s = mp.stats()
    assert [e.endpoint for e in s.endpoints if e.completed] == ['127.0.0.1:%d' % port]


@pytest.mark.asyncio
async def test_master_found_through_sentinel(sentinel, port):
    unused = free_port()  # endpoints are ignored when sentinels name the master
    conf = {'sentinels': [('127.0.0.1', sentinel.port)], 'sentinelmaster': 'mymaster',
            'endpoints': [('127.0.0.1', unused)]}
    async with MultiplexerPool(conf) as mp:
        await roundtrip(mp, port)
    # "host:port" strings, and bytes for the master's name
    conf = {'sentinels': ['127.0.0.1:%d' % sentinel.port], 'sentinelmaster': b'mymaster'}
    async with MultiplexerPool(conf) as mp:
        await roundtrip(mp, port)


@pytest.mark.asyncio
async def test_sentinel_url(sentinel, port):
    url = 'redis-sentinel://127.0.0.1:%d/3#mymaster' % sentinel.port
    async with MultiplexerPool({'url': url}) as mp:
        db = mp.database()
        assert await db.commandreply('SET', 'sk3', 'v') == b'OK'
    assert raw(port, 'EXISTS', 'sk3') == 0  # database 3, not 0


@pytest.mark.asyncio
async def test_unknown_master_fails_clearly(sentinel):
    conf = {'sentinels': [('127.0.0.1', sentinel.port)], 'sentinelmaster': 'nosuchmaster',
            'connectretry': 1}
    async with MultiplexerPool(conf) as mp:
        with pytest.raises(jr.ConnectionError) as ei:
            await mp.database().commandreply('PING')
    assert ei.value.code == jr.ECONNECT and ei.value.unsent


@pytest.mark.asyncio
async def test_sentinel_credentials(sentinel_auth, port):
    conf = {'sentinels': [('127.0.0.1', sentinel_auth.port)], 'sentinelmaster': 'mymaster',
            'sentinelusername': 'sentuser', 'sentinelpassword': 'sentpass'}
    async with MultiplexerPool(conf) as mp:
        await roundtrip(mp, port)
    conf.update(sentinelpassword='wrong', connectretry=1)
    async with MultiplexerPool(conf) as mp:
        with pytest.raises(jr.ConnectionError) as ei:
            await mp.database().commandreply('PING')
    assert ei.value.code == jr.ECONNECT and 'wrong' not in str(ei.value)
