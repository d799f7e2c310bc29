# SPDX-License-Identifier: MIT
"""The configuration keys of MultiplexerPool, checked against libjr's own
option table (jr.describe_options, from jr_options_describe): every libjr
key a configuration key sets exists there, with a value of its type and in
its range; and every libjr key is reachable from the configuration or has a
reason below. A key libjr adds fails this test until the binding decides."""
import os
import re

import jr
from jr.multiplexer import _CONFIGURATION_KEYS, _parse_configuration

# A value libjr accepts for each configuration key (one per key: the test
# fails on a key without one).
SAMPLES = {
    'endpoints': [('127.0.0.1', 6380), '/tmp/redis.sock'],
    'url': 'redis://127.0.0.1:6380/2',
    'password': 'secret',
    'username': 'user',
    'clientname': 'app',
    'database': 2,
    'connecttimeout': 1.5,
    'connectretry': 2,
    'sockettimeout': 10,
    'commandtimeout': 3,
    'recvbuffersize': 16384,
    'tcpkeepalive': True,
    'tcpnodelay': False,
    'maxconnections': 4,
    'maxqueued': 1000,
    'connectionhandler': [('CLIENT', 'SETINFO', 'LIB-NAME', 'app')],
    'tls': True,
    'tls_verify': False,
    'tls_ca_file': '/etc/ca.pem',
    'tls_ca_dir': '/etc/ssl/certs',
    'tls_cert_file': 'client.crt',
    'tls_key_file': 'client.key',
    'tls_server_name': 'redis.example',
    'sentinels': [('127.0.0.1', 26379), '[::1]:26380'],
    'sentinelmaster': 'mymaster',
    'sentinelusername': 'sentuser',
    'sentinelpassword': 'sentpass',
    'protocol': 3,
    'clientcache': 1 << 20,
    'clientcacheprefix': ['user:', 'item:'],
    'clientcachettl': 30,
}

# Configuration keys that set no libjr option key, and why.
NO_OPTION_KEY = {
    'connectionhandler': 'commands for every connection (jr_options_add_connect_command)',
}

# libjr keys no configuration key sets, and why.
NOT_EXPOSED = {
    'silence_timeout_ms': 'libjr\'s dead-connection rule, left at its default (sockettimeout is '
                          'the seed\'s stricter one)',
    'max_bulk_len': 'reader limit, left at libjr\'s default',
    'max_elements': 'reader limit, left at libjr\'s default',
    'max_reply_bytes': 'reader limit, left at libjr\'s default',
    'max_queued_bytes': 'back-pressure in bytes; the seed bounds commands only (maxqueued)',
    'call_spin_us': 'jr_client_call only, which the binding does not use',
    'loop_spin_us': 'loop tuning, left at libjr\'s default',
    'dispatch': 'always poll: the extension sets it (completions run on the asyncio loop)',
    'ready_batch': 'only for a ready hook, which poll dispatch does not use',
    'read_from_replicas': 'not in the seed\'s configuration yet',
    'cluster': 'detection is left at auto (not in the seed\'s configuration)',
}


def test_configuration_matches_libjr_options():
    lib = {o.name: o for o in jr.describe_options()}
    assert lib, 'describe_options returned nothing'
    assert all(isinstance(o, jr.OptionInfo) for o in lib.values())
    assert set(SAMPLES) == set(_CONFIGURATION_KEYS), 'give each configuration key a sample'
    reached = {}
    for key, value in SAMPLES.items():
        options, _, _ = _parse_configuration({key: value})
        if key in NO_OPTION_KEY:
            assert options == [], key
            continue
        assert options, '%s sets no libjr key: map it, or list it in NO_OPTION_KEY' % key
        for jrkey, v in options:
            reached[jrkey] = key
            assert jrkey in lib, '%s sets %r, which libjr does not know' % (key, jrkey)
            o = lib[jrkey]
            if o.type in ('int', 'bool'):
                assert isinstance(v, int) and o.min <= v <= o.max, \
                    '%s sets %s=%r: libjr takes a %s in %d..%d' % (key, jrkey, v, o.type, o.min,
                                                                   o.max)
            else:
                assert o.type in ('string', 'enum'), (jrkey, o.type)
                assert isinstance(v, str), (key, jrkey, v)
    for name in lib:
        if name in reached:
            assert name not in NOT_EXPOSED, '%s is set by %s but listed in NOT_EXPOSED' % (
                name, reached[name])
        else:
            assert name in NOT_EXPOSED, \
                'libjr key %s: map a configuration key to it, or give a reason in ' \
                'NOT_EXPOSED' % name
    assert set(NOT_EXPOSED) <= set(lib), 'NOT_EXPOSED lists keys libjr does not know'


def test_defaults_come_from_libjr():
    lib = {o.name: o for o in jr.describe_options()}
    # tcpkeepalive=True: on, with libjr's default idle time
    options, _, _ = _parse_configuration({'tcpkeepalive': True})
    assert options == [('tcp_keepalive_s', int(lib['tcp_keepalive_s'].default))]
    # None leaves libjr's default
    for key in ('connecttimeout', 'connectretry', 'recvbuffersize', 'tcpnodelay'):
        assert _parse_configuration({key: None})[0] == [], key
    # without commandtimeout, the pool's own deadline is libjr's default
    mp = jr.MultiplexerPool()
    assert mp._command_timeout == int(lib['command_timeout_ms'].default) / 1000.0


def test_ranges_come_from_libjr():
    lib = {o.name: o for o in jr.describe_options()}
    for key, jrkey in (('recvbuffersize', 'recv_buffer_size'), ('maxconnections', 'max_connections'),
                       ('connectretry', 'connect_retry'), ('database', 'database')):
        o = lib[jrkey]
        assert _parse_configuration({key: o.min})[0] == [(jrkey, o.min)]
        for bad in (o.min - 1, o.max + 1):
            try:
                _parse_configuration({key: bad})
            except ValueError as e:
                assert key in str(e) and '%d..%d' % (o.min, o.max) in str(e)
            else:
                raise AssertionError('%s=%d accepted' % (key, bad))


def test_readme_table_matches_the_mapping():
    # The README's configuration table: one row per configuration key, its
    # libjr option column naming the keys it sets.
    with open(os.path.join(os.path.dirname(__file__), '..', 'README.md')) as f:
        readme = f.read()
    section = readme[readme.index('\n## Configuration\n') + 1:]
    section = section[:section.find('\n## ')]
    documented = {}
    for keys, column in re.findall(r'^\| (`[^|]*) \| ([^|]*) \|', section, re.M):
        for key in re.findall(r'`(\w+)`', keys):
            same = column.strip() == 'same'
            documented[key] = {key} if same else set(re.findall(r'`(\w+)`', column))
    assert set(documented) == set(_CONFIGURATION_KEYS)
    for key, value in SAMPLES.items():
        options, _, _ = _parse_configuration({key: value})
        sets = {k for k, _ in options}
        if key in NO_OPTION_KEY:
            assert not sets
        else:
            assert documented[key] == sets, (key, documented[key], sets)
