# SPDX-License-Identifier: MIT
"""Pub/sub instances and MONITOR."""
import asyncio

import pytest

import jr
from jr import MultiplexerPool, RedisError, RedisReplyError, utf8_bytes_as_strings

from conftest import RedisServer


@pytest.mark.asyncio
async def test_pubsub_basic(mp):
    cr = mp.database().commandreply
    async with mp.pubsub(decoder=utf8_bytes_as_strings) as ps:
        await ps.add('Hello')
        assert await cr(b'PUBLISH', 'Hello', 'World!') == 1
        assert await ps.message() == ['subscribe', 'Hello', 1]
        assert await ps.message() == ['message', 'Hello', 'World!']
        assert await ps.message(timeout=0.05) is None


@pytest.mark.asyncio
async def test_pubsub_patterns_and_bytes(mp):
    cr = mp.database().commandreply
    async with mp.pubsub() as ps:
        await ps.add(channels=['a', b'b'], patterns='news.*')
        got = [await ps.message() for _ in range(3)]
        assert sorted(m[:2] for m in got) == sorted([[b'subscribe', b'a'], [b'subscribe', b'b'],
                                                     [b'psubscribe', b'news.*']])
        assert all(isinstance(m[2], int) for m in got)
        await cr('PUBLISH', 'news.tech', 'x')
        assert await ps.message() == [b'pmessage', b'news.*', b'news.tech', b'x']
        assert ps.channels == {b'a', b'b'} and ps.patterns == {b'news.*'}


@pytest.mark.asyncio
async def test_pubsub_remove_channels_keeps_patterns(mp):
    cr = mp.database().commandreply
    async with mp.pubsub() as ps:
        await ps.add(channels=['c1', 'c2'], patterns=['p.*'])
        for _ in range(3):
            await ps.message()
        await ps.remove(channels='c1')
        assert ps.channels == {b'c2'} and ps.patterns == {b'p.*'}
        await cr('PUBLISH', 'c1', 'gone')
        await cr('PUBLISH', 'p.1', 'pat')
        await cr('PUBLISH', 'c2', 'chan')
        assert await ps.message() == [b'pmessage', b'p.*', b'p.1', b'pat']
        assert await ps.message() == [b'message', b'c2', b'chan']
        await ps.remove(patterns=['p.*'])
        assert ps.channels == {b'c2'} and ps.patterns == frozenset()
        await cr('PUBLISH', 'p.1', 'pat')
        await cr('PUBLISH', 'c2', 'chan2')
        assert await ps.message() == [b'message', b'c2', b'chan2']
        await ps.remove()
        assert not ps.channels and not ps.patterns
        with pytest.raises(RedisError, match='Not registered'):
            await ps.message()


@pytest.mark.asyncio
async def test_pubsub_confirmations_carry_the_servers_count(mp):
    # As justredis: each confirmation is the server's, with its count for the
    # subscription connection (not a total computed when it is delivered).
    cr = mp.database().commandreply
    async with mp.pubsub() as ps, mp.pubsub() as other:
        await ps.add(channels=['hi', 'ho'], patterns='p*')
        assert [await ps.message() for _ in range(3)] == \
            [[b'subscribe', b'hi', 1], [b'subscribe', b'ho', 2], [b'psubscribe', b'p*', 3]]
        await ps.add(shardchannels=['{t}1', '{t}2'])
        assert [await ps.message() for _ in range(2)] == \
            [[b'ssubscribe', b'{t}1', 1], [b'ssubscribe', b'{t}2', 2]]
        # a name the connection has: the count the server has for it
        await other.add('hi')
        assert await other.message() == [b'subscribe', b'hi', 3]
        await other.add('third')
        assert await other.message() == [b'subscribe', b'third', 4]
        # after a reconnect: the server's confirmations of the resubscription
        await cr('CLIENT', 'KILL', 'TYPE', 'pubsub')
        with pytest.raises(RedisError) as ei:
            await asyncio.wait_for(ps.message(), 5)
        assert ei.value.code == jr.ECONNLOST
        got = [await asyncio.wait_for(ps.message(), 5) for _ in range(5)]
        assert sorted(got) == sorted([[b'subscribe', b'hi', 1], [b'subscribe', b'ho', 2],
                                      [b'psubscribe', b'p*', 4], [b'ssubscribe', b'{t}1', 1],
                                      [b'ssubscribe', b'{t}2', 2]])
        with pytest.raises(RedisError):
            await asyncio.wait_for(other.message(), 5)
        assert sorted([await asyncio.wait_for(other.message(), 5) for _ in range(2)]) == \
            [[b'subscribe', b'hi', 1], [b'subscribe', b'third', 3]]
        assert await ps.message(timeout=0.1) is None
        assert await cr('PUBLISH', 'hi', 'x') == 1
        assert await ps.message() == [b'message', b'hi', b'x']


