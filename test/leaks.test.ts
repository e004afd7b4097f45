import {strict as assert} from 'node:assert'
import {copyFile, mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText, updateEnvFile} from '../src/env/env-file.js'
import {repoRoot, runCli} from './support/cli.js'
import {useRedis} from './support/context.js'

/** Arguments that let each command run (or fail) without a terminal; ids are made up. */
const ARGS: Record<string, string[]> = {
  'oauth-delete-client-complete': ['--yes', '--', 'client_doesnotexist0000000'],
  'oauth-delete-registration': ['--yes', '--', 'client_doesnotexist0000000'],
  'oauth-delete-token': ['--yes', '--', 'AAAAAAAAAAAAAAAAAAAAAA'],
  'oauth-revoke-user': ['--yes', '--', 'nobody'],
  'oauth-purge-expired': ['--yes'],
  // Run on a copy of the directory: replacing the secret is the command's work.
  'generate-jwt-secret': ['--force'],
  // oauth-backup runs before it, in the same directory.
  'oauth-restore': ['--latest'],
  'mcp-client-token': ['--mint', '--username', 'alice'],
  'mcp-config': ['--client', 'cursor', '--server', 'fetch=https://mcp-fetch.example.com/mcp'],
}

/**
 * Exit codes of runs that did their work: the sign-in commands get as far as
 * the network (no OAuth server here: 4), everything else succeeds.
 */
const NEEDS_THE_NETWORK = {code: 4, output: /Cannot reach https:\/\/auth\.example\.com/}
const EXPECTED_EXIT: Record<string, {code: number; output?: RegExp}> = {
  'generate-github-token': NEEDS_THE_NETWORK,
  'refresh-tokens': NEEDS_THE_NETWORK,
}

/** Asking for a secret is the one way to see it: these flags, and only these, may print one. */
const REVEALING = new Set(['--reveal', '--print'])

/**
 * Commands whose output is a token by purpose (or with a flag that asks for
 * it): they may print that one secret on stdout, and no other.
 */
const PRINTS_ONE_SECRET: Array<{args: string[]; secret: string}> = [
  {args: ['mcp-headers'], secret: 'MCP_CLIENT_ACCESS_TOKEN'},
  {args: ['mcp-config', '--stdout'], secret: 'MCP_CLIENT_ACCESS_TOKEN'},
]

describe('no secret leaks', () => {
  const ctx = useRedis()

  it('no command prints a secret from .env or Redis unless asked to', async function () {
    // About 70 CLI runs one after another: 110 s on an idle 2-core box, several times that under load.
    this.timeout(600_000)
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-leaks-'))
    await copyFile(join(repoRoot, '.env.example'), join(dir, '.env.example'))
    assert.equal((await runCli(['generate-all-secrets'], {cwd: dir})).code, 0)
    await updateEnvFile(join(dir, '.env'), () => ({
      GITHUB_CLIENT_ID: 'Iv1.0123456789abcdef',
      GITHUB_CLIENT_SECRET: 'github-client-secret-0123456789abcdef0123',
      GATEWAY_OAUTH_CLIENT_ID: 'client_AbCdEfGhIjKlMnOpQrStUv',
      GATEWAY_OAUTH_CLIENT_SECRET: 'gateway-client-secret-0123456789abcdef0123',
      GATEWAY_OAUTH_REFRESH_TOKEN: 'gateway-refresh-token-0123456789abcdef0123',
      GITHUB_PAT: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz01',
      REDIS_URL: ctx.server.url,
    }))
    const {record} = await ctx.gateway.client({name: 'Leaky'})
    const env = {} as Record<string, string>
    const minted = await runCli(['mcp-client-token', '--mint', '--username', 'alice'], {cwd: dir, env})
    assert.equal(minted.code, 0, minted.stderr)

    const redisSecrets: Array<[string, string]> = [
      ['client_secret in Redis', record.client_secret],
      ['registration_access_token in Redis', record.registration_access_token],
    ]
    const firstSecrets = [...(await envSecrets(dir)), ...redisSecrets]
    for (const [name, value] of firstSecrets) assert.ok(value && value.length >= 16, `${name} is set for the test`)

    const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
    const runs: string[][] = []
    for (const id of Object.keys(manifest.commands)) {
      runs.push([id, ...(ARGS[id] ?? [])])
      if ('json' in manifest.commands[id].flags) runs.push([id, '--json', ...(ARGS[id] ?? [])])
      for (const flag of REVEALING) if (`${flag.slice(2)}` in manifest.commands[id].flags) runs.push([id, flag, ...(ARGS[id] ?? [])])
    }
    runs.push(['mcp-config', '--stdout', ...ARGS['mcp-config']])
    for (const args of runs) {
      // The rotations would change the very values being looked for: run them on a copy.
      const cwd = args[0].startsWith('generate-') ? await copyOfDir(dir) : dir
      // Read again before and after each run: a run may replace a secret (--mint saves a new token, --force rotates).
      const before = await envSecrets(cwd)
      const result = await runCli(args, {cwd, env})
      const expected = EXPECTED_EXIT[args[0]] ?? {code: 0}
      assert.equal(result.code, expected.code, `mcpauth ${args.join(' ')} did not get past its checks (exit ${result.code}):\n${result.stderr}`)
      if (expected.output) assert.match(`${result.stdout}${result.stderr}`, expected.output, `mcpauth ${args.join(' ')} stopped before the network`)
      const secrets = [...before, ...(await envSecrets(cwd)), ...redisSecrets]
      const revealing = args.some((arg) => REVEALING.has(arg))
      const printable = PRINTS_ONE_SECRET.find((rule) => rule.args[0] === args[0] && rule.args.every((arg) => args.includes(arg)))?.secret
      for (const [name, value] of secrets) {
        if (revealing && args.includes('--reveal') && name.includes('Redis')) continue
        assert.ok(!result.stderr.includes(value), `mcpauth ${args.join(' ')} printed ${name} on stderr`)
        if (!revealing && name !== printable) assert.ok(!result.stdout.includes(value), `mcpauth ${args.join(' ')} printed ${name} on stdout`)
      }
    }
  })
})

const SECRET_NAMES = [
  'GATEWAY_JWT_SECRET',
  'JWT_PRIVATE_KEY_B64',
  'REDIS_PASSWORD',
  'GITHUB_CLIENT_SECRET',
  'GATEWAY_OAUTH_CLIENT_SECRET',
  'GATEWAY_OAUTH_REFRESH_TOKEN',
  'GITHUB_PAT',
  'MCP_CLIENT_ACCESS_TOKEN',
]

/** The secrets in a directory's .env as they are now. */
async function envSecrets(dir: string): Promise<Array<[string, string]>> {
  const values = parseEnvText(await readFile(join(dir, '.env'), 'utf8')).values
  return SECRET_NAMES.flatMap((name) => (values.get(name) ? [[name, values.get(name)!] as [string, string]] : []))
}

async function copyOfDir(dir: string): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'mcpauth-leaks-copy-'))
  await copyFile(join(dir, '.env'), join(copy, '.env'))
  return copy
}
