import {Args, Flags} from '@oclif/core'

import {type DeleteClientCompleteResult, deleteClientComplete} from '../src/store/admin.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {requireRecordId} from './_shared/arguments.js'
import {describeCascade, plural} from './_shared/summaries.js'

export default class OauthDeleteClientComplete extends BaseCommand<typeof OauthDeleteClientComplete> {
  static override summary = 'Delete a client and everything issued to it'
  static override description =
    `Removes oauth:client:{client_id} and, in one SCAN pass, every access token, refresh token, authorization code and state that names the client, plus the index entries of the removed access tokens. Records that cannot be read are left alone and counted. Running it again after an interruption finishes the job. On a terminal it first counts what will go (a dry run) and asks; --dry-run only reports.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> client_AbCdEfGhIjKlMnOpQrStUv --dry-run',
    '<%= config.bin %> <%= command.id %> client_AbCdEfGhIjKlMnOpQrStUv',
    '<%= config.bin %> <%= command.id %> oauth:client:client_AbCdEfGhIjKlMnOpQrStUv --yes --json',
  ]

  static override args = {client_id: Args.string({required: true, description: 'The exact client_id, or its key oauth:client:<client_id>.'})}
  static override flags = {
    ...redisFlags,
    ...confirmFlags,
    'dry-run': Flags.boolean({summary: 'Report what would be deleted; change nothing.'}),
  }

  async run(): Promise<DeleteClientCompleteResult> {
    const clientId = requireRecordId(this.args.client_id, 'client', 'client_id')
    const dryRun = this.flags['dry-run']
    const store = await this.tokenStore()
    if (!dryRun) {
      await this.confirm(`Delete client ${clientId} with all its tokens, refresh tokens and codes?`, async () => {
        const counting = await this.progress('Counting')
        const found = await deleteClientComplete(store, clientId, {dryRun: true, onProgress: (seen) => counting.update(seen)})
        counting.done()
        const registration = found.registration_deleted ? 'client' : 'client (no registration left)'
        return (
          `Delete ${registration} ${clientId} with ${plural(found.access_tokens, 'access token')}, ${plural(found.refresh_tokens, 'refresh token')}, ` +
          `${plural(found.codes, 'code')} and ${plural(found.states, 'state')}?`
        )
      })
    }
    const progress = await this.progress(dryRun ? 'Checking' : 'Deleting')
    const result = await deleteClientComplete(store, clientId, {dryRun, onProgress: (seen) => progress.update(seen)})
    progress.done()
    const registration = result.registration_deleted ? `registration ${dryRun ? 'would be ' : ''}deleted` : 'no registration found'
    this.note(`Client ${clientId}: ${registration}; ${describeCascade(result)}.`)
    return result
  }
}
