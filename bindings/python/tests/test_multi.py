# SPDX-License-Identifier: MIT
"""MULTI/EXEC blocks and conditional transactions (WATCH)."""
import asyncio

import pytest

import jr
from jr import RedisError, RedisReplyError, utf8_bytes_as_strings

from conftest import raw


@pytest.mark.asyncio
async def test_multi_results(db):
    async with db.multi() as m:
        a = m.command(b'SET', 'Hello', 'World!')
        b = m.command(b'GET', 'Hello', decoder=utf8_bytes_as_strings)
        c = m.command('INCR', 'n')
    assert await a == b'OK'
    assert await b() == 'World!'
    assert await c == 1


@pytest.mark.asyncio
async def test_multi_command_is_not_awaitable_inside(db):
    async with db.multi() as m:
        h = m.command('SET', 'a', 1)
        assert not asyncio.iscoroutine(h)
        with pytest.raises(RedisError, match='not finalized'):
            await h
    assert await h == b'OK'


@pytest.mark.asyncio
async def test_multi_is_atomic_and_not_interleaved(db):
    async def tx(i):
        async with db.multi() as m:
            hs = [m.command('RPUSH', 'l', '%d-%d' % (i, j)) for j in range(5)]
        return [await h for h in hs]

    async def other():
        return await db.commandreply('RPUSH', 'l', 'x')

    await asyncio.gather(*[tx(i) for i in range(20)], *[other() for _ in range(20)])
    items = await db.commandreply('LRANGE', 'l', 0, -1, decoder=utf8_bytes_as_strings)
    assert len(items) == 120
    # each transaction's five items are contiguous
    for i in range(20):
        k = items.index('%d-0' % i)
        assert items[k:k + 5] == ['%d-%d' % (i, j) for j in range(5)]


@pytest.mark.asyncio
async def test_multi_discard_on_exception(db, port):
    with pytest.raises(ZeroDivisionError):
        async with db.multi() as m:
            h = m.command('SET', 'never', 1)
            1 / 0
    with pytest.raises(RedisError) as ei:
        await h
    assert ei.value.code == jr.EDISCARDED
    assert raw(port, 'EXISTS', 'never') == 0
    assert await db.commandreply('PING') == b'PONG'


@pytest.mark.asyncio
async def test_multi_explicit_discard_and_finished(db, port):
    async with db.multi() as m:
        h = m.command('SET', 'never', 1)
        await m.discard()
        with pytest.raises(RedisError, match='already finished'):
            m.command('SET', 'x', 1)
        with pytest.raises(RedisError, match='already finished'):
            await m.discard()
    with pytest.raises(RedisError):
        await h
    assert raw(port, 'EXISTS', 'never') == 0
    m2 = db.multi()
    m2.command('SET', 'k', 1)
    await m2.execute()
    with pytest.raises(RedisError, match='already finished'):
        await m2.execute()


@pytest.mark.asyncio
async def test_multi_empty_sends_nothing(db):
    async with db.multi():
        pass
    assert await db.commandreply('PING') == b'PONG'


@pytest.mark.asyncio
async def test_multi_runtime_error_is_per_command(db):
    await db.commandreply('SET', 's', 'text')
    async with db.multi() as m:
        a = m.command('INCR', 's')  # fails at run time
        b = m.command('SET', 'ok', 1)
        c = m.command('INCR', 's', throw=False)
    with pytest.raises(RedisReplyError):  # a RedisReplyError, not a raw parser error
        await a
    assert await b == b'OK'
    assert isinstance(await c, RedisReplyError)


@pytest.mark.asyncio
async def test_multi_execabort(db, port):
    async with db.multi() as m:
        a = m.command('SET', 'k', 1)
        b = m.command('NOSUCHCOMMAND')
    with pytest.raises(RedisReplyError):
        await a
    with pytest.raises(RedisReplyError) as ei:
        await b
    assert 'unknown command' in str(ei.value) or 'EXECABORT' in str(ei.value)
    assert raw(port, 'EXISTS', 'k') == 0


