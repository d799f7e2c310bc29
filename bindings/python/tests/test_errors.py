# SPDX-License-Identifier: MIT
"""Typed exceptions (jr.ConnectionError / jr.TimeoutError, subclasses of
RedisError and of Python's builtins, with code, unsent and detail), and error
texts in Python terms: no text that reaches Python names a C function."""
import asyncio
import builtins
import copy
import pickle
import re

import pytest

import jr
from jr import MultiplexerPool, RedisError, RedisReplyError
from jr._native import ext

from conftest import free_port, raw

C_NAME = re.compile(r'\bjr_[a-z_]+|\bhandle\b')


def codes():
    return [c for c in range(-1, -128, -1) if ext.err_name(c) != 'JR_E?']


def test_hierarchy():
    assert issubclass(jr.ConnectionError, RedisError)
    assert issubclass(jr.ConnectionError, builtins.ConnectionError)
    assert issubclass(jr.TimeoutError, RedisError)
    assert issubclass(jr.TimeoutError, builtins.TimeoutError)
    assert issubclass(jr.TimeoutError, asyncio.TimeoutError)
    assert not issubclass(RedisReplyError, RedisError)  # the seed's two roots stay apart
    # RedisError(message, code) makes the class of the code
    want = {jr.ECONNECT: jr.ConnectionError, jr.ECONNLOST: jr.ConnectionError,
            jr.ETLS: jr.ConnectionError, jr.ETIMEDOUT: jr.TimeoutError,
            jr.EQUEUETIMEOUT: jr.TimeoutError, jr.EPOOLTIMEOUT: jr.TimeoutError}
    for code in codes():
        e = RedisError('text', code, ext.err_unsent(code), 'the detail')
        assert type(e) is want.get(code, RedisError), ext.err_name(code)
        assert (e.code, e.unsent, e.detail, str(e)) == \
            (code, ext.err_unsent(code), 'the detail', 'text: the detail')
        assert e.args == ('text: the detail',)
        for back in (pickle.loads(pickle.dumps(e)), copy.copy(e)):
            assert type(back) is type(e)
            assert (back.code, back.unsent, back.detail, str(back)) == \
                (e.code, e.unsent, e.detail, str(e))
    e = jr.TimeoutError('late', jr.ETIMEDOUT, False)
    assert repr(e) == "TimeoutError('late', code=%d, unsent=False)" % jr.ETIMEDOUT
    assert e.errno is None  # an OSError, but not one with an errno
    assert RedisError('plain').code is None and type(RedisError('plain')) is RedisError
    assert type(RedisError('kw', code=jr.ECONNLOST, unsent=False)) is jr.ConnectionError

    class AppError(RedisError):  # an application's subclass, with its own signature
        def __init__(self):
            super().__init__('app', jr.ETIMEDOUT)
    e = AppError()
    assert type(e) is AppError and e.code == jr.ETIMEDOUT and str(e) == 'app'

    class AppTimeout(jr.TimeoutError):
        def __init__(self, what):
            super().__init__('late: ' + what, jr.ETIMEDOUT, False)
    e = AppTimeout('x')
    assert str(e) == 'late: x' and isinstance(e, TimeoutError) and not e.unsent


@pytest.mark.asyncio
async def test_connect_failure_is_a_connection_error():
    closed = free_port()
    async with MultiplexerPool({'endpoints': [('127.0.0.1', closed)], 'connectretry': 1}) as mp:
        with pytest.raises(ConnectionError) as ei:  # the builtin
            await mp.database().commandreply('PING')
    e = ei.value
    assert type(e) is jr.ConnectionError and isinstance(e, RedisError)
    assert e.code == jr.ECONNECT and e.unsent and 'ECONNREFUSED' in e.detail


@pytest.mark.asyncio
async def test_lost_connection_is_a_connection_error_that_may_have_run(db, port):
    # (a blocking command: DEBUG SLEEP would hold the server until after the kill)
    slow = asyncio.ensure_future(db.commandreply('BLPOP', 'nolist', 0))
    await asyncio.sleep(0.1)
    raw(port, 'CLIENT', 'KILL', 'TYPE', 'normal')
    with pytest.raises(jr.ConnectionError) as ei:
        await slow
    assert ei.value.code == jr.ECONNLOST and ei.value.unsent is False
    assert ei.value.detail.startswith('127.0.0.1:%d: ' % port), ei.value.detail


@pytest.mark.asyncio
async def test_deadline_is_a_timeout_error(db):
    with pytest.raises(TimeoutError) as ei:  # the builtin, i.e. asyncio.TimeoutError
        await db.commandreply('DEBUG', 'SLEEP', '0.2', timeout=0.02)
    e = ei.value
    assert type(e) is jr.TimeoutError and e.code == jr.ETIMEDOUT and e.unsent is False
    # the seed's name catches it too
    with pytest.raises(RedisError):
        await db.commandreply('DEBUG', 'SLEEP', '0.2', timeout=0.02)
    # throw=False returns it
    r = await db.commandreply('DEBUG', 'SLEEP', '0.2', timeout=0.02, throw=False)
    assert type(r) is jr.TimeoutError


def test_no_code_text_names_a_c_function():
    for code in codes():
        assert not C_NAME.search(ext.strerror(code)), (ext.err_name(code), ext.strerror(code))


@pytest.mark.asyncio
async def test_no_refusal_names_a_c_function(db, port):
    # Every command the server knows: the refusals libjr has, in Python terms.
    names = [n.decode() for n in raw(port, 'COMMAND', 'LIST')]
    assert len(names) > 150
    refused = [n for n in names if ext.refusal_reason(n.encode()) is not None]
    assert {'select', 'multi', 'watch', 'subscribe', 'monitor', 'quit', 'auth',
            'hello'} <= set(refused)
    for name in refused + ['CLIENT REPLY OFF']:
        with pytest.raises(RedisError) as ei:
            await db.commandreply(*name.split())
        e = ei.value
        assert e.code == jr.EREFUSED and e.unsent
        assert not C_NAME.search(str(e)), str(e)
        assert str(e).startswith('command refused by libjr (not sent): '), str(e)
    with pytest.raises(RedisError, match=r'use multiplexer\.database\(n\)$'):
        await db.commandreply('select', 2)
    with pytest.raises(RedisError, match=r'use database\.watch\(\*keys\)$'):
        await db.commandreply('WATCH', 'k')
    with pytest.raises(RedisError, match=r'use multiplexer\.pubsub\(\)$'):
        await db.commandreply('SUBSCRIBE', 'c')
