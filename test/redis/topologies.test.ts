import {strict as assert} from 'node:assert'
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseJson, runCli} from '../support/cli.js'
import {GatewayFixtures} from '../support/gateway-fixtures.js'
import {TestRedisServer, freePort, waitForRedis} from '../support/redis-server.js'

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

describe('Redis behind Sentinel', () => {
  const master = new TestRedisServer()
  let sentinel: ChildProcess | undefined
  let sentinelPort = 0

  before(async () => {
    await master.start()
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-sentinel-'))
    sentinelPort = await freePort()
    const config = [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor gateway 127.0.0.1 ${master.port} 1`].join('\n')
    await writeFile(join(dir, 'sentinel.conf'), `${config}\n`)
    sentinel = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], {stdio: 'ignore'})
    await waitForRedis(sentinelPort)
  })

  after(async () => {
    await stopProcess(sentinel)
    await master.stop()
  })

  it('finds the master through the sentinels and reads its records', async () => {
    const redis = master.client()
    const {clientId} = await new GatewayFixtures(redis).client()
    await new GatewayFixtures(redis).accessToken({username: 'alice', clientId})
    redis.disconnect()
    const result = await runCli(['oauth-list-tokens', '--json'], {env: {REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'gateway'}})
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(
      parseJson<any[]>(result).map((row) => row.username),
      ['alice'],
    )
  })

  it('exits 4 when the master found through the sentinels has no such database, before any read', async () => {
    const result = await runCli(['oauth-list-tokens'], {env: {REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'gateway', REDIS_DB: '42'}})
    assert.equal(result.code, 4, result.stdout + result.stderr)
    assert.match(result.stderr, /^Error: .*database 42/)
    assert.equal(result.stdout, '')
  })

  it('exits 4 when the sentinels do not know the master name', async () => {
    const result = await runCli(['oauth-stats'], {env: {REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'nope'}})
    assert.equal(result.code, 4, result.stderr)
    assert.match(result.stderr, /redis-sentinel:\/\/127\.0\.0\.1:\d+\/nope/)
  })
})

describe('Redis over TLS', () => {
  let server: ChildProcess | undefined
  let port = 0
  let dir = ''

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpauth-tls-'))
    const openssl = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'ignore'})
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=mcpauth test CA')
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1')
    await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'san.ext',
    )
    port = await freePort()
    const tlsArgs = [
      '--tls-port',
      String(port),
      '--tls-cert-file',
      'server.crt',
      '--tls-key-file',
      'server.key',
      '--tls-ca-cert-file',
      'ca.crt',
      '--tls-auth-clients',
      'no',
    ]
    server = spawn('redis-server', ['--port', '0', '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...tlsArgs], {cwd: dir, stdio: 'ignore'})
    await waitForRedis(port, {tls: {ca: readFileSync(join(dir, 'ca.crt'))}})
  })

  after(async () => {
    await stopProcess(server)
  })

  it('connects with rediss:// and the CA file', async () => {
    const result = await runCli(['oauth-stats', '--json', '--redis-ca-file', join(dir, 'ca.crt')], {env: {REDIS_URL: `rediss://127.0.0.1:${port}/0`}})
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson(result).kinds.token.count, 0)
    assert.equal(result.stderr, '')
  })

  it('refuses a certificate it cannot verify, with a hint, exit 4', async () => {
    const result = await runCli(['oauth-stats'], {env: {REDIS_URL: `rediss://127.0.0.1:${port}/0`}})
    assert.equal(result.code, 4)
    assert.match(result.stderr, /TLS to Redis at rediss:\/\/127\.0\.0\.1:\d+\/0 failed/)
    assert.match(result.stderr, /--redis-ca-file/)
  })
})
