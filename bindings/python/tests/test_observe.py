# SPDX-License-Identifier: MIT
"""Observability: stats() against what each test did, the latency histogram
against known delays (DEBUG SLEEP), Prometheus text, the `jr` logger, and
libjr's error detail in exception text."""
import asyncio
import dataclasses
import logging
import os
import re
import time

import pytest

import jr
from jr import MultiplexerPool, RedisError

from conftest import RedisServer, free_port, raw


def ep(port):
    return '127.0.0.1:%d' % port


async def settle(mp, **want):
    """Waits (up to 5 s) until the counters in want have those values: the
    loop thread counts a disconnect or a reconnect a moment after the
    command that saw it."""
    deadline = time.monotonic() + 5
    while True:
        s = mp.stats()
        if all(getattr(s, k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return s
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_counters_match_what_was_done(config, port):
    async with MultiplexerPool(config) as mp:
        assert mp.stats() == jr.Stats()  # nothing made yet: all zero
        assert mp.stats_text() == '' and mp.latency(50) is None
        db = mp.database()
        n = 200
        replies = await asyncio.gather(*[db.commandreply('SET', 'k%d' % i, 'v') for i in range(n)])
        assert replies == [b'OK'] * n
        for _ in range(3):
            with pytest.raises(jr.RedisReplyError):
                await db.commandreply('NOSUCHCOMMAND')
        s = mp.stats()
        assert (s.submitted, s.completed, s.in_flight, s.queued) == (n + 3, n + 3, 0, 0)
        assert (s.server_errors, s.library_errors, s.timeouts, s.cancels) == (3, 0, 0, 0)
        assert (s.connects, s.disconnects, s.connect_failures, s.redirects) == (1, 0, 0, 0)
        assert s.bytes_written > n * len('*3\r\n$3\r\nSET\r\n') and s.bytes_read >= n * 5
        assert [e.endpoint for e in s.endpoints] == [ep(port)]
        e = s.endpoints[0]
        assert (e.completed, e.server_errors, e.connects, e.connections) == (n + 3, 3, 1, 1)
        assert (e.bytes_written, e.bytes_read) == (s.bytes_written, s.bytes_read)
        assert 0 < s.latency_p50 <= s.latency_p90 <= s.latency_p99 <= s.latency_p999 < 5

        # Prometheus text: the same figures.
        text = mp.stats_text()
        assert 'jr_requests_submitted_total %d\n' % (n + 3) in text
        assert 'jr_commands_completed_total{endpoint="%s"} %d\n' % (ep(port), n + 3) in text
        assert 'jr_commands_server_errors_total{endpoint="%s"} 3\n' % ep(port) in text
        assert re.search(r'^# TYPE jr_request_duration_seconds histogram$', text, re.M)


@pytest.mark.parametrize('protocol', [2, 3])
@pytest.mark.asyncio
async def test_client_cache_counts_hits_and_invalidations(config, port, protocol, request):
    # protocol 2: invalidations come on a connection of libjr's own; 3: as
    # pushes on the shared connection (needs RESP3 in libjr).
    if protocol == 3:
        request.getfixturevalue('resp3')
    async with MultiplexerPool({**config, 'clientcache': 1 << 20, 'protocol': protocol}) as mp:
        db = mp.database()
        assert await db.commandreply('SET', 'cc:k', 'v1') == b'OK'
        await db.commandreply('GET', 'cc:k')  # a miss, which fills once tracking is up
        deadline = time.monotonic() + 5
        while mp.stats().cache_hits == 0:
            assert time.monotonic() < deadline, mp.stats()
            assert await db.commandreply('GET', 'cc:k') == b'v1'
        # Another connection's write invalidates it: the next read is fresh.
        raw(port, 'SET', 'cc:k', 'v2')
        while await db.commandreply('GET', 'cc:k') != b'v2':
            assert time.monotonic() < deadline + 5, mp.stats()
            await asyncio.sleep(0.01)
        s = mp.stats()
        assert s.cache_hits >= 1 and s.cache_misses >= 1 and s.cache_invalidations >= 1


@pytest.mark.asyncio
async def test_timeouts_cancels_and_a_kill(config, port):
    async with MultiplexerPool(config) as mp:
        db = mp.database()
        assert await db.commandreply('PING') == b'PONG'
        # a deadline that passes: one timeout, one library error
        with pytest.raises(RedisError) as ei:
            await db.commandreply('DEBUG', 'SLEEP', '0.3', timeout=0.05)
        assert ei.value.code == jr.ETIMEDOUT
        # a cancelled blocking command: one cancel
        task = asyncio.ensure_future(db.commandreply('BLPOP', 'nolist', 0))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        s = await settle(mp, cancels=1, completed=3)
        assert (s.submitted, s.completed, s.timeouts, s.cancels, s.library_errors) == (3, 3, 1, 1, 2)
        # the server drops the shared connection: one disconnect, then one connect
        before = s
        raw(port, 'CLIENT', 'KILL', 'TYPE', 'normal')
        await settle(mp, disconnects=before.disconnects + 1)
        assert await db.commandreply('PING') == b'PONG'
        s = await settle(mp, connects=before.connects + 1)
        assert s.disconnects == before.disconnects + 1 and s.connects == before.connects + 1


@pytest.mark.asyncio
async def test_latency_against_known_delays(config, port):
    async with MultiplexerPool(config) as mp:
        db = mp.database()
        await db.commandreply('PING')
        for _ in range(3):
            await db.commandreply('DEBUG', 'SLEEP', '0.1')
        # 1 fast request, 3 of ~100 ms: the median is one of those; libjr's
        # bucket bound is at most 25% above it (plus slack for a loaded machine).
        p50 = mp.latency(50)
        assert p50 is not None and 0.1 <= p50 <= 0.2, p50
        assert mp.latency(10) < 0.05  # the PING
        assert mp.stats().latency_p50 == p50
        with pytest.raises(ValueError):
            mp.latency(101)


@pytest.mark.asyncio
async def test_error_detail_names_endpoint_and_cause():
    closed = free_port()
    async with MultiplexerPool({'endpoints': [('127.0.0.1', closed)], 'connectretry': 1}) as mp:
        with pytest.raises(RedisError) as ei:
            await mp.database().commandreply('PING')
        e = ei.value
        assert e.code == jr.ECONNECT and e.unsent
        assert e.detail == 'connect 127.0.0.1:%d: ECONNREFUSED: connection refused' % closed
        assert str(e).endswith(': ' + e.detail) and jr._native.ext.strerror(e.code) in str(e)
        s = mp.stats()
        assert (s.completed, s.library_errors, s.connects, s.connect_failures) == (1, 1, 0, 2)
    # an error without detail (a deadline) has None
    assert RedisError('x', jr.ETIMEDOUT).detail is None


@pytest.mark.asyncio
async def test_wrong_password_detail():
    srv = RedisServer('--requirepass', 'right')
    try:
        conf = {'endpoints': [('127.0.0.1', srv.port)], 'password': 'wrong', 'connectretry': 1}
        async with MultiplexerPool(conf) as mp:
            with pytest.raises(jr.RedisReplyError) as ei:
                await mp.database().commandreply('PING')
        e = ei.value
        assert str(e).startswith('WRONGPASS') and e.code == jr.EAUTH and e.unsent
        assert e.detail is not None and ep(srv.port) in e.detail and 'wrong' not in e.detail
    finally:
        srv.stop()


@pytest.mark.asyncio
async def test_logs_reach_the_jr_logger(config, port, caplog):
    caplog.set_level(logging.DEBUG, logger='jr')
    async with MultiplexerPool(config) as mp:
        db = mp.database()
        assert await db.commandreply('PING') == b'PONG'
        raw(port, 'CLIENT', 'KILL', 'TYPE', 'normal')
        await settle(mp, disconnects=1)
        assert await db.commandreply('PING') == b'PONG'
        await asyncio.sleep(0.05)  # the reader of the log eventfd runs on the loop
    recs = [r for r in caplog.records if r.name == 'jr']
    assert recs, 'no record on the jr logger'
    levels = {r.levelno for r in recs}
    assert logging.INFO in levels and logging.WARNING in levels, levels
    connected = [r for r in recs if r.levelno == logging.INFO and 'connected' in r.getMessage()
                 and r.jr_endpoint == ep(port)]
    assert len(connected) >= 2, [r.getMessage() for r in recs]  # before and after the kill
    assert all(r.getMessage().startswith(r.jr_endpoint + ': ') for r in recs if r.jr_endpoint)
    assert any(r.levelno == logging.WARNING and r.jr_endpoint == ep(port) for r in recs)


@pytest.mark.asyncio
async def test_log_level_filter(config, port, caplog):
    # The `jr` logger at WARNING: the extension does not even queue libjr's
    # info and debug lines (set_log_level follows the logger's level).
    caplog.set_level(logging.WARNING, logger='jr')
    async with MultiplexerPool(config) as mp:
        c = mp._open()
        mp._loop.remove_reader(c.log_fileno())  # read the queue here instead
        assert await mp.database().commandreply('PING') == b'PONG'
        assert c.logs() == []  # "connecting", "connected": info and debug
        c.set_log_level(jr._native.ext.LOG_INFO)
        raw(port, 'CLIENT', 'KILL', 'TYPE', 'normal')
        await settle(mp, disconnects=1)
        assert await mp.database().commandreply('PING') == b'PONG'
        rows = c.logs()
        levels = {level for level, _, _, _ in rows}
        assert levels == {jr._native.ext.LOG_WARN, jr._native.ext.LOG_INFO}, rows


@pytest.mark.asyncio
async def test_stats_after_close(config):
    mp = MultiplexerPool(config)
    assert await mp.database().commandreply('PING') == b'PONG'
    await mp.aclose()
    with pytest.raises(RedisError) as ei:
        mp.stats()
    assert ei.value.code == jr.ECLOSED


@pytest.mark.asyncio
async def test_log_queue_is_bounded(config):
    # Nobody takes the lines: the queue keeps 4096, counts the rest and
    # reports them as one warning first. (WAIT 0 0 runs on a pooled
    # connection and returns at once; each of the 10 pooled connections logs
    # a debug line as it goes back to idle.)
    async with MultiplexerPool(config) as mp:
        c = mp._open()
        mp._loop.remove_reader(c.log_fileno())
        c.set_log_level(jr._native.ext.LOG_DEBUG)
        db = mp.database()
        for _ in range(500):
            assert await db.commandreplies([('WAIT', 0, 0)] * 10) == [0] * 10
        rows = c.logs()
        assert len(rows) == 4097, len(rows)
        level, _, _, text = rows[0]
        assert level == jr._native.ext.LOG_WARN
        m = re.fullmatch(r'(\d+) libjr log lines dropped \(more than 4096 were waiting\)', text)
        assert m and int(m.group(1)) >= 500 * 10 - 4096, text
        assert c.logs() == []  # taken


def header_struct_fields(struct):
    """The uint64_t fields of `typedef struct <struct> {...}` in the jr.h of
    $JR_PREFIX (scripts/test sets it), or None without one."""
    prefix = os.environ.get('JR_PREFIX')
    path = prefix and os.path.join(prefix, 'include', 'jr', 'jr.h')
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    body = re.search(r'typedef struct %s \{(.*?)\} %s;' % (struct, struct), text, re.S)
    assert body, struct
    code = re.sub(r'/\*.*?\*/', '', body.group(1), flags=re.S)
    return re.findall(r'uint64_t\s+(\w+);', code)


@pytest.mark.asyncio
async def test_every_counter_of_the_header_is_exposed(mp):
    # A counter libjr adds to jr.h fails this until the extension's table and
    # the dataclasses have it.
    stats, endpoint = header_struct_fields('jr_stats'), header_struct_fields('jr_endpoint_stats')
    if stats is None:
        pytest.skip('no $JR_PREFIX/include/jr/jr.h to compare with')
    assert await mp.database().commandreply('PING') == b'PONG'
    c = mp._c
    assert set(c.stats()) == set(stats)
    assert set(c.endpoint_stats()[0]) == set(endpoint) | {'endpoint'}
    assert set(stats) <= {f.name for f in dataclasses.fields(jr.Stats)}
    assert set(endpoint) <= {f.name for f in dataclasses.fields(jr.EndpointStats)}
