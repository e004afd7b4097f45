import {Args} from '@oclif/core'

import {type DeleteTokenResult, deleteAccessToken} from '../src/store/admin.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {requireRecordId} from './_shared/arguments.js'

export default class OauthDeleteToken extends BaseCommand<typeof OauthDeleteToken> {
  static override summary = 'Revoke one access token by its exact jti'
  static override description =
    `Deletes oauth:token:{jti}, which is how the gateway revokes a JWT (its verifier rejects a token whose record is gone), and removes the jti from the user's index. Only an exact jti matches: no prefixes, no patterns. Deleting a token that is already gone succeeds.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> Xk3vQ9mN2pR7sT1uW4yZ6a',
    '<%= config.bin %> <%= command.id %> oauth:token:Xk3vQ9mN2pR7sT1uW4yZ6a --yes --json',
  ]

  static override args = {jti: Args.string({required: true, description: 'The exact jti, as oauth-list-tokens shows it, or its key oauth:token:<jti>.'})}
  static override flags = {...redisFlags, ...confirmFlags}

  async run(): Promise<DeleteTokenResult> {
    const jti = requireRecordId(this.args.jti, 'token', 'jti')
    const store = await this.tokenStore()
    await this.confirm(`Revoke access token ${jti}?`)
    const result = await deleteAccessToken(store, jti)
    this.note(result.deleted ? `Revoked access token ${jti}${result.username ? ` of ${result.username}` : ''}.` : `No access token ${jti}: nothing to do.`)
    return result
  }
}
