# SPDX-License-Identifier: MIT
"""Database commands: command / commandreply, handles, encoders, decoders,
throw, errors of both kinds, databases, concurrency, cancellation, close."""
import asyncio

import pytest

import jr
from jr import (MultiplexerPool, RedisError, RedisReplyError, bytes_as_strings, encode,
                utf8_bytes_as_strings, utf8_encode)

from conftest import raw


@pytest.mark.asyncio
async def test_command_returns_handle(db):
    h = await db.command(b'SET', 'Hello', 'World!')
    assert isinstance(h, jr.Command)
    assert await h == b'OK'
    assert await h() == b'OK'  # awaiting twice gives the same reply
    assert await db.commandreply(b'GET', 'Hello') == b'World!'


@pytest.mark.asyncio
async def test_pipelined_handles_in_order(db):
    handles = [await db.command('RPUSH', 'l', i) for i in range(100)]
    assert [await h for h in handles] == list(range(1, 101))
    assert await db.commandreply('LRANGE', 'l', 0, 2) == [b'0', b'1', b'2']


@pytest.mark.asyncio
async def test_reply_types(db):
    cr = db.commandreply
    assert await cr('SET', 'k', 'v') == b'OK'  # status
    assert await cr('INCR', 'n') == 1  # integer
    assert await cr('GET', 'missing') is None  # nil
    assert await cr('LRANGE', 'missing', 0, -1) == []  # empty array
    await cr('HSET', 'h', 'f', 'v')
    assert await cr('HGETALL', 'h') == [b'f', b'v']
    assert await cr('GET', 'k', decoder=utf8_bytes_as_strings) == 'v'
    # nested arrays
    r = await cr('EVAL', "return {1, {2, 'x'}, redis.error_reply('E bad')}", 0)
    assert r[:2] == [1, [2, b'x']]
    assert isinstance(r[2], RedisReplyError) and str(r[2]) == 'E bad'


@pytest.mark.asyncio
async def test_binary_safe_and_large(db):
    blob = bytes(range(256)) * 4096  # 1 MiB with NULs and CRLFs
    await db.commandreply(b'SET', b'bin\r\n\x00', blob)
    assert await db.commandreply(b'GET', b'bin\r\n\x00') == blob
    assert await db.commandreply('SET', bytearray(b'ba'), bytearray(b'x\x00y')) == b'OK'
    assert await db.commandreply('GET', 'ba') == b'x\x00y'


@pytest.mark.asyncio
async def test_default_encoder(db):
    cr = db.commandreply
    await cr('SET', 'i', 42)
    assert await cr('GET', 'i') == b'42'
    await cr('SET', 'big', 2 ** 70)
    assert await cr('GET', 'big') == str(2 ** 70).encode()
    await cr('SET', 'f', 0.1)
    assert await cr('GET', 'f') == b'0.1'
    await cr('SET', 'u', 'h\u00e9llo \u2603')
    assert await cr('GET', 'u') == 'h\u00e9llo \u2603'.encode()
    assert await cr('get', 'u', decoder=utf8_bytes_as_strings) == 'h\u00e9llo \u2603'
    assert utf8_encode(3) == b'3' and utf8_encode(1.5) == b'1.5' and utf8_encode('a') == b'a'
    with pytest.raises(ValueError):
        utf8_encode(True)
    with pytest.raises(ValueError):
        utf8_encode(None)


@pytest.mark.asyncio
async def test_encoder_error_before_anything_is_sent(db, port):
    cid = await db.commandreply('CLIENT', 'ID')
    for bad in (True, False, None, object(), [1]):
        with pytest.raises(ValueError):
            await db.commandreply('SET', 'a', bad)
        with pytest.raises(ValueError):
            await db.command('SET', 'a', bad)
    with pytest.raises(ValueError):
        await db.commandreply('SET', 'a', True, encoder=encode('latin-1'))
    assert raw(port, 'EXISTS', 'a') == 0  # nothing reached the server
    # and the shared connection is still the same one, and usable
    assert await db.commandreply('CLIENT', 'ID') == cid
    assert await db.commandreply('SET', 'a', 1) == b'OK'


