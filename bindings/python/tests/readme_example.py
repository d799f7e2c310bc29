# SPDX-License-Identifier: MIT
# The seed README example. Two changes, both marked "jr:": the import line
# (package `jr` instead of `justredis`) and the configuration, so that the
# test can point it at its own redis-server (python3 readme_example.py PORT;
# without an argument it uses the README's default, localhost:6379).
from jr import MultiplexerPool, utf8_bytes_as_strings  # jr: was `from justredis import ...`
import asyncio
import sys

CONFIGURATION = {'endpoints': [('localhost', int(sys.argv[1]))]} if len(sys.argv) > 1 else None  # jr


async def main():
    # Connect to the default redis port on localhost
    async with MultiplexerPool(CONFIGURATION) as redis:  # jr: was MultiplexerPool()
        # Send commands to database #0 (and use by default bytes as utf8 strings decoder)
        db = redis.database(decoder=utf8_bytes_as_strings)
        # Shortcut so you don't have to type long words each time
        c = db.command
        cr = db.commandreply
        # Send an pipelined SET request where you don't care about the result (You don't have to use bytes notation or caps)
        await c(b'SET', 'Hello', 'World!')
        # Send a pipelined GET request and resolve it immediately
        print('Hello, %s' % await cr(b'GET', 'Hello'))

        # You can even send both commands together atomically (so if the first fails the second won't run)
        async with db.multi() as m:
            m.command(b'SET', 'Hello', 'World!')
            hello = m.command(b'GET', 'Hello')
        print('Atomic Hello, %s' % await hello())

        # This shows support in the Pooled multiplexer for blocking commands
        waiting = await c(b'BLPOP', 'queue', 0)
        await cr(b'RPUSH', 'queue', 'Hello, World!')
        print('Queued %s' % (await waiting())[1])

        # And even with publish & subscribe.
        async with redis.pubsub(decoder=utf8_bytes_as_strings) as pubsub:
            await pubsub.add('Hello')
            await cr(b'PUBLISH', 'Hello', 'World!')
            await pubsub.message() # This is the registration message for the Hello channel.
            print('PubSub Hello, %s' % (await pubsub.message())[2])

        # And here we can do an atomic get and increment example
        async with db.watch('Counter') as w:
            value = int(await w.commandreply(b'GET', 'Counter') or 0)
            value += 1
            async with w.multi() as m:
                m.command(b'SET', 'Counter', value)
            # If there is an transaction error, it will throw here
            counter = value

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    loop.run_until_complete(main())
