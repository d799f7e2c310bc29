# SPDX-License-Identifier: MIT
"""Fixtures: a private redis-server on a free loopback port (stopped by PID),
a MultiplexerPool connected to it, and a 6-node Redis Cluster (3 masters, 3
replicas; tests marked `cluster`, skipped without redis-cli), and `resp3`
for tests that need RESP3 in libjr."""
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
    """config: text written to a config file given first (a sentinel needs
    one, which it rewrites); extra: more arguments."""

    def __init__(self, *extra, config=None):
        exe = shutil.which('redis-server') or '/usr/bin/redis-server'
        self.dir = tempfile.mkdtemp(prefix='jr-py-redis-')
        self.port = free_port()
        first = []
        if config is not None:
            first = [os.path.join(self.dir, 'redis.conf')]
            with open(first[0], 'w') as f:
                f.write(config)
        self.proc = subprocess.Popen(
            [exe, *first, '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
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
                self.stop()
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


@pytest.fixture
def resp3():
    """For a test that needs RESP3 (protocol 3) in libjr: skips when libjr
    was built with hiredis < 1.0, and fails then with JR_EXPECT_RESP3=1
    (scripts/test's run against the hiredis-1.2 libjr), so a run against
    the wrong libjr cannot pass by skipping."""
    from jr.multiplexer import resp3_available
    if not resp3_available():
        why = 'this libjr was built with hiredis < 1.0 (no RESP3)'
        if os.environ.get('JR_EXPECT_RESP3') == '1':
            pytest.fail('JR_EXPECT_RESP3=1, but ' + why, pytrace=False)
        pytest.skip(why + '; build it against hiredis 1.2 (scripts/hiredis-prefix) to run this')


@pytest_asyncio.fixture
async def mp(config):
    pool = jr.MultiplexerPool(config)
    yield pool
    await pool.aclose()


@pytest_asyncio.fixture
async def db(mp):
    return mp.database()


# ---- A 6-node Redis Cluster ---------------------------------------------------

class RedisCluster:
    """Six redis-server processes with --cluster-enabled yes on free loopback
    ports, joined by `redis-cli --cluster create ... --cluster-replicas 1`,
    and stopped by PID. Each node has its own directory (nodes.conf, RDB)
    and an explicit free --cluster-port (the default port+10000 fails above
    55535).

    Ready when every node says cluster_state:ok, every replica says
    master_link_status:up, and every node's CLUSTER NODES shows the roles the
    nodes report of themselves (ROLE): cluster_state:ok arrives before the
    replicas are attached, and gossip lags behind ROLE. A 2 s node timeout
    makes the nodes gossip often enough to agree ~1 s after creation (~3 s
    with the 5 s default); replicas sync without the 5 s diskless delay.
    Creation takes ~2.5 s (a master waits 2 s before cluster_state:ok)."""

    def __init__(self, cli, size=6):
        self.nodes = []
        try:
            for _ in range(size):
                self.nodes.append(RedisServer(
                    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
                    '--cluster-port', str(free_port()), '--cluster-node-timeout', '2000',
                    '--cluster-allow-replica-migration', 'no',
                    '--repl-diskless-sync-delay', '0'))  # replicas sync at once, not after 5 s
            out = subprocess.run(
                [cli, '--cluster', 'create'] + ['127.0.0.1:%d' % n.port for n in self.nodes] +
                ['--cluster-replicas', '1', '--cluster-yes'],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise RuntimeError('redis-cli --cluster create failed:\n' + out.stdout +
                                   out.stderr)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    @property
    def ports(self):
        return [n.port for n in self.nodes]

    def role(self, port):
        return raw(port, 'ROLE')[0].decode()  # 'master' or 'slave'

    def masters(self):
        return [p for p in self.ports if self.role(p) == 'master']

    def replicas(self):
        return [p for p in self.ports if self.role(p) == 'slave']

    def healthy(self):
        roles = {p: self.role(p) for p in self.ports}  # what each node says of itself
        if list(roles.values()).count('master') != len(self.nodes) // 2:
            return False
        for p in self.ports:
            if b'cluster_state:ok' not in raw(p, 'CLUSTER', 'INFO'):
                return False
            if roles[p] == 'slave' and \
                    b'master_link_status:up' not in raw(p, 'INFO', 'replication'):
                return False
            # and what it says of the others (gossip lags behind ROLE)
            view = {}
            for line in raw(p, 'CLUSTER', 'NODES').decode().splitlines():
                fields = line.split()
                if len(fields) < 3 or any(f in fields[2] for f in ('fail', 'handshake',
                                                                   'noaddr')):
                    return False
                port = int(fields[1].split('@')[0].rpartition(':')[2])
                view[port] = 'slave' if 'slave' in fields[2] else 'master'
            if view != roles:
                return False
        return True

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError('the cluster did not become healthy in %g s' % timeout)
            time.sleep(0.05)

    def stop(self):
        for n in self.nodes:
            n.stop()  # terminate by PID


@pytest.fixture(scope='session')
def redis_cluster():
    cli = shutil.which('redis-cli')
    if cli is None:
        pytest.skip('redis-cli is not installed (needed to create the cluster)')
    cluster = RedisCluster(cli)
    yield cluster
    cluster.stop()