@pytest.mark.asyncio
async def test_custom_encoders(mp):
    latin = encode('latin-1')
    db = mp.database(encoder=latin)
    await db.commandreply('SET', 'l', '\u00e9')
    assert await db.commandreply('GET', 'l') == b'\xe9'
    # per command encoder beats the database one
    await db.commandreply('SET', 'l', '\u00e9', encoder=utf8_encode)
    assert await db.commandreply('GET', 'l') == b'\xc3\xa9'
    with pytest.raises(UnicodeEncodeError):  # a ValueError
        await db.commandreply('SET', 'l', '\u2603')
    upper = lambda v: utf8_encode(v).upper()  # noqa: E731
    d2 = mp.database()
    await d2.commandreply('set', 'k', 'abc', encoder=upper)  # 'SET', 'K', 'ABC'
    assert await d2.commandreply('GET', 'K') == b'ABC'


@pytest.mark.asyncio
async def test_decoders(mp):
    await mp.database().commandreply('RPUSH', 'l', '\u00e9', 'b')
    db = mp.database(decoder=utf8_bytes_as_strings)
    assert await db.commandreply('LRANGE', 'l', 0, -1) == ['\u00e9', 'b']
    assert await db.commandreply('LRANGE', 'l', 0, -1,
                                 decoder=bytes_as_strings('latin-1')) == ['\xc3\xa9', 'b']
    assert await db.commandreply('LLEN', 'l') == 2  # ints pass through
    assert await db.commandreply('GET', 'none') is None
    h = await db.command('LRANGE', 'l', 0, 0)
    assert await h == ['\u00e9']
    await mp.database().commandreply('SET', 'x', b'\xff')
    with pytest.raises(UnicodeDecodeError):
        await db.commandreply('GET', 'x')


@pytest.mark.asyncio
async def test_server_error_reply(db):
    with pytest.raises(RedisReplyError) as ei:
        await db.commandreply('NOSUCHCOMMAND', 'x')
    assert 'unknown command' in str(ei.value)
    assert ei.value.prefix == 'ERR'
    await db.commandreply('SET', 's', 'v')
    with pytest.raises(RedisReplyError, match='WRONGTYPE'):
        await db.commandreply('LPUSH', 's', 1)
    h = await db.command('INCR', 's')
    with pytest.raises(RedisReplyError):
        await h
    # not a RedisError: the two kinds are distinct
    assert not issubclass(RedisReplyError, RedisError)
    assert not issubclass(RedisError, RedisReplyError)
    assert await db.commandreply('PING') == b'PONG'


@pytest.mark.asyncio
async def test_throw_false(db):
    await db.commandreply('SET', 's', 'v')
    e = await db.commandreply('LPUSH', 's', 1, throw=False)
    assert isinstance(e, RedisReplyError)
    h = await db.command('LPUSH', 's', 1, throw=False)
    assert isinstance(await h, RedisReplyError)
    assert await db.commandreply('GET', 's', throw=False) == b'v'


@pytest.mark.asyncio
async def test_library_errors(db, port):
    # refused: breaks multiplexing; names the replacement API; nothing sent
    for cmd in (('SELECT', 1), ('AUTH', 'x'), ('MULTI',), ('EXEC',), ('WATCH', 'k'),
                ('SUBSCRIBE', 'c'), ('MONITOR',), ('QUIT',)):
        with pytest.raises(RedisError) as ei:
            await db.commandreply(*cmd)
        assert ei.value.code == jr.EREFUSED
        assert ei.value.unsent is True
        assert ei.value.name == 'JR_EREFUSED'
    with pytest.raises(RedisError, match=r'use multiplexer\.database\(n\)'):
        await db.commandreply('select', 1)
    # empty command
    with pytest.raises(RedisError) as ei:
        await db.commandreply()
    assert ei.value.code == jr.EINVAL and ei.value.unsent
    with pytest.raises(RedisError):
        await db.command()
    # throw=False does not apply to errors raised before sending
    with pytest.raises(RedisError):
        await db.commandreply('SELECT', 1, throw=False)


