# SPDX-License-Identifier: MIT
"""Database.commandreplies: many commands submitted in one call into the
extension, replies in order, per-command errors, cancellation."""
import asyncio

import pytest

import jr
from jr import RedisError, RedisReplyError, encode, utf8_bytes_as_strings

from conftest import raw


@pytest.mark.asyncio
async def test_replies_in_order(mp, db, port):
    n = 1000
    assert await db.commandreplies([('SET', 'k%d' % i, i) for i in range(n)]) == [b'OK'] * n
    got = await db.commandreplies(('GET', 'k%d' % i) for i in range(n))  # any iterable
    assert got == [str(i).encode() for i in range(n)]
    assert await db.commandreplies([]) == []
    s = mp.stats()
    assert (s.submitted, s.completed, s.in_flight) == (2 * n, 2 * n, 0)
    # mixed with single commands on the same connection
    both = await asyncio.gather(db.commandreplies([['INCR', 'c']] * 10), db.commandreply('INCR', 'c'))
    assert sorted(both[0] + [both[1]]) == list(range(1, 12))


@pytest.mark.asyncio
async def test_errors_stay_in_their_place(db):
    cmds = [('SET', 'a', 'v'), ('SELECT', 1), ('NOSUCH',), ('GET', object()), (), ('GET', 'a')]
    r = await db.commandreplies(cmds, throw=False)
    assert r[0] == b'OK' and r[5] == b'v'
    assert type(r[1]) is RedisError and r[1].code == jr.EREFUSED and 'database(n)' in str(r[1])
    assert type(r[2]) is RedisReplyError and r[2].prefix == 'ERR'
    assert type(r[3]) is ValueError  # the encoder's refusal, as commandreply raises it
    assert type(r[4]) is RedisError and r[4].code == jr.EINVAL
    # throw=True: the first exception in command order, after all completed
    with pytest.raises(RedisError) as ei:
        await db.commandreplies([('SET', 'b', 1), ('SELECT', 1), ('SET', 'c', 1)])
    assert ei.value.code == jr.EREFUSED
    assert await db.commandreplies([('GET', 'b'), ('GET', 'c')]) == [b'1', b'1']  # both ran


@pytest.mark.asyncio
async def test_encoder_decoder_and_databases(mp, port):
    db2 = mp.database(2, decoder=utf8_bytes_as_strings)
    assert await db2.commandreplies([('SET', 'x', 'é'), ('GET', 'x')]) == ['OK', 'é']
    assert raw(port, 'EXISTS', 'x') == 0  # database 2, not 0
    latin = mp.database(2, encoder=encode('latin-1'))
    assert await latin.commandreplies([('SET', 'y', 'é'), ('GET', 'y')], decoder=None) == \
        [b'OK', b'\xe9']


@pytest.mark.asyncio
async def test_timeout_and_cancel(mp, db, port):
    r = await db.commandreplies([('DEBUG', 'SLEEP', '0.2'), ('PING',)], timeout=0.05,
                                throw=False)
    assert all(type(e) is jr.TimeoutError for e in r), r
    # cancelling the awaiting task cancels every command of the batch in libjr
    before = mp.stats().cancels
    task = asyncio.ensure_future(db.commandreplies([('BLPOP', 'l1', 0), ('BLPOP', 'l2', 0)]))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if mp.stats().cancels == before + 2:
            break
        await asyncio.sleep(0.01)
    assert mp.stats().cancels == before + 2
    for _ in range(100):  # the server sees the closed connections a moment later
        if b'blocked_clients:0' in raw(port, 'INFO', 'clients'):
            break
        await asyncio.sleep(0.01)
    assert b'blocked_clients:0' in raw(port, 'INFO', 'clients')
    await db.commandreply('RPUSH', 'l1', 'x')  # nobody took it
    assert await db.commandreply('LLEN', 'l1') == 1


@pytest.mark.asyncio
async def test_server_view(mp, port):
    view = mp.database(server=('127.0.0.1', port))
    assert await view.commandreplies([('SET', 's', 1), ('GET', 's')]) == [b'OK', b'1']
