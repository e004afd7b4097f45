import {Args, Flags} from '@oclif/core'

import {type RevokeUserResult, revokeUser, userIndexSummary} from '../src/store/admin.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {requireExactId} from './_shared/arguments.js'
import {describeCascade, plural} from './_shared/summaries.js'

export default class OauthRevokeUser extends BaseCommand<typeof OauthRevokeUser> {
  static override summary = 'Revoke every token of one user (incident response)'
  static override description =
    `Deletes every access token, refresh token and unredeemed authorization code whose username matches, found by a SCAN pass (not only through the user index, which can miss tokens), then the user's index set. Usernames match ignoring case, as GitHub logins do: "Mallory" also revokes the tokens of "mallory"; the usernames matched are listed. Client registrations stay. The user can log in again unless you also remove them from ALLOWED_GITHUB_USERS. --dry-run reports what would go and changes nothing.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> alice --dry-run',
    '<%= config.bin %> <%= command.id %> alice',
    '<%= config.bin %> <%= command.id %> alice --yes --json',
  ]

  static override args = {username: Args.string({required: true, description: 'The GitHub username (any case).'})}
  static override flags = {
    ...redisFlags,
    ...confirmFlags,
    'dry-run': Flags.boolean({summary: 'Report what would be revoked; change nothing.'}),
  }

  async run(): Promise<RevokeUserResult> {
    const username = requireExactId(this.args.username, 'username')
    const dryRun = this.flags['dry-run']
    const store = await this.tokenStore()
    if (!dryRun) {
      await this.confirm(`Revoke every token of user ${username}?`, async () => {
        const index = await userIndexSummary(store, username)
        const names = index.usernames.length > 0 ? ` (as ${index.usernames.join(', ')})` : ''
        return `Revoke every token of user ${username}? Their index lists ${plural(index.indexedTokens, 'access token')}${names}; the scan also finds any it misses.`
      })
    }
    const progress = await this.progress(dryRun ? 'Checking' : 'Revoking')
    const result = await revokeUser(store, username, {dryRun, onProgress: (seen) => progress.update(seen)})
    progress.done()
    const matched = result.matched_usernames.length > 0 ? ` (matched ${result.matched_usernames.join(', ')})` : ''
    const index = result.index_deleted ? `; index ${dryRun ? 'would be ' : ''}deleted` : ''
    this.note(`User ${username}${matched}: ${describeCascade(result)}${index}.`)
    return result
  }
}