@pytest.mark.asyncio
async def test_connect_failure():
    from conftest import free_port
    p = free_port()
    async with MultiplexerPool({'endpoints': [('127.0.0.1', p)], 'connectretry': 0,
                                'connecttimeout': 0.5}) as mp:
        with pytest.raises(RedisError) as ei:
            await mp.database().commandreply('PING')
        assert ei.value.code == jr.ECONNECT
        assert ei.value.unsent is True
        assert isinstance(ei.value.code, int) and str(ei.value)
        e = await mp.database().commandreply('PING', throw=False)
        assert isinstance(e, RedisError) and e.code == jr.ECONNECT


@pytest.mark.asyncio
async def test_command_timeout(db):
    with pytest.raises(RedisError) as ei:
        await db.commandreply('DEBUG', 'SLEEP', '0.3', timeout=0.05)
    assert ei.value.code == jr.ETIMEDOUT
    assert ei.value.unsent is False  # it was written: it may have run
    # the late reply is dropped; the connection keeps working
    assert await db.commandreply('PING') == b'PONG'


# In poll mode a completion made by libjr's deadline timer must signal the
# completion fd by itself (it once waited for unrelated I/O: the late reply).
@pytest.mark.asyncio
async def test_command_timeout_is_timely(db):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(RedisError) as ei:
        await db.commandreply('DEBUG', 'SLEEP', '1.5', timeout=0.1)
    assert ei.value.code == jr.ETIMEDOUT
    assert loop.time() - t0 < 1.0


@pytest.mark.asyncio
async def test_pool_wait_timeout(config):
    # maxconnections=1: the second blocking command waits for the pool within
    # its deadline, then fails with EPOOLTIMEOUT (unsent)
    async with MultiplexerPool(dict(config, maxconnections=1)) as mp:
        db = mp.database()
        first = await db.command('BLPOP', 'pq1', 0)
        await asyncio.sleep(0.05)
        with pytest.raises(RedisError) as ei:
            await asyncio.wait_for(db.commandreply('BLPOP', 'pq2', 0, timeout=0.2), 1.5)
        assert ei.value.code == jr.EPOOLTIMEOUT and ei.value.unsent
        await db.commandreply('RPUSH', 'pq1', 'x')
        assert await first == [b'pq1', b'x']


@pytest.mark.asyncio
async def test_databases(mp, port):
    d0, d1, d2 = mp.database(), mp.database(1), mp.database(2)
    await asyncio.gather(d0.commandreply('SET', 'k', 0), d1.commandreply('SET', 'k', 1),
                         d2.commandreply('SET', 'k', 2))
    hs = [await d.command('GET', 'k') for d in (d2, d0, d1, d2, d1, d0)]
    assert [await h for h in hs] == [b'2', b'0', b'1', b'2', b'1', b'0']
    assert raw(port, 'DBSIZE') == 1
    with pytest.raises(RedisError):
        mp.database(-1)
    with pytest.raises(RedisError):
        mp.database('1')
    # a database number the server rejects: the server's SELECT error
    with pytest.raises(RedisReplyError):
        await mp.database(100000).commandreply('GET', 'k')


@pytest.mark.asyncio
async def test_configured_database(config):
    config = dict(config, database=3)
    async with MultiplexerPool(config) as mp:
        await mp.database().commandreply('SET', 'in3', 'yes')
        assert await mp.database(3).commandreply('GET', 'in3') == b'yes'
        assert await mp.database(0).commandreply('GET', 'in3') is None


