#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""GET throughput from asyncio: libjr (the jr package) vs redis-py's redis.asyncio.

    ~/venv/jr/bin/python bindings/python/bench.py [--seconds N] [--tasks 1024] [--port P]

Each library runs `tasks` concurrent asyncio tasks, each doing GET in a loop
for `seconds` seconds (after a short warm-up), against the same redis-server
(its own, on a free loopback port, unless --port is given), in the same run.
redis-py is used the ordinary way (redis.asyncio.Redis with its default
connection pool, which opens a connection per concurrently busy task);
libjr pipelines every task's GET on its one shared connection.
Runs with the python of a venv where jr is installed; needs redis-py there
for the comparison (pip install redis).
"""
import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def import_jr():
    # The installed package, not the source tree next to this script (whose
    # jr/ has no compiled extension).
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != HERE]
    try:
        import jr
    except ImportError:
        sys.exit('no jr package: run this with the python of a venv where it is installed '
                 '(pip install ./bindings/python; see bindings/python/README.md)')
    return jr


def start_server():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    d = tempfile.mkdtemp(prefix='jr-bench-')
    proc = subprocess.Popen([shutil.which('redis-server') or '/usr/bin/redis-server', '--port',
                             str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly',
                             'no', '--dir', d, '--maxclients', '10000'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1) as c:
                c.sendall(b'PING\r\n')
                if c.recv(16).startswith(b'+PONG'):
                    return proc, port, d
        except OSError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError('redis-server did not start')


async def run_tasks(get, tasks, seconds, warmup):
    # get(key) -> awaitable reply
    count = 0
    stop = False
    measuring = False

    async def worker():
        nonlocal count
        while not stop:
            await get(b'bench:key')
            if measuring:
                count += 1

    workers = [asyncio.ensure_future(worker()) for _ in range(tasks)]
    await asyncio.sleep(warmup)
    measuring = True
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    measuring = False
    elapsed = time.perf_counter() - t0
    n = count
    stop = True
    await asyncio.gather(*workers)
    return n / elapsed


async def bench_jr(jr, port, tasks, seconds, warmup):
    async with jr.MultiplexerPool({'endpoints': [('127.0.0.1', port)]}) as mp:
        db = mp.database()
        await db.commandreply(b'SET', b'bench:key', b'x' * 16)
        cr = db.commandreply
        return await run_tasks(lambda key: cr(b'GET', key), tasks, seconds, warmup)


async def bench_redispy(port, tasks, seconds, warmup):
    import redis.asyncio as aioredis
    r = aioredis.Redis(host='127.0.0.1', port=port)
    try:
        await r.set(b'bench:key', b'x' * 16)
        ops = await run_tasks(r.get, tasks, seconds, warmup)
        conns = len(await r.client_list())
    finally:
        await r.close()
        await r.connection_pool.disconnect()
    return ops, conns


async def bench_jr_batch(jr, port, batch, seconds, warmup):
    """GETs/s from one task, `batch` at a time, three ways: `batch` tasks
    each awaiting commandreply (the per-await path), asyncio.gather of
    `batch` commandreply calls, and one commandreplies call of `batch`."""
    async with jr.MultiplexerPool({'endpoints': [('127.0.0.1', port)]}) as mp:
        db = mp.database()
        await db.commandreply(b'SET', b'bench:key', b'x' * 16)
        cr = db.commandreply
        per_await = await run_tasks(lambda key: cr(b'GET', key), batch, seconds, warmup)
        cmds = [(b'GET', b'bench:key')] * batch

        async def loop(step):
            count, measuring, t0 = 0, False, time.perf_counter()
            end_warm = t0 + warmup
            while True:
                await step()
                now = time.perf_counter()
                if measuring:
                    count += batch
                    if now - t0 >= seconds:
                        return count / (now - t0)
                elif now >= end_warm:
                    measuring, t0 = True, now
        gathered = await loop(lambda: asyncio.gather(*[cr(b'GET', b'bench:key')
                                                       for _ in range(batch)]))
        batched = await loop(lambda: db.commandreplies(cmds))
        return per_await, gathered, batched


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=float, default=5.0)
    ap.add_argument('--warmup', type=float, default=1.0)
    ap.add_argument('--tasks', type=int, default=1024)
    ap.add_argument('--port', type=int, help='use a running redis-server on 127.0.0.1')
    ap.add_argument('--skip-redispy', action='store_true')
    ap.add_argument('--batch', type=int, nargs='*',
                    help='instead: compare per-await, gather and commandreplies at these '
                         'batch sizes (libjr only)')
    args = ap.parse_args()
    jr = import_jr()
    proc = d = None
    port = args.port
    if port is None:
        proc, port, d = start_server()
    try:
        print('python %s, libjr %s, %d tasks, %.1f s each, redis-server on port %d'
              % (sys.version.split()[0], jr.libjr_version, args.tasks, args.seconds, port))
        if args.batch is not None:
            for b in args.batch or [64, 1024]:
                pa, ga, ba = asyncio.run(bench_jr_batch(jr, port, b, args.seconds, args.warmup))
                print('batch=%-5d per-await (%d tasks) %9.0f GET/s   gather %9.0f GET/s   '
                      'commandreplies %9.0f GET/s   (%.2fx per-await, %.2fx gather)'
                      % (b, b, pa, ga, ba, ba / pa, ba / ga))
            return
        jr_ops = asyncio.run(bench_jr(jr, port, args.tasks, args.seconds, args.warmup))
        print('libjr (jr, poll mode + add_reader): %10.0f GET/s  (1 shared connection)' % jr_ops)
        if args.skip_redispy:
            return
        try:
            import redis  # noqa: F401
        except ImportError:
            print('redis-py not installed (apt-get install python3-redis): no comparison')
            return
        rp_ops, conns = asyncio.run(bench_redispy(port, args.tasks, args.seconds, args.warmup))
        print('redis-py %-26s %10.0f GET/s  (%d connections)'
              % ('(redis.asyncio) ' + redis.__version__ + ':', rp_ops, conns))
        print('ratio libjr / redis-py: %.2fx' % (jr_ops / rp_ops))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    main()
