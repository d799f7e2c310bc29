# SPDX-License-Identifier: MIT
"""The multiplexer on a 6-node Redis Cluster (3 masters, 3 replicas): routing,
endpoints(), run_commandreply_on_all_masters() and server= views. The cluster
is started once per session by the redis_cluster fixture (conftest.py)."""
import pytest
import pytest_asyncio

import jr
from jr import MultiplexerPool, RedisError, RedisReplyError, utf8_bytes_as_strings

from conftest import raw

pytestmark = pytest.mark.cluster


def slot_owners(port):
    """[(first slot, last slot, master port)] from CLUSTER SLOTS."""
    return [(r[0], r[1], r[2][1]) for r in raw(port, 'CLUSTER', 'SLOTS')]


def master_of(key, port):
    slot = raw(port, 'CLUSTER', 'KEYSLOT', key)
    for lo, hi, master in slot_owners(port):
        if lo <= slot <= hi:
            return master
    raise AssertionError('slot %d is not served' % slot)


def key_per_master(cluster, prefix='key'):
    """{master port: a key it owns}, one key for each master."""
    masters = set(cluster.masters())
    keys = {}
    n = 0
    while len(keys) < len(masters):
        k = '%s%d' % (prefix, n)
        keys.setdefault(master_of(k, cluster.ports[0]), k)
        n += 1
    assert set(keys) == masters
    return keys


@pytest_asyncio.fixture
async def cmp(redis_cluster):
    """A multiplexer given one node of the cluster (it discovers the rest);
    every master is flushed first."""
    async with MultiplexerPool({'endpoints': [('127.0.0.1', redis_cluster.ports[0])]}) as pool:
        flushed = await pool.run_commandreply_on_all_masters('FLUSHALL')
        assert list(flushed.values()) == [b'OK'] * 3
        yield pool


@pytest.mark.asyncio
async def test_commands_route_to_every_master(redis_cluster, cmp):
    db = cmp.database(decoder=utf8_bytes_as_strings)
    keys = key_per_master(redis_cluster)
    for master, key in keys.items():
        assert await db.commandreply('SET', key, 'on-%d' % master) == 'OK'
    for master, key in keys.items():
        assert await db.commandreply('GET', key) == 'on-%d' % master
        assert raw(master, 'GET', key) == b'on-%d' % master  # stored on its own master
    # pipelined, interleaved across the three nodes
    handles = [await db.command('INCR', 'n' + key) for key in keys.values() for _ in range(5)]
    assert [await h for h in handles] == [1, 2, 3, 4, 5] * 3
    # cross-slot MSET/MGET are split per slot; other cross-slot commands refused
    ks = list(keys.values())
    assert await db.commandreply('MSET', *[x for k in ks for x in (k, k.upper())]) == 'OK'
    assert await db.commandreply('MGET', *ks) == [k.upper() for k in ks]
    with pytest.raises(RedisError) as ei:
        await db.commandreply('SUNION', *ks)
    assert ei.value.code == jr.ECROSSSLOT and ei.value.unsent
    # transactions follow their (hash-tagged) keys
    async with db.multi() as m:
        m.command('SET', '{tx}a', 1)
        incr = m.command('INCR', '{tx}a')
    assert await incr == 2


@pytest.mark.asyncio
async def test_endpoints_lists_every_node(redis_cluster):
    async with MultiplexerPool({'endpoints': [('127.0.0.1', redis_cluster.ports[0])]}) as mp:
        # the first call on a fresh multiplexer already sees the cluster
        nodes = await mp.endpoints(roles=True)
        assert len(nodes) == 6
        assert sorted(nodes) == sorted(
            [(('127.0.0.1', p), 'master') for p in redis_cluster.masters()] +
            [(('127.0.0.1', p), 'replica') for p in redis_cluster.replicas()])
        assert sorted(await mp.endpoints()) == sorted(('127.0.0.1', p)
                                                      for p in redis_cluster.ports)


@pytest.mark.asyncio
async def test_all_masters_first_call(redis_cluster):
    async with MultiplexerPool({'endpoints': [('127.0.0.1', redis_cluster.ports[-1])]}) as mp:
        r = await mp.run_commandreply_on_all_masters('PING')
        assert r == {('127.0.0.1', p): b'PONG' for p in redis_cluster.masters()}