@pytest.mark.asyncio
async def test_database_context_manager(db):
    async with db as (c, cr, multi, watch):
        await c('SET', 'a', 1)
        assert await cr('GET', 'a') == b'1'
        async with multi() as m:
            h = m.command('INCR', 'a')
        assert await h == 2
        async with watch('a') as w:
            assert await w.commandreply('GET', 'a') == b'2'


@pytest.mark.asyncio
async def test_thousand_concurrent_tasks(db):
    async def worker(i):
        await db.commandreply('SET', 'k%d' % i, i)
        h = await db.command('INCR', 'counter')
        v = await db.commandreply('GET', 'k%d' % i)
        return int(v), await h

    results = await asyncio.gather(*[worker(i) for i in range(1000)])
    assert [r[0] for r in results] == list(range(1000))
    assert sorted(r[1] for r in results) == list(range(1, 1001))
    assert await db.commandreply('GET', 'counter') == b'1000'


@pytest.mark.asyncio
async def test_cancelled_waiter(db):
    task = asyncio.ensure_future(db.commandreply('DEBUG', 'SLEEP', '0.2'))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await db.commandreply('PING') == b'PONG'
    # a handle whose waiter is cancelled
    h = await db.command('DEBUG', 'SLEEP', '0.1')
    t2 = asyncio.ensure_future(h())
    await asyncio.sleep(0)
    t2.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t2
    assert await db.commandreply('PING') == b'PONG'


@pytest.mark.asyncio
async def test_aclose_completes_pending_and_refuses_new(config):
    mp = MultiplexerPool(config)
    db = mp.database()
    assert await db.commandreply('PING') == b'PONG'
    slow = await db.command('DEBUG', 'SLEEP', '0.2')
    queued = [await db.command('PING') for _ in range(10)]
    await mp.aclose()
    assert mp.closed
    with pytest.raises(RedisError) as ei:
        await slow
    assert ei.value.code in (jr.ESHUTDOWN, jr.ECLOSED)
    for h in queued:
        with pytest.raises(RedisError):
            await h
    with pytest.raises(RedisError) as ei:
        await db.commandreply('PING')
    assert ei.value.code == jr.ECLOSED
    await mp.aclose()  # idempotent


@pytest.mark.asyncio
async def test_async_with_and_multiplexer_alias(config):
    async with jr.Multiplexer(config) as mp:
        assert isinstance(mp, MultiplexerPool)
        assert await mp.database().commandreply('PING') == b'PONG'
    assert mp.closed


@pytest.mark.asyncio
async def test_blocking_commands_use_dedicated_connections(mp):
    db = mp.database()
    waiters = [await db.command('BLPOP', 'q%d' % i, 0) for i in range(3)]
    # the shared connection is not stalled by the blocked pops
    assert await db.commandreply('PING') == b'PONG'
    for i in range(3):
        await db.commandreply('RPUSH', 'q%d' % i, 'v%d' % i)
    assert [await w for w in waiters] == [[b'q%d' % i, b'v%d' % i] for i in range(3)]
    assert await db.commandreply('BLPOP', 'empty', 0.1) is None  # its own timeout: nil


@pytest.mark.asyncio
async def test_eval_uses_script_cache(db, port):
    script = "return redis.call('INCR', KEYS[1])"
    raw(port, 'CONFIG', 'RESETSTAT')
    for i in range(1, 4):
        assert await db.commandreply('EVAL', script, 1, 'ev') == i
    stats = raw(port, 'INFO', 'commandstats').decode()
    assert 'cmdstat_evalsha:calls=2' in stats and 'cmdstat_eval:calls=1' in stats
    raw(port, 'SCRIPT', 'FLUSH')
    assert await db.commandreply('EVAL', script, 1, 'ev') == 4  # NOSCRIPT retried as EVAL
    with pytest.raises(RedisReplyError):
        await db.commandreply('EVAL', 'return redis.error_reply("E script")', 0)

