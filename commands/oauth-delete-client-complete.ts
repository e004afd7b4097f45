import {Args} from '@oclif/core'

import {type DeleteClientCompleteResult, deleteClientComplete} from '../src/store/admin.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {requireExactId} from './_shared/arguments.js'
import {describeCascade} from './_shared/summaries.js'

export default class OauthDeleteClientComplete extends BaseCommand<typeof OauthDeleteClientComplete> {
  static override summary = 'Delete a client and everything issued to it'
  static override description =
    `Removes oauth:client:{client_id} and, in one SCAN pass, every access token, refresh token, authorization code and state that names the client, plus the index entries of the removed access tokens. Records that cannot be read are left alone and counted. Running it again after an interruption finishes the job.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> client_AbCdEfGhIjKlMnOpQrStUv',
    '<%= config.bin %> <%= command.id %> client_AbCdEfGhIjKlMnOpQrStUv --yes --json',
  ]

  static override args = {client_id: Args.string({required: true, description: 'The exact client_id.'})}
  static override flags = {...redisFlags, ...confirmFlags}

  async run(): Promise<DeleteClientCompleteResult> {
    const clientId = requireExactId(this.args.client_id, 'client_id')
    const store = await this.tokenStore()
    await this.confirm(`Delete client ${clientId} with all its tokens, refresh tokens and codes?`)
    const progress = await this.progress('Deleting')
    const result = await deleteClientComplete(store, clientId, {onProgress: (seen) => progress.update(seen)})
    progress.done()
    const registration = result.registration_deleted ? 'registration deleted' : 'no registration found'
    this.note(`Client ${clientId}: ${registration}; ${describeCascade(result)}.`)
    return result
  }
}
