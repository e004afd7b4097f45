import {strict as assert} from 'node:assert'
import {execFile} from 'node:child_process'
import {mkdtemp, readdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {repoRoot} from './support/cli.js'

const run = promisify(execFile)

describe('the npm package', function () {
  this.timeout(240_000)
  let prefix = ''
  let tarball = ''

  before(async () => {
    const packDir = await mkdtemp(join(tmpdir(), 'mcpauth-pack-'))
    // The suite has just built dist/; pack what is there, as `npm publish` would after `npm install`.
    const {stdout} = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], {cwd: repoRoot})
    tarball = join(packDir, JSON.parse(stdout)[0].filename)
    prefix = await mkdtemp(join(tmpdir(), 'mcpauth-prefix-'))
    await run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], {cwd: packDir})
  })

  it('ships built files and the manifest only', async () => {
    const {stdout} = await run('tar', ['-tzf', tarball])
    const files = stdout.trim().split('\n')
    assert.ok(files.includes('package/oclif.manifest.json'))
    assert.ok(files.includes('package/dist/help.json'), 'the pre-rendered --help texts')
    assert.ok(files.includes('package/bin/run.js'))
    assert.ok(files.includes('package/dist/commands/oauth-stats.js'))
    assert.deepEqual(
      files.filter((file) => /\.ts$|^package\/(test|src|commands|bench)\/|dist\/test\//.test(file)),
      [],
    )
  })

  it('installs globally and runs mcpauth from any directory', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'mcpauth-elsewhere-'))
    const mcpauth = join(prefix, 'bin', 'mcpauth')
    assert.ok((await readdir(join(prefix, 'bin'))).includes('mcpauth'))
    const version = await run(mcpauth, ['--version'], {cwd: elsewhere})
    assert.match(version.stdout, /^mcpauth\/\d+\.\d+\.\d+ /)
    const help = await run(mcpauth, ['oauth-stats', '--help'], {cwd: elsewhere})
    assert.match(help.stdout, /^USAGE\n {2}\$ mcpauth oauth-stats/m)
    // A dead port: the smoke test must not touch the machine's own Redis.
    const env = {...process.env, REDIS_URL: 'redis://127.0.0.1:1/0'}
    const doctor = await run(mcpauth, ['doctor', '--json'], {cwd: elsewhere, env}).catch((error) => error)
    assert.equal(doctor.code, 4, 'no .env here: exit 4')
    const report = JSON.parse(doctor.stdout)
    assert.equal(report.checks[0].check, '.env file')
    assert.equal(report.checks[0].status, 'fail')
  })
})
