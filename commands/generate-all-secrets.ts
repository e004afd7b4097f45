import {appendFile} from 'node:fs/promises'

import {Flags} from '@oclif/core'

import {type EnsureSecretsResult, defaultExamplePath, ensureSecrets, fingerprint, jwtSecretSpec, redisPasswordSpec, rsaKeySpec} from '../src/env/secrets.js'
import {usageError} from '../src/errors.js'
import {BaseCommand} from './_shared/base-command.js'

type PublicResult = Omit<EnsureSecretsResult, 'secrets'> & {
  secrets: Array<{name: string; written_as: string[]; action: string; fingerprint: string | null}>
}

export default class GenerateAllSecrets extends BaseCommand<typeof GenerateAllSecrets> {
  static override summary = 'CI bootstrap: fill every missing or placeholder secret in .env, idempotently'
  static override description =
    `Creates .env from .env.example when it does not exist, then fills GATEWAY_JWT_SECRET, JWT_PRIVATE_KEY_B64 and REDIS_PASSWORD where they are missing or placeholders, in one atomic write. Usable values are kept, so a second run changes nothing. A value that is set but unusable (a corrupt key, a short secret) stops the run with exit 2 unless --force. Values are never printed; --format github prints ::add-mask:: lines for the new ones (GitHub then hides them in logs), and --github-env also exports them to later steps through $GITHUB_ENV.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --format github --github-env',
    '<%= config.bin %> <%= command.id %> --env-file deploy/.env --example deploy/.env.example',
  ]

  static override flags = {
    example: Flags.string({summary: 'Template for a new .env (default: .env.example beside it).', helpValue: 'PATH'}),
    force: Flags.boolean({summary: 'Replace every secret, usable or not (rotates them all).'}),
    format: Flags.option({summary: 'Output style.', options: ['text', 'github'] as const, default: 'text' as const})(),
    'github-env': Flags.boolean({summary: 'With --format github: append new values to the file named by $GITHUB_ENV.'}),
  }

  async run(): Promise<PublicResult> {
    const envFile = this.envFilePath()
    const githubEnv = this.flags['github-env'] ? process.env.GITHUB_ENV : undefined
    if (this.flags.format === 'github' && this.jsonEnabled()) {
      throw usageError('--format github writes workflow commands on stdout; it cannot be combined with --json.')
    }
    if (this.flags['github-env'] && (this.flags.format !== 'github' || !githubEnv)) {
      throw usageError('--github-env needs --format github and the GITHUB_ENV variable that GitHub Actions sets.')
    }
    const result = await ensureSecrets(envFile, [jwtSecretSpec(), rsaKeySpec(), redisPasswordSpec()], {
      force: this.flags.force,
      whenPresent: 'keep',
      seedFrom: this.flags.example ?? defaultExamplePath(envFile),
    })
    if (this.flags.format === 'github') await this.announceToGithub(result, githubEnv)
    this.summarize(result)
    return toPublicResult(result)
  }

  private async announceToGithub(result: EnsureSecretsResult, githubEnv: string | undefined): Promise<void> {
    const fresh = result.secrets.filter((secret) => secret.value !== undefined)
    // Workflow commands are read from stdout; GitHub replaces masked values with *** in every later log line.
    for (const secret of fresh) process.stdout.write(`::add-mask::${secret.value}\n`)
    if (!githubEnv) return
    const delimiter = `MCPAUTH_EOF_${Date.now()}`
    const lines = fresh.flatMap((secret) => secret.written_as.map((name) => `${name}<<${delimiter}\n${secret.value}\n${delimiter}\n`))
    await appendFile(githubEnv, lines.join(''), {mode: 0o600})
  }

  private summarize(result: EnsureSecretsResult): void {
    if (result.created_env_file) this.note(`Created ${result.env_file}${result.seeded_from ? ` from ${result.seeded_from}` : ''}.`)
    for (const secret of result.secrets) {
      const detail = secret.value === undefined ? '' : ` (${fingerprint(secret.value)})`
      this.note(`${secret.written_as.join(', ')}: ${secret.action}${detail}`)
    }
  }
}

function toPublicResult(result: EnsureSecretsResult): PublicResult {
  return {
    ...result,
    secrets: result.secrets.map(({value, ...secret}) => ({...secret, fingerprint: value === undefined ? null : fingerprint(value)})),
  }
}