@pytest.mark.asyncio
async def test_pubsub_shared_between_instances(mp):
    cr = mp.database().commandreply
    a, b = mp.pubsub(), mp.pubsub()
    await a.add('shared')
    await b.add('shared')
    assert (await a.message())[:2] == [b'subscribe', b'shared']
    assert (await b.message())[:2] == [b'subscribe', b'shared']
    assert await cr('PUBLISH', 'shared', 'm') == 1  # one subscription connection
    assert await a.message() == [b'message', b'shared', b'm']
    assert await b.message() == [b'message', b'shared', b'm']
    await a.aclose()
    await cr('PUBLISH', 'shared', 'n')
    assert await b.message() == [b'message', b'shared', b'n']
    with pytest.raises(RedisError, match='closed'):
        await a.message()
    await b.remove('shared')
    assert await cr('PUBLISH', 'shared', 'o') == 0
    await b.aclose()


@pytest.mark.asyncio
async def test_pubsub_ping(mp):
    async with mp.pubsub(decoder=utf8_bytes_as_strings) as ps:
        await ps.add('x')
        await ps.message()
        await ps.ping()
        assert await ps.message() == ['pong', '']
        await ps.ping('hi')
        assert await ps.message() == ['pong', 'hi']


@pytest.mark.asyncio
async def test_pubsub_message_waits_and_wakes(mp):
    cr = mp.database().commandreply
    async with mp.pubsub() as ps:
        await ps.add('w')
        await ps.message()
        waiter = asyncio.ensure_future(ps.message())
        await asyncio.sleep(0.02)
        assert not waiter.done()
        await cr('PUBLISH', 'w', 'late')
        assert await waiter == [b'message', b'w', b'late']


@pytest.mark.asyncio
async def test_pubsub_closed_by_multiplexer(config):
    mp = jr.MultiplexerPool(config)
    ps = mp.pubsub()
    await ps.add('z')
    await ps.message()
    waiter = asyncio.ensure_future(ps.message())
    await asyncio.sleep(0.01)
    await mp.aclose()
    with pytest.raises(RedisError):
        await waiter
    with pytest.raises(RedisError):
        await ps.add('y')


@pytest.mark.asyncio
async def test_pubsub_encoder_error(mp):
    async with mp.pubsub() as ps:
        with pytest.raises(ValueError):
            await ps.add(True)
        await ps.add('ok')
        assert (await ps.message())[1] == b'ok'


