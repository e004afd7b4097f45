import {strict as assert} from 'node:assert'
import {execFileSync} from 'node:child_process'
import {copyFile, mkdtemp, readFile, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {parseJson, repoRoot, runCli} from '../support/cli.js'

async function gatewayDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpauth-secrets-'))
  await copyFile(join(repoRoot, '.env.example'), join(dir, '.env.example'))
  return dir
}

async function envValues(dir: string): Promise<Map<string, string>> {
  return parseEnvText(await readFile(join(dir, '.env'), 'utf8')).values
}

/** openssl, not node, reads the key back: the two cannot share a mistake. */
function opensslPublicKey(privateKeyB64: string): {pem: string; bits: number} {
  const pemPrivate = Buffer.from(privateKeyB64, 'base64')
  const text = execFileSync('openssl', ['pkey', '-text_pub', '-noout'], {input: pemPrivate}).toString()
  const pem = execFileSync('openssl', ['pkey', '-pubout'], {input: pemPrivate}).toString()
  return {pem, bits: Number(/\((\d+) bit\)/.exec(text)?.[1])}
}

describe('generate-all-secrets', () => {
  it('turns a directory with .env.example into a complete .env, then changes nothing on a second run', async () => {
    const dir = await gatewayDir()
    const first = await runCli(['generate-all-secrets', '--json'], {cwd: dir})
    assert.equal(first.code, 0, first.stderr)
    const body = parseJson(first)
    assert.equal(body.created_env_file, true)
    assert.deepEqual(
      body.secrets.map((secret: any) => [secret.name, secret.action]),
      [
        ['GATEWAY_JWT_SECRET', 'created'],
        ['JWT_PRIVATE_KEY_B64', 'created'],
        ['REDIS_PASSWORD', 'created'],
      ],
    )
    const values = await envValues(dir)
    assert.match(values.get('GATEWAY_JWT_SECRET')!, /^[A-Za-z0-9_-]{64}$/)
    assert.match(values.get('REDIS_PASSWORD')!, /^[A-Za-z0-9]{48}$/)
    assert.equal(opensslPublicKey(values.get('JWT_PRIVATE_KEY_B64')!).bits, 2048)
    assert.equal(values.get('BASE_DOMAIN'), 'example.com', 'other lines of the example are kept')
    assert.equal((await stat(join(dir, '.env'))).mode & 0o777, 0o600)
    for (const secret of ['GATEWAY_JWT_SECRET', 'JWT_PRIVATE_KEY_B64', 'REDIS_PASSWORD']) {
      assert.ok(!first.stdout.includes(values.get(secret)!) && !first.stderr.includes(values.get(secret)!), `${secret} leaked`)
    }

    const before = await readFile(join(dir, '.env'), 'utf8')
    const second = await runCli(['generate-all-secrets', '--json'], {cwd: dir})
    assert.equal(second.code, 0, second.stderr)
    assert.deepEqual(
      parseJson(second).secrets.map((secret: any) => secret.action),
      ['kept', 'kept', 'kept'],
    )
    assert.equal(await readFile(join(dir, '.env'), 'utf8'), before)
  })

  it('fills only the placeholders and keeps usable values', async () => {
    const dir = await gatewayDir()
    await writeFile(join(dir, '.env'), `# mine\nGATEWAY_JWT_SECRET=${'k'.repeat(40)}\nREDIS_PASSWORD=your_redis_password_here\n`)
    const result = await runCli(['generate-all-secrets', '--json'], {cwd: dir})
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(
      parseJson(result).secrets.map((secret: any) => secret.action),
      ['kept', 'created', 'created'],
    )
    const text = await readFile(join(dir, '.env'), 'utf8')
    assert.ok(text.startsWith(`# mine\nGATEWAY_JWT_SECRET=${'k'.repeat(40)}\nREDIS_PASSWORD=`))
    assert.doesNotMatch(text, /your_redis_password_here/)
  })

  it('stops with exit 2 and writes nothing when a key is set but corrupt', async () => {
    const dir = await gatewayDir()
    const corrupt = Buffer.from('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n').toString('base64')
    const original = `JWT_PRIVATE_KEY_B64=${corrupt}\n`
    await writeFile(join(dir, '.env'), original)
    const result = await runCli(['generate-all-secrets'], {cwd: dir})
    assert.equal(result.code, 2)
    assert.match(result.stderr, /JWT_PRIVATE_KEY_B64 in \.env is set but not usable: PEM is truncated or not a private key/)
    assert.equal(await readFile(join(dir, '.env'), 'utf8'), original)
  })

  it('--format github masks new values and exports them through $GITHUB_ENV', async () => {
    const dir = await gatewayDir()
    const githubEnv = join(dir, 'github_env')
    await writeFile(githubEnv, 'EARLIER=1\n')
    const result = await runCli(['generate-all-secrets', '--format', 'github', '--github-env'], {cwd: dir, env: {GITHUB_ENV: githubEnv}})
    assert.equal(result.code, 0, result.stderr)
    const values = await envValues(dir)
    const masked = result.stdout.trim().split('\n')
    assert.deepEqual(
      masked,
      ['GATEWAY_JWT_SECRET', 'JWT_PRIVATE_KEY_B64', 'REDIS_PASSWORD'].map((name) => `::add-mask::${values.get(name)}`),
    )
    const exported = await readFile(githubEnv, 'utf8')
    assert.ok(exported.startsWith('EARLIER=1\n'))
    assert.match(exported, new RegExp(`REDIS_PASSWORD<<(MCPAUTH_EOF_\\d+)\\n${values.get('REDIS_PASSWORD')}\\n\\1\\n`))
  })
})