@pytest.mark.asyncio
async def test_multi_refuses_and_encoder_errors_before_send(db, port):
    async with db.multi() as m:
        with pytest.raises(RedisError) as ei:
            m.command('SUBSCRIBE', 'x')
        assert ei.value.code == jr.EREFUSED
        with pytest.raises(ValueError):
            m.command('SET', 'b', True)
        with pytest.raises(RedisError):
            m.command()
        h = m.command('SET', 'good', 1)
    assert await h == b'OK'
    assert raw(port, 'EXISTS', 'b') == 0


@pytest.mark.asyncio
async def test_multi_in_other_databases(mp):
    d2, d3 = mp.database(2), mp.database(3)
    async with d2.multi() as m2:
        async with d3.multi() as m3:
            b = m3.command('SET', 'k', 'three')
        a = m2.command('SET', 'k', 'two')
    assert await a == b'OK' and await b == b'OK'
    assert await d2.commandreply('GET', 'k') == b'two'
    assert await d3.commandreply('GET', 'k') == b'three'
    assert await mp.database().commandreply('GET', 'k') is None


@pytest.mark.asyncio
async def test_watch_increment(db):
    for _ in range(3):
        async with db.watch('Counter') as w:
            value = int(await w.commandreply(b'GET', 'Counter') or 0)
            async with w.multi() as m:
                h = m.command(b'SET', 'Counter', value + 1)
        assert await h == b'OK'
    assert await db.commandreply('GET', 'Counter') == b'3'


@pytest.mark.asyncio
async def test_watch_conflict_raises_at_block_exit(db, port):
    await db.commandreply('SET', 'w', 1)
    async with db.watch('w') as w:
        assert await w.commandreply('GET', 'w') == b'1'
        raw(port, 'SET', 'w', 'changed')  # another client changes the key
        with pytest.raises(RedisError) as ei:
            async with w.multi() as m:
                h = m.command('SET', 'w', 2)
        assert ei.value.code == jr.EWATCH
    with pytest.raises(RedisError) as ei:
        await h
    assert ei.value.code == jr.EWATCH
    assert await db.commandreply('GET', 'w') == b'changed'


@pytest.mark.asyncio
async def test_watch_handles_and_misuse(db):
    with pytest.raises(RedisError, match='No keys'):
        db.watch()
    await db.commandreply('SET', 'a', 'x')
    async with db.watch('a', 'b') as w:
        h = await w.command('GET', 'a')
        assert await h == b'x'
        assert await w.commandreply('GET', 'a', decoder=utf8_bytes_as_strings) == 'x'
        with pytest.raises(RedisReplyError):
            await w.commandreply('LPUSH', 'a', 1)
        async with w.multi() as m:
            m.command('SET', 'b', 1)
        with pytest.raises(RedisError, match='Already entered'):
            w.multi()
    assert await db.commandreply('GET', 'b') == b'1'


@pytest.mark.asyncio
async def test_watch_discard_and_aclose(db, port):
    w = db.watch('k')
    await w.commandreply('GET', 'k')
    with pytest.raises(KeyError):
        async with w.multi() as m:
            h = m.command('SET', 'k', 1)
            raise KeyError('abort')
    await w.aclose()
    with pytest.raises(RedisError):
        await h
    assert raw(port, 'EXISTS', 'k') == 0
    with pytest.raises(RedisError):
        await w.commandreply('GET', 'k')
    assert await db.commandreply('PING') == b'PONG'


@pytest.mark.asyncio
async def test_many_watches_share_pool(db):
    # more concurrent watches than maxconnections (10): they queue for the pool
    async def incr():
        while True:
            async with db.watch('c') as w:
                v = int(await w.commandreply('GET', 'c') or 0)
                try:
                    async with w.multi() as m:
                        m.command('SET', 'c', v + 1)
                    return
                except RedisError as e:
                    assert e.code == jr.EWATCH

    await asyncio.gather(*[incr() for _ in range(25)])
    assert await db.commandreply('GET', 'c') == b'25'
