import {McpAuthError, ExitCode} from '../errors.js'
import {type ClientCredentials, canManageRegistration, readClientRegistration, registerClient, updateClientRegistration} from './client.js'
import type {AuthServerMetadata} from './discovery.js'
import type {OAuthHttpOptions} from './http.js'
import {type LoopbackReceiver, loopbackAddress, startLoopbackReceiver} from './pkce.js'

/**
 * The client and the loopback redirect URI of a browser sign-in. The
 * gateway matches redirect URIs exactly (no RFC 8252 any-port rule), so a
 * saved client is only ever sent a redirect URI it registered: its own port
 * when that is free; else its registration is moved to a new port (RFC 7592
 * update), or a new client is registered. Each step is said to the operator.
 */

/** How the client and its redirect URI were settled, as `--json` reports it. */
export type ClientRedirect =
  /** No client was saved: one was registered with the new redirect URI. */
  | 'registered'
  /** The saved client's registered redirect URI was free and is used. */
  | 'reused'
  /** The saved client's registration now names a new redirect URI (RFC 7592 PUT). */
  | 'updated'
  /** A new client replaced the saved one (its port was taken and it could not be updated, or the server no longer knew it). */
  | 'replaced'
  /** The saved client's redirect URIs cannot be known (registered by hand, no RFC 7592): a new port is tried, unchecked. */
  | 'unchecked'

export interface SettledClient {
  client: ClientCredentials
  receiver: LoopbackReceiver
  redirect: ClientRedirect
}

export interface SettleOptions {
  metadata: AuthServerMetadata
  saved: ClientCredentials | undefined
  clientName: string
  scope?: string
  /** Where the client is saved, for messages; the key to set a hand-registered client's redirect URI in, when there is one. */
  location: string
  redirectUriKey?: string
  clientIdKey: string
  saveClient(client: ClientCredentials): Promise<void>
  notify(message: string): void
  http: OAuthHttpOptions
}

export async function settleClientRedirect(options: SettleOptions): Promise<SettledClient> {
  const {metadata, saved, notify} = options
  const registration = {clientName: options.clientName, scope: options.scope}
  if (!saved) {
    const receiver = await startLoopbackReceiver()
    const client = await withReceiver(receiver, () => registerClient(metadata, {...registration, redirectUris: [receiver.redirectUri]}, options.http))
    await options.saveClient(client)
    notify(`Registered client ${client.client_id} at ${metadata.issuer} with the redirect URI ${receiver.redirectUri}; saved in ${options.location}.`)
    return {client, receiver, redirect: 'registered'}
  }

  let known = saved.redirect_uris
  let why: string
  if (!known && canManageRegistration(saved)) {
    const read = await readClientRegistration(saved, options.http)
    if (read.gone) return replace(options, saved, `the server no longer knows client ${saved.client_id} (HTTP ${read.status} reading its registration)`)
    known = read.redirect_uris
  }
  if (known) {
    const loopbacks = known.map(loopbackAddress).filter((address) => address !== undefined)
    for (const address of loopbacks) {
      const receiver = await startLoopbackReceiver(address)
      if (!receiver) continue
      notify(`Re-using client ${saved.client_id} with its registered redirect URI ${receiver.redirectUri}.`)
      const client = {...saved, redirect_uris: known}
      if (!saved.redirect_uris) await options.saveClient(client)
      return {client, receiver, redirect: 'reused'}
    }
    why =
      loopbacks.length === 0
        ? `client ${saved.client_id} has no loopback redirect URI registered`
        : `port ${loopbacks.map((address) => address.port).join(', ')} of client ${saved.client_id}'s redirect URI is in use`
  } else if (canManageRegistration(saved)) {
    why = `the server did not say which redirect URIs client ${saved.client_id} has`
  } else {
    const receiver = await startLoopbackReceiver()
    notify(
      `Which redirect URIs client ${saved.client_id} is registered with is not known${options.redirectUriKey ? ` (set ${options.redirectUriKey} in ${options.location} to the one registered)` : ''}; trying ${receiver.redirectUri}, which the server must allow.`,
    )
    return {client: saved, receiver, redirect: 'unchecked'}
  }

  if (canManageRegistration(saved)) {
    const receiver = await startLoopbackReceiver()
    try {
      const client = await updateClientRegistration(metadata, saved, {...registration, redirectUris: [receiver.redirectUri]}, options.http)
      await options.saveClient(client)
      notify(
        `${capitalize(why)}: updated the registration of client ${client.client_id} (RFC 7592) to the redirect URI ${receiver.redirectUri}; saved in ${options.location}.`,
      )
      return {client, receiver, redirect: 'updated'}
    } catch (error) {
      await receiver.close()
      if (!(error instanceof McpAuthError)) throw error
      why = `${why}, and updating its registration failed (${error.message.replace(/\.$/, '')})`
    }
    return replace(options, saved, why)
  }
  throw new McpAuthError(`Cannot sign in with client ${saved.client_id}: ${why}.`, {
    code: 'redirect_port_in_use',
    exitCode: ExitCode.unreachable,
    hint: `Free that port, or remove ${options.clientIdKey} from ${options.location} so that a new client is registered.`,
  })
}

async function replace(options: SettleOptions, saved: ClientCredentials, why: string): Promise<SettledClient> {
  const {metadata} = options
  if (!metadata.registration_endpoint) {
    throw new McpAuthError(`Cannot sign in with client ${saved.client_id}: ${why}, and ${metadata.issuer} offers no registration of a new one.`, {
      code: 'client_unusable',
      exitCode: ExitCode.unreachable,
      hint: `Register a client by hand and put it in ${options.location}.`,
    })
  }
  const receiver = await startLoopbackReceiver()
  const client = await withReceiver(receiver, () =>
    registerClient(metadata, {clientName: options.clientName, scope: options.scope, redirectUris: [receiver.redirectUri]}, options.http),
  )
  await options.saveClient(client)
  options.notify(
    `${capitalize(why)}: registered a new client ${client.client_id} with the redirect URI ${receiver.redirectUri}, replacing ${saved.client_id} in ${options.location}.`,
  )
  return {client, receiver, redirect: 'replaced'}
}

/** Closes the receiver when what needs it fails, so no port stays bound. */
async function withReceiver<T>(receiver: LoopbackReceiver, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (error) {
    await receiver.close()
    throw error
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
