import {readEnvFile, updateEnvFile} from '../env/env-file.js'
import {Settings} from '../env/settings.js'
import type {ClientCredentials} from '../oauth/client.js'
import {type LoginKeys, type LoginStorage, clientUpdates, envLoginStorage, splitUris, tokenUpdates} from '../oauth/login.js'
import {savedExpiry} from './env-store.js'
import type {NamedLoginKeys} from './env-logins.js'
import {applyTokenAnswer} from './file-store.js'
import {savedTokenExpiry} from './stored-login.js'
import {readTokenFile, stringOf, updateTokenFile} from './token-file.js'

/**
 * Where a named login is kept while signing in: its `.env` keys, or a token
 * file. Either way the sign-in also records where the login's server is
 * (issuer, token endpoint, MCP server and resource), so that refreshing, and
 * signing in again, need nothing but the name. A token file holds no secret:
 * the client secret and the registration token go to `.env`, and the file
 * names the key (`client_secret_env`).
 */

/** Where the login's server is, as known before signing in. */
export interface LoginPlace {
  serverUrl?: string
  resource?: string
}

/** What is already saved for a login: its token and where its server is. */
export interface SavedLogin {
  accessToken?: string
  expiresAt: number | null
  issuer?: string
  serverUrl?: string
  hasRefreshToken: boolean
  clientId?: string
}

export interface NamedLoginStorage extends LoginStorage {
  saved(): Promise<SavedLogin>
  /** A client registered by hand with the provider, used instead of dynamic registration. */
  useClient(client: ClientCredentials): Promise<void>
}

export function envNamedStorage(envFilePath: string, keys: NamedLoginKeys, place: LoginPlace): NamedLoginStorage {
  const base = envLoginStorage(envFilePath, keys)
  return {
    ...base,
    saved: async () => {
      const {values} = await readEnvFile(envFilePath)
      const value = (key: string) => values.get(key) || undefined
      return {
        accessToken: value(keys.accessToken),
        expiresAt: savedExpiry(values, keys.accessToken),
        issuer: value(keys.issuer),
        serverUrl: value(keys.serverUrl),
        hasRefreshToken: Boolean(value(keys.refreshToken)),
        clientId: value(keys.clientId),
      }
    },
    useClient: (client) => useHandRegisteredClient(envFilePath, keys, client),
    saveTokens: async (tokens, now, metadata) => {
      await updateEnvFile(envFilePath, () => ({
        ...tokenUpdates(keys, tokens, now),
        [keys.issuer]: metadata.issuer,
        [keys.tokenEndpoint]: metadata.token_endpoint,
        [keys.serverUrl]: place.serverUrl ?? null,
        [keys.resource]: place.resource ?? null,
      }))
    },
  }
}

export function fileNamedStorage(path: string, envFilePath: string, keys: NamedLoginKeys, place: LoginPlace): NamedLoginStorage {
  const saveClient = async (client: ClientCredentials): Promise<void> => {
    // Secrets first, so a file never names a key that is not there yet.
    await updateEnvFile(envFilePath, () => ({
      [keys.clientSecret]: client.client_secret ?? null,
      [keys.registrationToken!]: client.registration_access_token ?? null,
    }))
    await updateTokenFile(path, (document) => {
      // A redirect URI written by hand for a hand-registered client stays while the client does.
      if (document.client_id !== client.client_id || client.redirect_uris) setOrDelete(document, 'redirect_uri', client.redirect_uris?.join(' '))
      document.client_id = client.client_id
      setOrDelete(document, 'client_secret_env', client.client_secret ? keys.clientSecret : undefined)
      setOrDelete(document, 'registration_client_uri', client.registration_client_uri)
    })
  }
  return {
    location: path,
    redirectUriKey: 'redirect_uri',
    saved: async () => {
      const document = (await readTokenFile(path)) ?? {}
      const accessToken = stringOf(document, 'access_token')
      return {
        accessToken,
        expiresAt: savedTokenExpiry(document.expires_at, accessToken),
        issuer: stringOf(document, 'issuer'),
        serverUrl: stringOf(document, 'server_url'),
        hasRefreshToken: Boolean(stringOf(document, 'refresh_token')),
        clientId: stringOf(document, 'client_id'),
      }
    },
    savedClient: async () => {
      const document = await readTokenFile(path)
      const clientId = document && stringOf(document, 'client_id')
      if (!document || !clientId) return undefined
      const env = await readEnvFile(envFilePath)
      const settings = new Settings(envFilePath, env.exists, env.values)
      const secretKey = stringOf(document, 'client_secret_env')
      return {
        client_id: clientId,
        client_secret: secretKey ? settings.get(secretKey) : undefined,
        registration_access_token: settings.get(keys.registrationToken!),
        registration_client_uri: stringOf(document, 'registration_client_uri'),
        redirect_uris: splitUris(stringOf(document, 'redirect_uri')),
      }
    },
    saveClient,
    useClient: saveClient,
    saveTokens: async (tokens, now, metadata) => {
      await updateTokenFile(path, (document) => {
        document.provider ??= keys.name
        applyTokenAnswer(document, tokens, now)
        document.token_endpoint = metadata.token_endpoint
        document.issuer = metadata.issuer
        setOrDelete(document, 'server_url', place.serverUrl)
        setOrDelete(document, 'resource', place.resource)
      })
    },
  }
}

/** Saves a client registered by hand as the `.env` login's client, before its sign-in. */
export async function useHandRegisteredClient(envFilePath: string, keys: LoginKeys, client: ClientCredentials): Promise<void> {
  await updateEnvFile(envFilePath, () => handRegisteredClientUpdates(keys, client))
}

/** A client given by hand replaces the saved one, and the registration keys of a dynamically registered one go. */
function handRegisteredClientUpdates(keys: LoginKeys, client: ClientCredentials): Record<string, string | null> {
  const updates: Record<string, string | null> = {...clientUpdates(keys, client), [keys.clientSecret]: client.client_secret ?? null}
  if (keys.registrationToken) updates[keys.registrationToken] = null
  if (keys.registrationUri) updates[keys.registrationUri] = null
  // Its redirect URI is only known when the operator wrote it beside it: that stays.
  if (keys.redirectUri) delete updates[keys.redirectUri]
  return updates
}

function setOrDelete(document: Record<string, unknown>, field: string, value: string | undefined): void {
  if (value === undefined) delete document[field]
  else document[field] = value
}
