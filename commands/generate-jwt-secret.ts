import {Flags} from '@oclif/core'

import {generateSecret} from '../src/jwt/keys.js'
import {type SecretOutcome, ensureSecrets, fingerprint, jwtSecretSpec} from '../src/env/secrets.js'
import {BaseCommand} from './_shared/base-command.js'

interface JwtSecretResult {
  env_file: string | null
  name: string
  action: SecretOutcome['action'] | 'printed'
  fingerprint: string
  secret?: string
}

export default class GenerateJwtSecret extends BaseCommand<typeof GenerateJwtSecret> {
  static override summary = 'Generate GATEWAY_JWT_SECRET (64 characters from the CSPRNG) into .env'
  static override description =
    `Writes a new HS256 signing secret into .env (created if missing), keeping every other line as it was. An existing secret is never replaced without --force: every token signed with it would stop validating. The secret itself is not printed; a fingerprint is, so you can compare two machines. --print prints it instead of writing. A file that uses the newer OAUTH_JWT_SECRET name is updated under that name.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --env-file /opt/gateway/.env --force',
    '<%= config.bin %> <%= command.id %> --print > /run/secrets/jwt_secret',
  ]

  static override flags = {
    force: Flags.boolean({summary: 'Replace an existing secret (invalidates every token signed with it).'}),
    print: Flags.boolean({summary: 'Print a new secret on stdout and write nothing.'}),
  }

  async run(): Promise<JwtSecretResult> {
    if (this.flags.print) {
      const secret = generateSecret(64)
      if (!this.jsonEnabled()) process.stdout.write(`${secret}\n`)
      return {env_file: null, name: 'GATEWAY_JWT_SECRET', action: 'printed', fingerprint: fingerprint(secret), secret}
    }
    const result = await ensureSecrets(this.envFilePath(), [jwtSecretSpec()], {force: this.flags.force, whenPresent: 'refuse'})
    const [outcome] = result.secrets
    const print = fingerprint(outcome.value ?? '')
    this.note(`${outcome.action === 'created' ? 'Wrote' : 'Replaced'} ${outcome.written_as.join(' and ')} in ${result.env_file} (${print}).`)
    if (outcome.action === 'replaced') this.note('Restart the gateway; tokens signed with the old secret no longer validate.')
    return {env_file: result.env_file, name: outcome.written_as[0], action: outcome.action, fingerprint: print}
  }
}
