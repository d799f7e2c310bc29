# SPDX-License-Identifier: MIT
"""Configuration, endpoints(), the cluster API on a standalone server, the
README example, and the C extension's low-level contract."""
import asyncio
import os
import subprocess
import sys
import threading
import warnings

import pytest

import jr
from jr import MultiplexerPool, RedisError, RedisReplyError
from jr._native import ext

from conftest import RedisServer, raw

HERE = os.path.dirname(os.path.abspath(__file__))


def test_readme_example(port):
    """The seed README example, unchanged except for the import line and a
    configuration pointing at the test server (see readme_example.py)."""
    out = subprocess.run([sys.executable, os.path.join(HERE, 'readme_example.py'), str(port)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ['Hello, World!', 'Atomic Hello, World!',
                                       'Queued Hello, World!', 'PubSub Hello, World!']
    assert raw(port, 'GET', 'Counter') == b'1'


def test_binding_readme_example(port, tmp_path):
    """The example of bindings/python/README.md runs (pointed at the test server)."""
    import re
    with open(os.path.join(HERE, '..', 'README.md')) as f:
        code = re.search(r'## Example\n\n```python\n(.*?)```', f.read(), re.S).group(1)
    script = tmp_path / 'example.py'
    script.write_text(code.replace("('localhost', 6379)", "('localhost', %d)" % port))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == 'Counter 1'


@pytest.mark.asyncio
async def test_endpoints(port):
    # A standalone server: one node, the server (libjr's first endpoint).
    async with MultiplexerPool({'endpoints': [('127.0.0.1', port)]}) as mp:
        assert await mp.endpoints() == [('127.0.0.1', port)]
        assert await mp.endpoints(roles=True) == [(('127.0.0.1', port), 'standalone')]
    async with MultiplexerPool([('localhost', port), '/tmp/nonexistent.sock']) as mp:
        assert await mp.database().commandreply('PING') == b'PONG'  # localhost resolves
        assert await mp.endpoints() == [('localhost', port)]
    async with MultiplexerPool(('127.0.0.1', port)) as mp:
        assert await mp.endpoints(roles=True) == [(('127.0.0.1', port), 'standalone')]


@pytest.mark.asyncio
async def test_endpoints_unreachable_server_raises():
    # Whether it is a cluster cannot be known: the connect error is raised.
    from conftest import free_port
    async with MultiplexerPool({'endpoints': [('127.0.0.1', free_port())],
                                'connectretry': 0}) as mp:
        with pytest.raises(RedisError) as ei:
            await mp.endpoints()
        assert ei.value.code == jr.ECONNECT
        with pytest.raises(RedisError) as ei:
            await mp.run_commandreply_on_all_masters('PING')
        assert ei.value.code == jr.ECONNECT


@pytest.mark.asyncio
async def test_run_on_all_masters_standalone(mp):
    # First call on a fresh multiplexer, and after commands.
    with pytest.raises(RedisError, match='not connected to a redis cluster') as ei:
        await mp.run_commandreply_on_all_masters('PING')
    assert ei.value.code == jr.ECLUSTER and ei.value.unsent
    assert await mp.database().commandreply('PING') == b'PONG'
    with pytest.raises(RedisError, match='not connected to a redis cluster') as ei:
        await mp.run_commandreply_on_all_masters(b'DBSIZE', decoder=jr.utf8_bytes_as_strings)
    assert ei.value.code == jr.ECLUSTER
    with pytest.raises(RedisError) as ei:
        await mp.run_commandreply_on_all_masters('SUBSCRIBE', 'x')  # refused, as for commands
    assert ei.value.code == jr.EREFUSED
    with pytest.raises(ValueError):
        await mp.run_commandreply_on_all_masters('SET', True)


@pytest.mark.asyncio
async def test_server_view_standalone(mp, port):
    await mp.database().commandreply('SET', 'sv', 'here')
    for server in (('127.0.0.1', port), '127.0.0.1:%d' % port, b'127.0.0.1:%d' % port,
                   (await mp.endpoints())[0]):
        view = mp.database(server=server, decoder=jr.utf8_bytes_as_strings)
        assert await view.commandreply('GET', 'sv') == 'here'
        assert await (await view.command('PING')) == 'PONG'
        assert await view.commandreply('GET', 'sv', timeout=2) == 'here'
    view = mp.database(server=('127.0.0.1', port))
    with pytest.raises(RedisReplyError):
        await view.commandreply('NOSUCHCOMMAND')
    assert isinstance(await view.commandreply('NOSUCHCOMMAND', throw=False), RedisReplyError)
    with pytest.raises(RedisError) as ei:
        await view.commandreply('SELECT', 1)
    assert ei.value.code == jr.EREFUSED
    with pytest.raises(RedisError) as ei:
        view.multi()
    assert ei.value.code == jr.EREFUSED
    with pytest.raises(RedisError) as ei:
        view.watch('k')
    assert ei.value.code == jr.EREFUSED
    assert mp.database(0, server=('127.0.0.1', port)) is not None  # the configured database
    with pytest.raises(RedisError) as ei:
        mp.database(3, server=('127.0.0.1', port))
    assert ei.value.code == jr.EINVAL
    with pytest.raises(ValueError):
        mp.database(server=('127.0.0.1', port, 1))
    # a node nobody listens on: a connect error for that command only
    from conftest import free_port
    with pytest.raises(RedisError) as ei:
        await mp.database(server=('127.0.0.1', free_port())).commandreply('PING')
    assert ei.value.code == jr.ECONNECT
    assert await mp.database().commandreply('PING') == b'PONG'


@pytest.mark.asyncio
async def test_server_view_uses_configured_database(port):
    async with MultiplexerPool({'endpoints': [('127.0.0.1', port)], 'database': 2}) as mp:
        await mp.database().commandreply('SET', 'in2', 'x')
        view = mp.database(2, server=('127.0.0.1', port))
        assert await view.commandreply('GET', 'in2') == b'x'
        assert raw(port, 'GET', 'in2') is None  # not in database 0


@pytest.mark.asyncio
async def test_configuration_keys(port):
    cfg = {
        'endpoints': [('127.0.0.1', port)],
        'connecttimeout': 2,
        'connectretry': 1,
        'sockettimeout': 10,
        'recvbuffersize': 16384,
        'tcpkeepalive': 30,
        'tcpnodelay': False,
        'maxconnections': 4,
        'commandtimeout': 3,
        'clientname': 'jr-test',
    }
    original = dict(cfg)
    async with MultiplexerPool(cfg) as mp:
        db = mp.database()
        assert await db.commandreply('CLIENT', 'GETNAME') == b'jr-test'
        # maxconnections bounds the dedicated connections: 6 pops, 4 run at once
        pops = [await db.command('BLPOP', 'mq', 0) for _ in range(6)]
        for i in range(6):
            await db.commandreply('RPUSH', 'mq', i)
        assert sorted([(await p)[1] for p in pops]) == [b'%d' % i for i in range(6)]
    assert cfg == original  # the caller's dict is not modified


@pytest.mark.asyncio
async def test_connectionhandler_commands(port):
    # The seed's connectionhandler (a Connection class) maps to libjr's
    # connect commands: a list of commands run on every new connection.
    async with MultiplexerPool({'endpoints': [('127.0.0.1', port)],
                                'connectionhandler': [('CLIENT', 'SETNAME', 'handled')]}) as mp:
        assert await mp.database().commandreply('CLIENT', 'GETNAME') == b'handled'
        async with mp.database().watch('k') as w:  # a dedicated connection too
            assert await w.commandreply('CLIENT', 'GETNAME') == b'handled'
    with pytest.raises(RedisError) as ei:
        async with MultiplexerPool({'endpoints': [('127.0.0.1', port)],
                                    'connectionhandler': [('SELECT', 1)]}) as mp:
            await mp.database().commandreply('PING')
    assert ei.value.code == jr.EREFUSED


def test_error_codes_are_known_to_libjr():
    # Every code jr.h declares has a name, a text and an unsent flag (0 for
    # ENOMEM: a command completes with it after the write when its reply
    # cannot be stored; 0 for codes that are no command's outcome).
    unsent = {'EINVAL', 'ECLOSED', 'ECONNECT', 'EQUEUETIMEOUT', 'EREFUSED',
              'ECANCELED', 'EAUTH', 'EMISUSE', 'EFULL', 'EDISCARDED', 'EWATCH', 'EPOOLTIMEOUT',
              'ECROSSSLOT', 'ECLUSTER', 'EFORKED'}
    for name in ('EINVAL', 'ENOMEM', 'ECLOSED', 'ECONNECT', 'ECONNLOST', 'ETIMEDOUT',
                 'EQUEUETIMEOUT', 'EPROTO', 'ETOOBIG', 'EREFUSED', 'ECANCELED', 'EABANDONED',
                 'EAUTH', 'ESHUTDOWN', 'EMISUSE', 'ENOENT', 'EINTERNAL', 'EFULL', 'EDISCARDED',
                 'EWATCH', 'EPOOLTIMEOUT', 'ECROSSSLOT', 'ECLUSTER', 'EFORKED', 'ETLS'):
        code = getattr(jr, name)
        assert ext.err_name(code) == 'JR_' + name
        assert ext.strerror(code) != ext.strerror(-1000)
        assert ext.err_unsent(code) == (name in unsent), name


@pytest.mark.asyncio
async def test_url_configuration(port):
    async with MultiplexerPool({'url': 'redis://127.0.0.1:%d/2' % port}) as mp:
        assert await mp.endpoints() == [('127.0.0.1', port)]
        await mp.database().commandreply('SET', 'via-url', 1)
        assert await mp.database(2).commandreply('GET', 'via-url') == b'1'
        # a server= view runs on the URL's database
        assert await mp.database(2, server=('127.0.0.1', port)).commandreply(
            'GET', 'via-url') == b'1'
    # explicit keys override the URL whatever their order in the dict
    async with MultiplexerPool({'database': 3, 'url': 'redis://127.0.0.1:%d/2' % port}) as mp:
        await mp.database().commandreply('SET', 'db3', 1)
        assert await mp.database(3).commandreply('GET', 'db3') == b'1'


def test_configuration_errors():
    with pytest.raises(ValueError, match='unknown configuration key'):
        MultiplexerPool({'nosuchkey': 1})
    with pytest.raises(ValueError):
        MultiplexerPool({'maxconnections': 0})
    with pytest.raises(ValueError):
        MultiplexerPool({'maxconnections': None})
    with pytest.raises(ValueError):
        MultiplexerPool({'endpoints': [('a', 1, 2)]})
    with pytest.warns(RuntimeWarning, match='connectionhandler'):
        MultiplexerPool({'connectionhandler': object})
    with pytest.raises(TypeError):
        MultiplexerPool({'tls_ca_file': 5})


@pytest.mark.asyncio
async def test_invalid_option_value_raises_redis_error(port):
    # A value only libjr checks (a URL's port) fails on first use.
    mp = MultiplexerPool({'endpoints': [('127.0.0.1', port)], 'url': 'redis://127.0.0.1:99999'})
    with pytest.raises(RedisError) as ei:
        await mp.database().commandreply('PING')
    assert ei.value.code == jr.EINVAL
    await mp.aclose()
    # A number outside libjr's range (jr.describe_options) fails at once.
    with pytest.raises(ValueError, match=r'recvbuffersize: -5 is out of range \(512\.\.'):
        MultiplexerPool({'endpoints': [('127.0.0.1', port)], 'recvbuffersize': -5})


@pytest.mark.asyncio
async def test_password_and_username():
    srv = RedisServer('--requirepass', 'sekret', '--user', 'alice', 'on', '>wonder', '~*',
                      '&*', '+@all')
    try:
        async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                    'password': 'sekret'}) as mp:
            assert await mp.database().commandreply('ACL', 'WHOAMI') == b'default'
        async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                    'username': 'alice', 'password': 'wonder'}) as mp:
            assert await mp.database().commandreply('ACL', 'WHOAMI') == b'alice'
        # A wrong password: the server's own error reply, as justredis
        # raises it (RedisReplyError "WRONGPASS ..."), for every command
        # kind that waited for a connection; they never ran.
        for config in ({'password': 'wrong'}, {'username': 'alice', 'password': 'nope'}):
            async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                        'connectretry': 0, **config}) as mp:
                db = mp.database()
                with pytest.raises(RedisReplyError) as ei:
                    await db.commandreply('PING')
                assert 'WRONGPASS' in str(ei.value)
                assert ei.value.code == jr.EAUTH and ei.value.unsent
                r = await db.commandreply('BLPOP', 'q', 0.05, throw=False)  # a pooled connection
                assert isinstance(r, RedisReplyError) and 'WRONGPASS' in str(r)
                async with db.multi() as m:
                    h = m.command('INCR', 'n')
                with pytest.raises(RedisReplyError, match='WRONGPASS'):
                    await h
                with pytest.raises(RedisReplyError, match='WRONGPASS'):
                    await mp.endpoints()
        async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                    'connectretry': 0}) as mp:
            with pytest.raises((RedisError, RedisReplyError)):
                await mp.database().commandreply('GET', 'x')
    finally:
        srv.stop()


