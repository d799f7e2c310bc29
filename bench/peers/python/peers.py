#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/peers.sh's Python driver: libjr's binding (the jr package) next to
redis-py 5 (redis.asyncio with its hiredis parser, and the blocking
redis.Redis at one caller), each used the way its README shows.

    python peers.py --endpoint 127.0.0.1:6379 [--clients jr,redis-py,redis-py-sync]
                    [--ops GET,SET] [--sizes 3,1000] [--callers 1,64,1024]
                    [--pipeline 100] [--secs 1] [--warmup 0.2] [--reps 3]

A cell is (op, size, callers): `callers` asyncio tasks each await one
command at a time (jr: Database.commandreply; redis-py: Redis.get/set) for
--secs after --warmup; redis-py-sync runs only the 1-caller cells (one
thread, a plain loop). --pipeline P adds, per (op, size), a cell of one
caller sending batches of P commands (jr: P Database.command handles, then
their replies; redis-py: pipeline(transaction=False).execute()); its p50 is
a batch's. Clients take turns cell by cell (interleaved), --reps times.
Prints one line per measurement:
  sample lang=python client=jr op=GET size=3 callers=64 rep=1 ops_per_s=N p50_us=X errors=E cs_per_op=C cpu_us_per_op=U
(cs_per_op, cpu_us_per_op: the process's context switches and CPU time, all
threads, per command while measuring; getrusage).
"""
import argparse
import asyncio
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = ('jr', 'redis-py', 'redis-py-sync')


def import_jr():
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != HERE]
    import jr
    return jr


class Jr:
    name = 'jr'

    async def open(self, host, port):
        jr = import_jr()
        self.mp = jr.MultiplexerPool({'endpoints': [(host, port)]})
        await self.mp.__aenter__()
        self.db = self.mp.database()

    async def close(self):
        await self.mp.aclose()

    def one(self, get, key, val):
        if get:
            return self.db.commandreply(b'GET', key)
        return self.db.commandreply(b'SET', key, val)

    async def batch(self, get, key, val, n):
        c = self.db.command
        if get:
            hs = [await c(b'GET', key) for _ in range(n)]
        else:
            hs = [await c(b'SET', key, val) for _ in range(n)]
        return [await h for h in hs]


class RedisPy:
    name = 'redis-py'

    async def open(self, host, port):
        import redis.asyncio
        self.r = redis.asyncio.Redis(host=host, port=port)
        await self.r.ping()

    async def close(self):
        await self.r.aclose()

    def one(self, get, key, val):
        return self.r.get(key) if get else self.r.set(key, val)

    async def batch(self, get, key, val, n):
        p = self.r.pipeline(transaction=False)
        for _ in range(n):
            p.get(key) if get else p.set(key, val)
        return await p.execute()


class RedisPySync:
    """The blocking client: measured only with one caller (no tasks)."""
    name = 'redis-py-sync'

    async def open(self, host, port):
        import redis
        self.r = redis.Redis(host=host, port=port)
        self.r.ping()

    async def close(self):
        self.r.close()


def usage():
    """The process's context switches and CPU time (us), all threads."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_nvcsw + u.ru_nivcsw, (u.ru_utime + u.ru_stime) * 1e6


def per_op(u0, u1, n):
    n = max(n, 1)
    return (u1[0] - u0[0]) / n, (u1[1] - u0[1]) / n


