import {Flags} from '@oclif/core'

import {readEnvFile} from '../src/env/env-file.js'
import {decodePrivateKeyB64, publicJwk, publicKeyPem} from '../src/jwt/keys.js'
import {type SecretOutcome, ensureSecrets, rsaKeySpec} from '../src/env/secrets.js'
import {McpAuthError, ExitCode} from '../src/errors.js'
import {BaseCommand} from './_shared/base-command.js'

interface RsaKeyResult {
  env_file: string
  name: string
  action: SecretOutcome['action']
  bits: number
  public_key_pem: string
  public_jwk: ReturnType<typeof publicJwk>
}

export default class GenerateRsaKeys extends BaseCommand<typeof GenerateRsaKeys> {
  static override summary = 'Generate the RS256 key pair: private key into JWT_PRIVATE_KEY_B64, public key printed'
  static override description =
    `Creates an RSA key (2048 bits, or --bits 4096) and stores the private key in .env as single-line base64 of its PKCS8 PEM, the form the gateway reads. A valid existing key is kept (and its public half printed) unless --force; placeholders such as your_base64_encoded_private_key_here count as missing. The public key is printed as PEM and as a JWK so you can compare it with the gateway's /jwks.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --bits 4096 --force',
    '<%= config.bin %> <%= command.id %> --json | jq .public_jwk',
  ]

  static override flags = {
    bits: Flags.option({summary: 'RSA modulus size.', options: ['2048', '4096'] as const, default: '2048' as const})(),
    force: Flags.boolean({summary: 'Replace an existing key (invalidates every token it signed).'}),
  }

  async run(): Promise<RsaKeyResult> {
    const envFile = this.envFilePath()
    const result = await ensureSecrets(envFile, [rsaKeySpec(Number(this.flags.bits))], {force: this.flags.force, whenPresent: 'keep'})
    const [outcome] = result.secrets
    const stored = (await readEnvFile(envFile)).values.get(outcome.written_as[0])
    const decoded = decodePrivateKeyB64(stored)
    if (!decoded.ok) {
      throw new McpAuthError(`${outcome.written_as[0]} in ${envFile} cannot be read back: ${decoded.problem}.`, {
        code: 'key_unreadable',
        exitCode: ExitCode.unreachable,
      })
    }
    const pem = publicKeyPem(decoded.key)
    const jwk = publicJwk(decoded.key)
    const verb = {created: 'Wrote a new', replaced: 'Replaced the key with a new', kept: 'Kept the existing'}[outcome.action]
    this.note(`${verb} ${decoded.bits}-bit RSA key in ${outcome.written_as.join(' and ')} (${envFile}).`)
    this.log(pem.trimEnd())
    this.log(JSON.stringify(jwk))
    return {env_file: envFile, name: outcome.written_as[0], action: outcome.action, bits: decoded.bits, public_key_pem: pem, public_jwk: jwk}
  }
}
