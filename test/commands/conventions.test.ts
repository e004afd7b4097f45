import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseJson, repoRoot, runCli} from '../support/cli.js'
import {useRedis} from '../support/context.js'

interface ManifestFlag {
  type: 'boolean' | 'option'
  options?: string[]
  exclusive?: string[]
}
interface Manifest {
  commands: Record<string, {flags: Record<string, ManifestFlag>; args: Record<string, {required?: boolean}>}>
}

const readManifest = async (): Promise<Manifest> => JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as Manifest

/** What people expect of a CLI (anchor: gh), checked through the built mcpauth. */
describe('command-line conventions', function () {
  this.timeout(120_000)
  const ctx = useRedis()

  it('a stray word after a command is "Unexpected argument", exit 2, with the usage line', async () => {
    const result = await runCli(['oauth-list-tokens', 'alice'])
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /^Error: Unexpected argument: alice$/m)
    assert.match(result.stderr, /^Hint: Usage: mcpauth oauth-list-tokens \[flags\]/m)
  })

  it('global flags may come before the command', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-conventions-'))
    await writeFile(join(dir, 'gateway.env'), `REDIS_URL=${ctx.server.url}\n`)
    const result = await runCli(['--env-file', join(dir, 'gateway.env'), '--json', 'oauth-stats'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(typeof parseJson(result).kinds, 'object')
  })

  it('-h is --help, before or after the command', async () => {
    const root = await runCli(['-h'])
    assert.equal(root.code, 0, root.stderr)
    assert.match(root.stdout, /oauth-list-tokens/)
    const command = await runCli(['oauth-stats', '-h'])
    assert.equal(command.code, 0, command.stderr)
    assert.match(command.stdout, /USAGE\s+\$ mcpauth oauth-stats/)
  })

  it('`mcpauth version`, -v and --version print the version', async () => {
    const {version} = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {version: string}
    for (const args of [['version'], ['-v'], ['--version']]) {
      const result = await runCli(args)
      assert.equal(result.code, 0, `${args}: ${result.stderr}`)
      assert.match(result.stdout, new RegExp(`^mcpauth/${version.replace(/\./g, '\\.')} `), args.join(' '))
    }
  })

  it('a mistyped command gets the nearest one on stderr, exit 127, off a terminal too', async () => {
    const result = await runCli(['oauth-lst-tokens'])
    assert.equal(result.code, 127)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /^Error: "oauth-lst-tokens" is not a mcpauth command\. Did you mean mcpauth oauth-list-tokens\?$/m)
  })

  it('a mistyped flag gets the nearest valid flag', async () => {
    const result = await runCli(['oauth-list-tokens', '--limt', '3'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^Error: Nonexistent flag: --limt$/m)
    assert.match(result.stderr, /^Hint: Did you mean --limit\?/m)
  })

  it('every pair of mutually exclusive flags is refused with exit 2 (pairs read from the manifest)', async () => {
    const manifest = await readManifest()
    let pairs = 0
    for (const [id, command] of Object.entries(manifest.commands)) {
      const args = Object.entries(command.args ?? {})
        .filter(([, arg]) => arg.required)
        .map(() => 'x')
      for (const [name, flag] of Object.entries(command.flags)) {
        for (const other of flag.exclusive ?? []) {
          if (!(other in command.flags)) continue
          pairs++
          const result = await runCli([id, ...flagArgs(name, command.flags[name]), ...flagArgs(other, command.flags[other]), ...args])
          assert.equal(result.code, 2, `${id} --${name} --${other}: ${result.stdout}${result.stderr}`)
          assert.match(result.stderr, new RegExp(`--(${name}|${other}).*cannot also be provided when using --(${name}|${other})`), `${id} --${name} --${other}`)
        }
      }
    }
    assert.ok(pairs >= 5, `${pairs} pairs found`)
  })
})

function flagArgs(name: string, flag: ManifestFlag): string[] {
  if (flag.type === 'boolean') return [`--${name}`]
  return [`--${name}`, flag.options?.[0] ?? '1']
}
