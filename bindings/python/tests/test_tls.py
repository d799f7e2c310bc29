# SPDX-License-Identifier: MIT
"""TLS configuration keys and rediss:// URLs against redis-server's
--tls-port, with certificates made by the openssl command (skipped without
it). The server certificate names only DNS:localhost, so that connecting to
127.0.0.1 needs tls_server_name (or tls_verify False)."""
import shutil
import subprocess

import pytest

import jr
from jr import MultiplexerPool, RedisError

from conftest import RedisServer, free_port


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    if shutil.which('openssl') is None:
        pytest.skip('openssl is not installed (needed to make certificates)')
    d = tmp_path_factory.mktemp('tls')
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    steps = [
        ['req', '-x509', *ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
         '-subj', '/CN=jr-py-ca'],
        ['req', '-x509', *ec, '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '2',
         '-subj', '/CN=jr-py-rogue'],
        ['req', *ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'],
        ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
         '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.cnf'],
        ['req', *ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=jr-py'],
        ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
         '-CAcreateserial', '-out', 'client.crt', '-days', '2'],
    ]
    (d / 'san.cnf').write_text('subjectAltName=DNS:localhost\n')
    for step in steps:
        subprocess.run(['openssl', *step], cwd=d, check=True, capture_output=True)
    return d


def tls_server(certs, auth_clients):
    port = free_port()
    srv = RedisServer('--tls-port', str(port), '--tls-cert-file', str(certs / 'server.crt'),
                      '--tls-key-file', str(certs / 'server.key'), '--tls-ca-cert-file',
                      str(certs / 'ca.crt'), '--tls-auth-clients', auth_clients)
    srv.tls_port = port
    return srv


@pytest.fixture(scope='module')
def tls_port(certs):
    srv = tls_server(certs, 'no')
    yield srv.tls_port
    srv.stop()


async def ping(cfg):
    async with MultiplexerPool(dict(cfg, connectretry=0)) as mp:
        return await mp.database().commandreply('PING')


@pytest.mark.asyncio
async def test_tls_verified(certs, tls_port):
    ca = str(certs / 'ca.crt')
    assert await ping({'url': 'rediss://localhost:%d' % tls_port, 'tls_ca_file': ca}) == b'PONG'
    assert await ping({'endpoints': [('localhost', tls_port)], 'tls': True,
                       'tls_ca_file': certs / 'ca.crt'}) == b'PONG'  # a path object
    # 127.0.0.1 is not in the certificate: verification fails unless the
    # name to verify is given
    with pytest.raises(RedisError) as ei:
        await ping({'endpoints': [('127.0.0.1', tls_port)], 'tls': True, 'tls_ca_file': ca})
    assert ei.value.code == jr.ECONNECT
    assert await ping({'endpoints': [('127.0.0.1', tls_port)], 'tls': True, 'tls_ca_file': ca,
                       'tls_server_name': 'localhost'}) == b'PONG'
    # a URL never resets an explicit tls key (keys win whatever their order)
    assert await ping({'tls': True, 'tls_ca_file': ca,
                       'url': 'redis://localhost:%d' % tls_port}) == b'PONG'


@pytest.mark.asyncio
async def test_tls_untrusted(certs, tls_port):
    cfg = {'url': 'rediss://localhost:%d' % tls_port, 'tls_ca_file': str(certs / 'rogue.crt')}
    with pytest.raises(RedisError) as ei:
        await ping(cfg)
    assert ei.value.code == jr.ECONNECT and ei.value.unsent
    assert await ping(dict(cfg, tls_verify=False)) == b'PONG'  # testing only


@pytest.mark.asyncio
async def test_tls_unusable_files_raise_etls(certs, tls_port):
    with pytest.raises(RedisError) as ei:
        await ping({'url': 'rediss://localhost:%d' % tls_port,
                    'tls_ca_file': str(certs / 'missing.crt')})
    assert ei.value.code == jr.ETLS


@pytest.mark.asyncio
async def test_tls_client_certificate(certs):
    srv = tls_server(certs, 'yes')
    try:
        cfg = {'url': 'rediss://localhost:%d' % srv.tls_port, 'tls_ca_file': str(certs / 'ca.crt')}
        assert await ping(dict(cfg, tls_cert_file=str(certs / 'client.crt'),
                               tls_key_file=str(certs / 'client.key'))) == b'PONG'
        with pytest.raises(RedisError):
            await ping(cfg)  # the server wants a client certificate
    finally:
        srv.stop()