@pytest.mark.asyncio
async def test_unix_socket_endpoint(tmp_path):
    sock = str(tmp_path / 'r.sock')
    srv = RedisServer('--unixsocket', sock)
    try:
        async with MultiplexerPool({'endpoints': sock}) as mp:
            assert await mp.endpoints() == [sock]
            assert await mp.database().commandreply('PING') == b'PONG'
    finally:
        srv.stop()


@pytest.mark.asyncio
async def test_connection_loss_is_reported_not_swallowed(mp, port):
    # The seed resolved in-flight commands with b'' on EOF (observed for a
    # killed pooled BLPOP); here they fail with ECONNLOST ("may have run").
    db = mp.database()
    assert await db.commandreply('PING') == b'PONG'
    pop = await db.command('BLPOP', 'never-filled', 0)
    for _ in range(100):
        if b'cmd=blpop' in raw(port, 'CLIENT', 'LIST'):
            break
        await asyncio.sleep(0.01)
    raw(port, 'CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    with pytest.raises(RedisError) as ei:
        await asyncio.wait_for(pop, 5)
    assert ei.value.code == jr.ECONNLOST and ei.value.unsent is False
    # the shared connection was killed too: the next command reconnects
    assert await db.commandreply('PING') == b'PONG'


# ---- The C extension ------------------------------------------------------------------------

def _client(port):
    return ext.Client([('endpoint', '127.0.0.1:%d' % port)])


def _pump(c, pred, timeout=5.0):
    import select
    import time
    end = time.monotonic() + timeout
    while not pred():
        select.select([c.fileno()], [], [], max(0.0, end - time.monotonic()))
        c.dispatch()
        if time.monotonic() > end:
            raise TimeoutError


def test_ext_callable_targets_and_errors(port):
    c = _client(port)
    got = []
    c.submit(-1, (b'SET', 'k', 5), got.append)
    c.submit(0, ('GET', b'k'), got.append)
    c.submit(0, ['INCR', 'k'], got.append)
    c.submit(0, ('NOPE',), got.append)
    _pump(c, lambda: len(got) == 4)
    assert got[:3] == [b'OK', b'5', 6]
    assert isinstance(got[3], RedisReplyError)
    with pytest.raises(RedisError) as ei:
        c.submit(0, ('SELECT', 1), got.append)
    assert ei.value.code == jr.EREFUSED
    with pytest.raises(ValueError):
        c.submit(0, ('SET', 'a', True), got.append)
    with pytest.raises(TypeError):
        c.submit(0, 'SET a b', got.append)
    c.close()
    assert c.closed
    with pytest.raises(RedisError):
        c.submit(0, ('PING',), got.append)
    assert c.dispatch() == 0
    c.close()


def test_ext_callback_exception_is_unraisable(port):
    c = _client(port)
    done = []

    def bad(v):
        done.append(v)
        raise RuntimeError('boom')

    import sys as _sys
    seen = []
    old = _sys.unraisablehook
    _sys.unraisablehook = lambda u: seen.append(u.exc_value)
    try:
        c.submit(0, ('PING',), bad)
        _pump(c, lambda: done)
    finally:
        _sys.unraisablehook = old
    assert isinstance(seen[0], RuntimeError)
    c.submit(0, ('PING',), done.append)
    _pump(c, lambda: len(done) == 2)
    c.close()


def test_ext_close_runs_pending_callbacks_with_gil(port):
    """close() releases the GIL around jr_client_free; the final completions
    run on the closing thread and take the GIL themselves. Other Python
    threads keep running meanwhile."""
    c = _client(port)
    got = []
    stop = threading.Event()
    spins = [0]

    def spinner():
        while not stop.is_set():
            spins[0] += 1

    t = threading.Thread(target=spinner)
    t.start()
    try:
        c.submit(0, ('DEBUG', 'SLEEP', '0.2'), got.append)
        for _ in range(100):
            c.submit(0, ('PING',), got.append)
        c.close()  # without dispatching: every target still gets exactly one value
    finally:
        stop.set()
        t.join()
    assert len(got) == 101
    assert all(isinstance(v, (bytes, RedisError)) for v in got)
    assert any(isinstance(v, RedisError) and v.code in (jr.ESHUTDOWN, jr.ECLOSED) for v in got)


def test_ext_close_from_callback_is_refused(port):
    c = _client(port)
    errors = []

    def cb(v):
        try:
            c.close()
        except RedisError as e:
            errors.append(e.code)

    c.submit(0, ('PING',), cb)
    _pump(c, lambda: errors)
    assert errors == [jr.EMISUSE]
    c.close()


def test_ext_callbacks_during_close_may_call_the_client(port):
    c = _client(port)
    seen = []

    def cb(v):
        seen.append(v)
        with pytest.raises(RedisError):
            c.submit(0, ('PING',), seen.append)  # closed: refused, no callback

    c.submit(0, ('DEBUG', 'SLEEP', '0.1'), cb)
    c.close()
    assert len(seen) == 1 and isinstance(seen[0], RedisError)


def test_ext_refcounts_balanced(port):
    c = _client(port)
    target = object()
    holder = []
    cb = holder.append
    before = sys.getrefcount(cb)
    for _ in range(50):
        c.submit(0, ('PING',), cb)
    assert sys.getrefcount(cb) == before + 50
    _pump(c, lambda: len(holder) == 50)
    assert sys.getrefcount(cb) == before
    del target
    c.close()


def test_ext_many_arguments(port):
    c = _client(port)
    got = []
    args = ('RPUSH', 'many') + tuple(range(1000))
    c.submit(0, args, got.append)
    _pump(c, lambda: got)
    assert got == [1000]
    c.close()


def test_version():
    assert jr.libjr_version == ext.HEADER_VERSION


@pytest.mark.asyncio
async def test_set_auth_rotates_credentials():
    srv = RedisServer('--requirepass', 'old', '--user', 'alice', 'on', '>wonder', '~*', '&*',
                      '+@all')
    try:
        # before first use: the client is created with the new credentials
        async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                    'password': 'wrong', 'connectretry': 0}) as mp:
            mp.set_auth('alice', 'wonder')
            assert await mp.database().commandreply('ACL', 'WHOAMI') == b'alice'
        async with MultiplexerPool({'endpoints': [('127.0.0.1', srv.port)],
                                    'password': 'old', 'connectretry': 0}) as mp:
            db = mp.database()
            assert await db.commandreply('ACL', 'WHOAMI') == b'default'
            await db.commandreply('CONFIG', 'SET', 'requirepass', 'new')
            mp.set_auth(None, b'new')
            # the authenticated shared connection is kept ...
            assert await db.commandreply('PING') == b'PONG'
            # ... a new (pooled) connection authenticates with the new password
            pop = await db.command('BLPOP', 'auth-q', 0)
            await db.commandreply('RPUSH', 'auth-q', 'x')
            assert await pop == [b'auth-q', b'x']
            # and so does the reconnect after the shared connection is killed
            async def after_kill(*command):
                await db.commandreply('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'no',
                                      throw=False)
                for _ in range(3):  # a command written before the EOF was seen: ECONNLOST
                    r = await db.commandreply(*command, throw=False)
                    if not (isinstance(r, RedisError) and r.code == jr.ECONNLOST):
                        return r
                return r

            assert await after_kill('PING') == b'PONG'
            mp.set_auth('alice', 'wonder')
            assert await after_kill('ACL', 'WHOAMI') == b'alice'
            with pytest.raises(ValueError):
                mp.set_auth('alice', 'nul\0inside')
            with pytest.raises(ValueError):
                mp.set_auth('alice', None)
        with pytest.raises(RedisError) as ei:
            mp.set_auth(None, 'x')  # closed
        assert ei.value.code == jr.ECLOSED
    finally:
        srv.stop()


def test_node_failure_values():
    # A node's library failure in an all-masters reply ("JR_E...: text") is a
    # RedisError with its code; server error replies stay RedisReplyError.
    from jr.multiplexer import _address, _node_value
    e = _node_value(RedisReplyError('JR_ECONNLOST: connection lost'))
    assert type(e) is jr.ConnectionError and e.code == jr.ECONNLOST and not e.unsent
    assert isinstance(e, RedisError)
    assert str(e) == 'connection lost'
    e = _node_value(RedisReplyError('JR_ECONNECT: could not connect'))
    assert e.code == jr.ECONNECT and e.unsent
    for text in ('ERR no', 'MOVED 1 127.0.0.1:7000', 'JR_EWHAT: x'):
        e = RedisReplyError(text)
        assert _node_value(e) is e
    assert _node_value(b'OK') == b'OK'
    assert _address(b'127.0.0.1:7000') == ('127.0.0.1', 7000)
    assert _address('[::1]:7000') == ('::1', 7000)
    assert _address('/tmp/r.sock') == '/tmp/r.sock'
