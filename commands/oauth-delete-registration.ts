import {Args} from '@oclif/core'

import {type DeleteRegistrationResult, deleteClientRegistration} from '../src/store/admin.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {requireRecordId} from './_shared/arguments.js'

export default class OauthDeleteRegistration extends BaseCommand<typeof OauthDeleteRegistration> {
  static override summary = 'Delete one client registration (its tokens stay; see oauth-delete-client-complete)'
  static override description =
    `Deletes oauth:client:{client_id}. Tokens already issued to the client stay valid until they expire: use oauth-delete-client-complete to remove them too. Deleting a registration that is already gone succeeds.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> client_AbCdEfGhIjKlMnOpQrStUv --yes',
    '<%= config.bin %> <%= command.id %> oauth:client:client_AbCdEfGhIjKlMnOpQrStUv --yes',
  ]

  static override args = {client_id: Args.string({required: true, description: 'The exact client_id, or its key oauth:client:<client_id>.'})}
  static override flags = {...redisFlags, ...confirmFlags}

  async run(): Promise<DeleteRegistrationResult> {
    const clientId = requireRecordId(this.args.client_id, 'client', 'client_id')
    const store = await this.tokenStore()
    await this.confirm(`Delete client registration ${clientId}?`)
    const result = await deleteClientRegistration(store, clientId)
    this.note(result.deleted ? `Deleted client registration ${clientId}.` : `No client registration ${clientId}: nothing to do.`)
    return result
  }
}
