# SPDX-License-Identifier: MIT
"""Redis Sentinel through the configuration keys (sentinels, sentinelmaster,
sentinelusername, sentinelpassword, and the redis-sentinel:// URL): a
master (the session's redis-server) and one sentinel that monitors it,
started on a free loopback port and stopped by PID."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import pytest_asyncio

import jr
from jr import MultiplexerPool

from conftest import free_port, raw


class Sentinel:
    def __init__(self, master_port, *extra_lines):
        exe = shutil.which('redis-server') or '/usr/bin/redis-server'
        self.dir = tempfile.mkdtemp(prefix='jr-py-sentinel-')
        self.port = free_port()
        conf = os.path.join(self.dir, 'sentinel.conf')  # sentinel rewrites it
        with open(conf, 'w') as f:
            f.write('port %d\nbind 127.0.0.1\ndir %s\n' % (self.port, self.dir))
            f.write('sentinel monitor mymaster 127.0.0.1 %d 1\n' % master_port)
            f.write('sentinel down-after-milliseconds mymaster 5000\n')
            for line in extra_lines:
                f.write(line + '\n')
        self.proc = subprocess.Popen([exe, conf, '--sentinel'], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                raw(self.port, 'PING')  # PONG, or NOAUTH with a password
                break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('redis-server --sentinel did not start on %d' % self.port)
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # by PID
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope='module')
def sentinel(redis_server):
    s = Sentinel(redis_server.port)
    yield s
    s.stop()


@pytest.fixture(scope='module')
def sentinel_auth(redis_server):
    s = Sentinel(redis_server.port, 'user default off',
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