@pytest.mark.asyncio
async def test_pubsub_resubscribes_after_connection_loss(mp, port):
    from conftest import raw
    cr = mp.database().commandreply
    async with mp.pubsub() as ps:
        await ps.add('r')
        await ps.message()
        raw(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')
        with pytest.raises(RedisError) as ei:
            await asyncio.wait_for(ps.message(), 5)
        assert ei.value.code == jr.ECONNLOST
        # libjr resubscribes by itself; the server's confirmation shows it (as
        # in the seed, with the server's count)
        assert await asyncio.wait_for(ps.message(), 5) == [b'subscribe', b'r', 1]
        assert await cr('PUBLISH', 'r', 'again') == 1
        assert await asyncio.wait_for(ps.message(), 5) == [b'message', b'r', b'again']


@pytest.mark.asyncio
async def test_monitor(mp):
    async with mp.monitor(decoder=utf8_bytes_as_strings) as mon:
        db = mp.database()
        for _ in range(50):
            await db.commandreply('SET', 'monitored', 'v')
            line = await mon.message(timeout=0.2)
            if line is not None:
                break
        seen = [line]
        while not any('"monitored"' in (l or '') for l in seen):
            seen.append(await asyncio.wait_for(mon.message(), 5))
        assert isinstance(seen[-1], str)


@pytest.mark.asyncio
async def test_pubsub_add_unreachable_server_times_out():
    from conftest import free_port
    cfg = {'endpoints': [('127.0.0.1', free_port())], 'connectretry': 0,
           'commandtimeout': 0.3}
    async with jr.MultiplexerPool(cfg) as mp:
        ps = mp.pubsub()
        with pytest.raises(RedisError) as ei:
            await ps.add('x')
        assert ei.value.code == jr.ETIMEDOUT
        # libjr reports the subscription connection it could not establish
        # (once), as a lost connection
        with pytest.raises(RedisError) as ei:
            await ps.message(timeout=1)
        assert ei.value.code == jr.ECONNLOST and not ei.value.unsent
        assert await ps.message(timeout=0.05) is None


@pytest.mark.asyncio
async def test_pubsub_ping_without_topics(mp):
    async with mp.pubsub() as ps:
        await ps.ping('alone')
        assert await asyncio.wait_for(ps.message(), 5) == [b'pong', b'alone']


@pytest.mark.asyncio
async def test_pubsub_sharded_channels(mp):
    cr = mp.database().commandreply
    async with mp.pubsub(decoder=utf8_bytes_as_strings) as a, \
            mp.pubsub(decoder=utf8_bytes_as_strings) as b:
        await a.add(shardchannels=['s1', 's2'], channels='s1')
        got = sorted([await a.message() for _ in range(3)])
        # the server's counts: sharded channels of the node's connection
        assert sorted(m[2] for m in got[:2]) == [1, 2]
        assert [m[:2] for m in got] == [['ssubscribe', 's1'], ['ssubscribe', 's2'],
                                        ['subscribe', 's1']]
        assert got[2][2] == 1
        await b.add(shardchannels='s1')
        assert await b.message() == ['ssubscribe', 's1', 2]  # the connection has s1 and s2
        assert a.shardchannels == {b's1', b's2'} and a.channels == {b's1'}
        assert await cr('SPUBLISH', 's1', 'sharded') == 1  # one server subscription for a and b
        assert await a.message() == ['smessage', 's1', 'sharded']
        assert await b.message() == ['smessage', 's1', 'sharded']
        assert await cr('PUBLISH', 's1', 'plain') == 1
        assert await a.message() == ['message', 's1', 'plain']
        await a.remove(shardchannels=['s1', 's2'])
        assert a.shardchannels == frozenset() and a.channels == {b's1'}
        assert await cr('SPUBLISH', 's2', 'gone') == 0
        assert await cr('SPUBLISH', 's1', 'b only') == 1
        assert await b.message() == ['smessage', 's1', 'b only']
        assert await a.message(timeout=0.05) is None


@pytest.mark.asyncio
async def test_pubsub_refused_channel_raises_in_add():
    srv = RedisServer('--user', 'lim', 'on', '>pw', '~*', 'resetchannels', '&ok:*', '+@all')
    try:
        async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                    'username': 'lim', 'password': 'pw'}) as mp:
            async with mp.pubsub() as ps:
                with pytest.raises(RedisReplyError, match='NOPERM'):
                    await ps.add('no:chan')
                with pytest.raises(RedisReplyError, match='NOPERM'):
                    await ps.add(shardchannels='no:shard')
                assert not ps.channels and not ps.shardchannels
                await ps.add('ok:chan', shardchannels='ok:shard')
                assert sorted(m[0] for m in [await ps.message(), await ps.message()]) == \
                    [b'ssubscribe', b'subscribe']
                assert await mp.database().commandreply('SPUBLISH', 'ok:shard', 'x') == 1
                assert await ps.message() == [b'smessage', b'ok:shard', b'x']
    finally:
        srv.stop()
