import {Args} from '@oclif/core'

import {type RevokeUserResult, revokeUser} from '../src/store/admin.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {requireExactId} from './_shared/arguments.js'
import {describeCascade} from './_shared/summaries.js'

export default class OauthRevokeUser extends BaseCommand<typeof OauthRevokeUser> {
  static override summary = 'Revoke every token of one user (incident response)'
  static override description =
    `Deletes every access token, refresh token and unredeemed authorization code whose username matches exactly, found by a SCAN pass (not only through the user index, which can miss tokens), then the user's index set. Client registrations stay. The user can log in again unless you also remove them from ALLOWED_GITHUB_USERS.`
  static override examples = ['<%= config.bin %> <%= command.id %> alice', '<%= config.bin %> <%= command.id %> alice --yes --json']

  static override args = {username: Args.string({required: true, description: 'The exact GitHub username.'})}
  static override flags = {...redisFlags, ...confirmFlags}

  async run(): Promise<RevokeUserResult> {
    const username = requireExactId(this.args.username, 'username')
    const store = await this.tokenStore()
    await this.confirm(`Revoke every token of user ${username}?`)
    const progress = await this.progress('Revoking')
    const result = await revokeUser(store, username, {onProgress: (seen) => progress.update(seen)})
    progress.done()
    this.note(`User ${username}: ${describeCascade(result)}${result.index_deleted ? '; index deleted' : ''}.`)
    return result
  }
}