@pytest.mark.asyncio
async def test_run_commandreply_on_all_masters(redis_cluster, cmp):
    keys = key_per_master(redis_cluster, 'dbs')
    db = cmp.database()
    for key in keys.values():
        await db.commandreply('SET', key, 'x')
    r = await cmp.run_commandreply_on_all_masters('DBSIZE')
    assert len(r) == 3
    assert r == {('127.0.0.1', master): 1 for master in keys}
    r = await cmp.run_commandreply_on_all_masters(b'KEYS', '*', decoder=utf8_bytes_as_strings)
    assert {a: v for a, v in r.items()} == {('127.0.0.1', m): [k] for m, k in keys.items()}
    # a keyed command follows MOVED, as in justredis: every master's entry
    # is the answer of the key's master
    master, key = next(iter(keys.items()))
    r = await cmp.run_commandreply_on_all_masters('GET', key, timeout=5)
    assert r == {('127.0.0.1', m): b'x' for m in keys}
    # errors are per node values
    r = await cmp.run_commandreply_on_all_masters('NOSUCHCOMMAND', timeout=5)
    assert len(r) == 3
    for value in r.values():
        assert isinstance(value, RedisReplyError) and value.prefix == 'ERR'


@pytest.mark.asyncio
async def test_server_view_on_a_node(redis_cluster, cmp):
    keys = key_per_master(redis_cluster, 'sv')
    db = cmp.database()
    for key in keys.values():
        await db.commandreply('SET', key, 'v')
    replica = ('127.0.0.1', redis_cluster.replicas()[0])
    assert (await cmp.database(server=replica).commandreply('ROLE'))[0] == b'slave'
    for master, key in keys.items():
        view = cmp.database(server=('127.0.0.1', master))
        assert (await view.commandreply('ROLE'))[0] == b'master'
        assert await view.commandreply('DBSIZE') == 1
        # a key of another node: MOVED is the reply, not followed
        other = next(k for m, k in keys.items() if m != master)
        with pytest.raises(RedisReplyError, match='MOVED'):
            await view.commandreply('GET', other)
    # the node list feeds server= directly
    for address, role in await cmp.endpoints(roles=True):
        reply = await cmp.database(server=address).commandreply('ROLE')
        assert reply[0] == (b'master' if role == 'master' else b'slave')


@pytest.mark.asyncio
async def test_sharded_channels_on_their_masters(redis_cluster, cmp):
    chans = key_per_master(redis_cluster, 'shard:')
    db = cmp.database()
    async with cmp.pubsub(decoder=utf8_bytes_as_strings) as ps:
        await ps.add(shardchannels=list(chans.values()))
        got = {(await ps.message())[1] for _ in chans}
        assert got == set(chans.values())
        for master, ch in chans.items():
            # subscribed on the channel's own master, nowhere else
            for p in redis_cluster.ports:
                assert raw(p, 'PUBSUB', 'SHARDNUMSUB', ch)[1] == (1 if p == master else 0)
            assert await db.commandreply('SPUBLISH', ch, 'on %d' % master) == 1
            assert await ps.message() == ['smessage', ch, 'on %d' % master]


@pytest.mark.asyncio
async def test_database_other_than_zero_is_refused(redis_cluster, cmp):
    # cmp already ran a command: the client knows it talks to a cluster
    with pytest.raises(RedisError) as ei:
        cmp.database(1)
    assert ei.value.code == jr.ECLUSTER and ei.value.unsent
    assert await cmp.database(0).commandreply('PING') == b'PONG'
    # a view made before the client knew: its commands fail unsent
    async with MultiplexerPool({'endpoints': [('127.0.0.1', redis_cluster.ports[0])]}) as fresh:
        early = fresh.database(2)
        with pytest.raises(RedisError) as ei:
            await early.commandreply('SET', 'db2:k', 'v')
        assert ei.value.code == jr.ECLUSTER and ei.value.unsent
        with pytest.raises(RedisError) as ei:
            fresh.database(2)
        assert ei.value.code == jr.ECLUSTER