describe('generate-jwt-secret', () => {
  it('writes a 64-character secret, shows only its fingerprint, and refuses to replace it without --force', async () => {
    const dir = await gatewayDir()
    const first = await runCli(['generate-jwt-secret'], {cwd: dir})
    assert.equal(first.code, 0, first.stderr)
    const secret = (await envValues(dir)).get('GATEWAY_JWT_SECRET')!
    assert.match(secret, /^[A-Za-z0-9_-]{64}$/)
    assert.match(first.stderr, /Wrote GATEWAY_JWT_SECRET in \.env \(sha256:[0-9a-f]{12}\)/)
    assert.ok(!first.stdout.includes(secret) && !first.stderr.includes(secret))

    const refused = await runCli(['generate-jwt-secret'], {cwd: dir})
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /already set/)
    assert.equal((await envValues(dir)).get('GATEWAY_JWT_SECRET'), secret)

    const forced = await runCli(['generate-jwt-secret', '--force', '--json'], {cwd: dir})
    assert.equal(forced.code, 0, forced.stderr)
    assert.equal(parseJson(forced).action, 'replaced')
    assert.notEqual((await envValues(dir)).get('GATEWAY_JWT_SECRET'), secret)
  })

  it('--print prints a new secret and writes nothing', async () => {
    const dir = await gatewayDir()
    const result = await runCli(['generate-jwt-secret', '--print'], {cwd: dir})
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^[A-Za-z0-9_-]{64}\n$/)
    await assert.rejects(stat(join(dir, '.env')))
  })

  it('updates a file that uses the newer OAUTH_JWT_SECRET name under that name', async () => {
    const dir = await gatewayDir()
    await writeFile(join(dir, '.env'), 'OAUTH_JWT_SECRET=change_me\n')
    const result = await runCli(['generate-jwt-secret'], {cwd: dir})
    assert.equal(result.code, 0, result.stderr)
    const values = await envValues(dir)
    assert.match(values.get('OAUTH_JWT_SECRET')!, /^[A-Za-z0-9_-]{64}$/)
    assert.equal(values.has('GATEWAY_JWT_SECRET'), false)
  })
})

describe('generate-rsa-keys', () => {
  it('writes a 4096-bit key and prints the public key that openssl derives from it', async () => {
    const dir = await gatewayDir()
    const result = await runCli(['generate-rsa-keys', '--bits', '4096', '--json'], {cwd: dir})
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    const fromOpenssl = opensslPublicKey((await envValues(dir)).get('JWT_PRIVATE_KEY_B64')!)
    assert.equal(fromOpenssl.bits, 4096)
    assert.equal(body.public_key_pem, fromOpenssl.pem)
    assert.equal(body.public_jwk.kty, 'RSA')
    assert.equal(body.public_jwk.alg, 'RS256')
    assert.equal(body.action, 'created')
  })

  it('keeps a valid key unless --force, treating the example placeholder as missing', async () => {
    const dir = await gatewayDir()
    await copyFile(join(dir, '.env.example'), join(dir, '.env'))
    assert.equal((await runCli(['generate-rsa-keys'], {cwd: dir})).code, 0)
    const key = (await envValues(dir)).get('JWT_PRIVATE_KEY_B64')
    const kept = await runCli(['generate-rsa-keys', '--json'], {cwd: dir})
    assert.equal(parseJson(kept).action, 'kept')
    assert.equal((await envValues(dir)).get('JWT_PRIVATE_KEY_B64'), key)
    const replaced = await runCli(['generate-rsa-keys', '--force', '--json'], {cwd: dir})
    assert.equal(parseJson(replaced).action, 'replaced')
    assert.notEqual((await envValues(dir)).get('JWT_PRIVATE_KEY_B64'), key)
  })
})
