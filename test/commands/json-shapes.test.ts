import {strict as assert} from 'node:assert'
import {copyFile, mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {updateEnvFile} from '../../src/env/env-file.js'
import {parseJson, repoRoot, runCli} from '../support/cli.js'
import {useRedis} from '../support/context.js'

/** Scripts read these keys; a change is a breaking change and must be made here on purpose. */
const ERROR_KEYS = ['code', 'exit_code', 'hint', 'message']

describe('the --json error of every command', function () {
  this.timeout(120_000)

  it('is one object on stdout, {error: {code, message, hint, exit_code}}, and one plain line on stderr', async () => {
    const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
    const ids = Object.keys(manifest.commands).filter((id) => 'json' in manifest.commands[id].flags)
    assert.ok(ids.length >= 20, `${ids.length} commands have --json`)
    for (const id of ids) {
      // A flag no command knows: every command fails the same way, before doing anything.
      const result = await runCli([id, '--json', '--no-such-flag'])
      assert.equal(result.code, 2, `${id}: ${result.stdout}${result.stderr}`)
      const body = JSON.parse(result.stdout)
      assert.deepEqual(Object.keys(body), ['error'], id)
      assert.deepEqual(Object.keys(body.error).sort(), ERROR_KEYS, id)
      assert.equal(body.error.exit_code, 2, id)
      assert.equal(typeof body.error.message, 'string', id)
      const lines = result.stderr.split('\n').filter((line) => line !== '')
      assert.equal(lines.length, 1, `${id} stderr: ${result.stderr}`)
      assert.match(lines[0], /^Error: Nonexistent flag/, id)
    }
  })

  it('keeps the exit code of an expected failure (exit 4, .env missing)', async () => {
    const result = await runCli(['oauth-stats', '--json', '--env-file', '/nonexistent/.env'])
    assert.equal(result.code, 4)
    const body = JSON.parse(result.stdout)
    assert.deepEqual(body, {error: {code: 'env_missing', message: 'Cannot read /nonexistent/.env: no such file.', hint: null, exit_code: 4}})
    assert.equal(result.stderr, 'Error: Cannot read /nonexistent/.env: no such file.\n')
  })
})

/**
 * The keys of each command's --json answer (of its first element, for a list).
 * Scripts depend on them: change one here, on purpose, with the command.
 */
const SUCCESS_KEYS: Array<{args: string[]; keys: string}> = [
  {args: ['check-token-expiry'], keys: 'checked_at,env_file,ok,tokens,within_seconds'},
  {args: ['generate-all-secrets'], keys: 'created_env_file,env_file,secrets,seeded_from'},
  {args: ['generate-jwt-secret', '--print'], keys: 'action,env_file,fingerprint,name,secret'},
  {args: ['generate-rsa-keys'], keys: 'action,bits,env_file,name,public_jwk,public_key_pem'},
  {args: ['mcp-client-token', '--mint', '--username', 'alice'], keys: 'audience,client_id,env_key,expires_at,gateway_version,jti,saved_to,scope,sub,username'},
  {
    args: ['mcp-client-token', '--mint', '--username', 'bob', '--print'],
    keys: 'audience,client_id,env_key,expires_at,gateway_version,jti,saved_to,scope,sub,token,username',
  },
  {args: ['mcp-config', '--client', 'cursor', '--server', 'fetch=https://mcp.example.com/mcp'], keys: 'files,registry'},
  {args: ['oauth-list-tokens'], keys: 'client_id,client_name,created_at,email,expired,expires_at,jti,problem,scope,sub,ttl_seconds,username'},
  {
    args: ['oauth-list-registrations'],
    keys: 'client_id,client_name,client_secret,client_secret_expires_at,created_at,grant_types,problem,redirect_uris,registration_access_token,scope,ttl_seconds',
  },
  {args: ['oauth-stats'], keys: 'expiry_by_day,generated_at,kinds,top_clients,top_users,user_index'},
  {
    args: ['oauth-purge-expired', '--dry-run'],
    keys: 'deleted,dry_run,expired,index_entries_removed,index_sets_emptied,kept_changed,malformed,malformed_keys,missing_ttl,ttl_restored',
  },
  {args: ['validate-tokens'], keys: 'invalid,tokens,valid'},
  {args: ['refresh-tokens'], keys: 'buffer_seconds,env_file,failed,incomplete,refreshed,registry,tokens,tokens_dirs'},
  {
    args: ['oauth-backup', '--dir', 'backups'],
    keys: 'created_at,encrypted,file,format,kinds,records,size_bytes,skipped_keys,skipped_too_large,skipped_unsupported,source,types',
  },
  {args: ['oauth-backup-list', '--dir', 'backups'], keys: 'created_at,encrypted,file,format,gzip,kinds,path,problem,records,size_bytes,status'},
  {
    args: ['oauth-restore', '--latest', '--dir', 'backups', '--dry-run'],
    keys: 'backup_created_at,cleared,dry_run,encrypted,expiry,file,format,gzip,ignored,kept,mode,overwritten,records,skipped_expired,written',
  },
  {args: ['oauth-delete-token', '--yes', '--json', '--', 'AAAAAAAAAAAAAAAAAAAAAA'], keys: 'deleted,index_entries_removed,jti'},
  {args: ['oauth-delete-registration', '--yes', '--json', '--', 'client_AAAAAAAAAAAAAAAAAAAAAA'], keys: 'client_id,deleted'},
  {
    args: ['oauth-delete-client-complete', '--yes', '--json', '--', 'client_AAAAAAAAAAAAAAAAAAAAAA'],
    keys: 'access_tokens,client_id,codes,dry_run,index_entries,malformed_skipped,refresh_tokens,registration_deleted,states',
  },
  {
    args: ['oauth-revoke-user', '--yes', '--json', '--', 'nobody'],
    keys: 'access_tokens,codes,dry_run,index_deleted,index_entries,malformed_skipped,matched_usernames,refresh_tokens,states,username',
  },
]

describe('the --json answer of every command', function () {
  this.timeout(180_000)
  const ctx = useRedis()

  it('has the keys scripts rely on, every time in ISO 8601 UTC, and nothing else on stdout', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-json-shapes-'))
    await copyFile(join(repoRoot, '.env.example'), join(dir, '.env.example'))
    assert.equal((await runCli(['generate-all-secrets'], {cwd: dir})).code, 0)
    await updateEnvFile(join(dir, '.env'), () => ({REDIS_URL: ctx.server.url}))
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'alice', clientId})
    const covered = new Set<string>()
    for (const {args, keys} of SUCCESS_KEYS) {
      const argv = args.includes('--json') ? args : [...args, '--json']
      const result = await runCli(argv, {cwd: dir})
      assert.ok(result.code === 0 || result.code === 3, `mcpauth ${argv.join(' ')} (exit ${result.code}): ${result.stderr}`)
      const body = parseJson(result)
      const shape = Array.isArray(body) ? body[0] : body
      assert.equal(Object.keys(shape).sort().join(','), keys, `the --json keys of mcpauth ${args[0]} changed: update SUCCESS_KEYS on purpose`)
      for (const [path, value] of timeFields(body)) {
        assert.ok(
          value === null || (typeof value === 'string' && ISO_UTC.test(value)),
          `mcpauth ${args[0]}: ${path} is ${JSON.stringify(value)}, not ISO 8601 UTC`,
        )
      }
      covered.add(args[0])
    }
    const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
    const uncovered = Object.keys(manifest.commands).filter((id) => 'json' in manifest.commands[id].flags && !covered.has(id))
    // Sign-in commands need an OAuth server (their shapes are checked in test/oauth); doctor's in test/doctor.test.ts.
    assert.deepEqual(uncovered.sort(), ['doctor', 'generate-github-token'])
  })
})

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

/** Every field named like a time (`*_at`) anywhere in a --json answer, with its path. */
function timeFields(value: unknown, path = '$'): Array<[string, unknown]> {
  if (Array.isArray(value)) return value.flatMap((item, index) => timeFields(item, `${path}[${index}]`))
  if (value === null || typeof value !== 'object') return []
  return Object.entries(value).flatMap(([key, item]) =>
    key.endsWith('_at') && (item === null || typeof item !== 'object') ? [[`${path}.${key}`, item] as [string, unknown]] : timeFields(item, `${path}.${key}`),
  )
}
