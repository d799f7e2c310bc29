"""Fixtures: a private redis-server on a free loopback port (stopped by PID),
and a MultiplexerPool connected to it."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import pytest_asyncio

import jr


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, *extra):
        exe = shutil.which('redis-server') or '/usr/bin/redis-server'
        self.dir = tempfile.mkdtemp(prefix='jr-py-redis-')
        self.port = free_port()
        self.proc = subprocess.Popen(
            [exe, '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
             '--appendonly', 'no', '--dir', self.dir, '--daemonize', 'no',
             '--loglevel', 'warning', '--enable-debug-command', 'local', *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                raw(self.port, 'PING')  # PONG, or NOAUTH with a password
                break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('redis-server did not start on port %d' % self.port)
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # by PID, never by name
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError('closed')
    t, rest = line[:1], line[1:-2]
    if t == b'+':
        return rest
    if t == b'-':
        return Exception(rest.decode())
    if t == b':':
        return int(rest)
    if t == b'$':
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b'*':
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise ValueError('bad reply %r' % line)


def raw(port, *args):
    """One command on a fresh plain socket (independent of libjr)."""
    with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
        out = b'*%d\r\n' % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b'$%d\r\n%s\r\n' % (len(a), a)
        s.sendall(out)
        with s.makefile('rb') as f:
            return _read_reply(f)


@pytest.fixture(scope='session')
def redis_server():
    srv = RedisServer()
    yield srv
    srv.stop()


@pytest.fixture
def port(redis_server):
    raw(redis_server.port, 'FLUSHALL')
    return redis_server.port


@pytest.fixture
def config(port):
    return {'endpoints': [('127.0.0.1', port)]}


@pytest_asyncio.fixture
async def mp(config):
    pool = jr.MultiplexerPool(config)
    yield pool
    await pool.aclose()


@pytest_asyncio.fixture
async def db(mp):
    return mp.database()