def p50(lat):
    if not lat:
        return float('nan')
    lat.sort()
    return lat[len(lat) // 2] / 1000.0


async def cell(c, get, size, callers, pipeline, secs, warmup):
    key = b'peers:%s:%d' % (b'get' if get else b'set', size)
    val = b'x' * size
    per = pipeline or 1
    if isinstance(c, RedisPySync):
        return sync_cell(c.r, get, key, val, pipeline, secs, warmup)
    lat = []
    errors = 0
    measuring = stop = False
    clock = time.perf_counter_ns

    async def worker():
        nonlocal errors
        one, batch = c.one, c.batch
        while not stop:
            t0 = clock()
            try:
                if pipeline:
                    r = await batch(get, key, val, pipeline)
                    ok = len(r) == pipeline and all(x is not None for x in r)
                else:
                    ok = await one(get, key, val) is not None
            except Exception:
                ok = False
            if measuring:
                lat.append(clock() - t0)
                errors += not ok

    tasks = [asyncio.ensure_future(worker()) for _ in range(callers)]
    await asyncio.sleep(warmup)
    measuring = True
    t0 = time.perf_counter()
    u0 = usage()
    await asyncio.sleep(secs)
    measuring = False
    u1 = usage()
    elapsed = time.perf_counter() - t0
    stop = True
    await asyncio.gather(*tasks)
    return (len(lat) * per / elapsed, p50(lat), errors) + per_op(u0, u1, len(lat) * per)


def sync_cell(r, get, key, val, pipeline, secs, warmup):
    lat = []
    errors = 0
    clock = time.perf_counter_ns
    t_end = time.perf_counter() + warmup
    measuring = False
    while True:
        now = time.perf_counter()
        if now >= t_end:
            if measuring:
                break
            measuring, t_start, t_end = True, now, now + secs
            u0 = usage()
        t0 = clock()
        try:
            if pipeline:
                p = r.pipeline(transaction=False)
                for _ in range(pipeline):
                    p.get(key) if get else p.set(key, val)
                res = p.execute()
                ok = len(res) == pipeline and all(x is not None for x in res)
            else:
                ok = (r.get(key) if get else r.set(key, val)) is not None
        except Exception:
            ok = False
        if measuring:
            lat.append(clock() - t0)
            errors += not ok
    u1 = usage()
    elapsed = time.perf_counter() - t_start
    n = len(lat) * (pipeline or 1)
    return (n / elapsed, p50(lat), errors) + per_op(u0, u1, n)


def nums(s):
    return [int(x) for x in s.split(',') if x]


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--endpoint', default='127.0.0.1:6379')
    ap.add_argument('--clients', default=','.join(CLIENTS))
    ap.add_argument('--ops', default='GET,SET')
    ap.add_argument('--sizes', type=nums, default=[3, 1000])
    ap.add_argument('--callers', type=nums, default=[1, 64, 1024])
    ap.add_argument('--pipeline', type=int, default=100)
    ap.add_argument('--secs', type=float, default=1.0)
    ap.add_argument('--warmup', type=float, default=0.2)
    ap.add_argument('--reps', type=int, default=3)
    a = ap.parse_args()
    host, _, port = a.endpoint.rpartition(':')
    ops = a.ops.split(',')
    for o in ops:
        if o not in ('GET', 'SET'):
            ap.error('unknown op %s (GET, SET)' % o)
    kinds = {'jr': Jr, 'redis-py': RedisPy, 'redis-py-sync': RedisPySync}
    clients = []
    for n in a.clients.split(','):
        if n not in kinds:
            ap.error('unknown client %s (%s)' % (n, ', '.join(CLIENTS)))
        c = kinds[n]()
        await c.open(host, int(port))
        clients.append(c)
    import redis
    r = redis.Redis(host=host, port=int(port))
    for size in a.sizes:
        r.set(b'peers:get:%d' % size, b'x' * size)
    r.close()
    cells = []
    for op in ops:
        for size in a.sizes:
            cells += [(op, size, n, 0) for n in a.callers]
            if a.pipeline:
                cells.append((op, size, 1, a.pipeline))
    for rep in range(1, a.reps + 1):
        for op, size, n, pipe in cells:
            for c in clients:
                if isinstance(c, RedisPySync) and n != 1:
                    continue
                ops_s, lat, errors, cs, cpu = await cell(c, op == 'GET', size, n, pipe, a.secs,
                                                          a.warmup)
                callers = '%dx%d' % (n, pipe) if pipe else str(n)
                print('sample lang=python client=%s op=%s size=%d callers=%s rep=%d ops_per_s=%.0f '
                      'p50_us=%.1f errors=%d cs_per_op=%.2f cpu_us_per_op=%.2f'
                      % (c.name, op, size, callers, rep, ops_s, lat, errors, cs, cpu),
                      flush=True)
    for c in clients:
        await c.close()


if __name__ == '__main__':
    asyncio.run(main())
