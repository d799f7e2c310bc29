# SPDX-License-Identifier: MIT
"""A smoke test of an installed jr without pytest: starts a redis-server on a
free loopback port, runs SET and GET through MultiplexerPool, and checks that
the extension is the stable-ABI one. test.sh runs it on every other CPython
it finds (the suite itself runs on one)."""
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import jr
import jr._jr


async def roundtrip(port: int) -> str:
    async with jr.MultiplexerPool({'endpoints': [('127.0.0.1', port)]}) as redis:
        db = redis.database(decoder=jr.utf8_bytes_as_strings)
        await db.commandreply('SET', 'smoke', 'Python %d.%d' % sys.version_info[:2])
        return str(await db.commandreply('GET', 'smoke'))


def main() -> int:
    so = os.path.basename(jr._jr.__file__ or '')
    if so != '_jr.abi3.so':
        print('extension is %s, not _jr.abi3.so' % so)
        return 1
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    d = tempfile.mkdtemp(prefix='jr-smoke-')
    server = subprocess.Popen([shutil.which('redis-server') or '/usr/bin/redis-server', '--port',
                               str(port), '--bind', '127.0.0.1', '--save', '', '--dir', d],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(('127.0.0.1', port), 0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        got = asyncio.run(roundtrip(port))
    finally:
        server.terminate()  # by PID
        server.wait()
        shutil.rmtree(d, ignore_errors=True)
    print('%s: %s (%s, libjr %s)' % (sys.executable, got, so, jr.libjr_version))
    return 0 if got == 'Python %d.%d' % sys.version_info[:2] else 1


if __name__ == '__main__':
    sys.exit(main())
