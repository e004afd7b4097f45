import {basename, dirname} from 'node:path'

import {companionPath} from '../env/safe-paths.js'
import {type Settings, settingNames} from '../env/settings.js'
import {McpAuthError, ExitCode} from '../errors.js'
import type {ClientCredentials, TokenSet} from '../oauth/client.js'
import {type LoginRecord, type StoredLogin, accessTokenExpiry, endpointFinder, savedTokenExpiry} from './stored-login.js'
import {type TokenFileDocument, loginNameOfFile, readTokenFile, stringOf, updateTokenFile} from './token-file.js'

/**
 * A login kept in a token file. The registry's own files name neither the
 * token endpoint nor the client: the client is then found where the
 * registry keeps it (`EGRESS_OAUTH_CLIENT_ID_<N>` and `_SECRET_<N>` beside
 * `EGRESS_PROVIDER_NAME_<N>` in `.env`), and the endpoint of the providers
 * the registry knows is taken from WELL_KNOWN_TOKEN_ENDPOINTS. What is still
 * missing is said, so the operator can add it to the file.
 */

/** Token endpoints published by the providers the registry's egress sign-in supports. */
export const WELL_KNOWN_TOKEN_ENDPOINTS: Readonly<Record<string, string>> = {
  atlassian: 'https://auth.atlassian.com/oauth/token',
  google: 'https://oauth2.googleapis.com/token',
  github: 'https://github.com/login/oauth/access_token',
  microsoft: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
}

/**
 * What `client_secret_env` may name: a client secret (`…_SECRET`, the
 * registry's `EGRESS_OAUTH_CLIENT_SECRET_<N>`), never the gateway's signing
 * secret: the value is sent to the file's token endpoint.
 */
const CLIENT_SECRET_KEY = /^[A-Za-z_][A-Za-z0-9_]*SECRET(?:_\d+)?$/
const GATEWAY_SECRETS = new Set(settingNames('GATEWAY_JWT_SECRET'))

/** The registry numbers its egress client settings from 1 to 100. */
const REGISTRY_CLIENT_SETS = 100

export function fileStoredLogin(path: string, settings: Settings): StoredLogin {
  const login = loginNameOfFile(path)
  return {
    login,
    name: basename(path),
    storedIn: path,
    lockPath: companionPath(path, '.refresh'),
    refreshTokenName: `the refresh_token of ${basename(path)}`,
    loginCommand: `mcpauth mcp-client-token --name ${login} --tokens-dir ${shellWord(dirname(path))} --force`,
    read: async () => fileLoginRecord(path, await readExistingTokenFile(path), settings),
    save: (tokens, now) => updateTokenFile(path, (document) => applyTokenAnswer(document, tokens, now)),
  }
}

/** Writes a token answer into the document, leaving every other field as it was. */
export function applyTokenAnswer(document: TokenFileDocument, tokens: TokenSet, now: number): void {
  document.access_token = tokens.access_token
  // Google sends no new refresh token, the gateway sends null: the saved one stays.
  if (tokens.refresh_token) document.refresh_token = tokens.refresh_token
  const expiresAt = accessTokenExpiry(tokens, now)
  if (expiresAt === null) delete document.expires_at
  else document.expires_at = expiresAt
  if ('expires_at_human' in document) document.expires_at_human = expiresAt === null ? null : new Date(expiresAt * 1000).toISOString()
  if (typeof document.token_type !== 'string') document.token_type = 'Bearer'
  if (tokens.scope) {
    document.scope = tokens.scope
    if (Array.isArray(document.scopes)) document.scopes = tokens.scope.split(' ')
  }
  if (tokens.refresh_token && tokens.refresh_token_expires_in !== undefined) document.refresh_token_expires_at = now + tokens.refresh_token_expires_in
}

function fileLoginRecord(path: string, document: TokenFileDocument, settings: Settings): LoginRecord {
  const accessToken = stringOf(document, 'access_token')
  const record = {accessToken, refreshToken: stringOf(document, 'refresh_token'), expiresAt: savedTokenExpiry(document.expires_at, accessToken)}
  const provider = stringOf(document, 'provider') ?? loginNameOfFile(path)
  const missing: string[] = []
  if (!record.refreshToken) missing.push('"refresh_token" in the file (sign in again to get one)')
  const client = fileClient(document, settings, provider, loginNameOfFile(path))
  if (typeof client === 'string') missing.push(client)
  const endpoint =
    endpointFinder({
      tokenEndpoint: stringOf(document, 'token_endpoint'),
      issuer: stringOf(document, 'issuer'),
      mcpServerUrl: stringOf(document, 'server_url'),
      resource: stringOf(document, 'resource'),
    }) ?? endpointFinder({tokenEndpoint: WELL_KNOWN_TOKEN_ENDPOINTS[provider.toLowerCase()]})
  if (!endpoint) missing.push('"token_endpoint" (or "issuer", for discovery) in the file')
  if (typeof client === 'string' || !endpoint || missing.length > 0) {
    const signInFixes = missing.length === 1 && !record.refreshToken
    return {...record, recipe: {missing: `cannot be refreshed until you add ${missing.join('; ')}`, signInFixes}}
  }
  return {...record, recipe: {client, endpoint}}
}

/** The client the tokens were issued to, or what to add to name it. */
function fileClient(document: TokenFileDocument, settings: Settings, provider: string, login: string): ClientCredentials | string {
  const clientId = stringOf(document, 'client_id')
  if (clientId) {
    const secretKey = stringOf(document, 'client_secret_env')
    if (!secretKey) return {client_id: clientId, client_secret: stringOf(document, 'client_secret')}
    if (!CLIENT_SECRET_KEY.test(secretKey) || GATEWAY_SECRETS.has(secretKey.toUpperCase())) {
      return `a "client_secret_env" that names a client secret (a key ending in SECRET, not the gateway's own signing secret; it names ${JSON.stringify(secretKey)})`
    }
    const secret = settings.get(secretKey)
    return secret
      ? {client_id: clientId, client_secret: secret}
      : `${secretKey} in ${settings.envFilePath} or the environment (the file's "client_secret_env" names it)`
  }
  return (
    registryClient(settings, provider, login) ??
    `"client_id" in the file (and "client_secret_env" naming the key of its secret in ${settings.envFilePath}), or EGRESS_OAUTH_CLIENT_ID_<N> and EGRESS_PROVIDER_NAME_<N>=${provider} in ${settings.envFilePath}`
  )
}

/** The registry's numbered egress client for this provider, the set naming this file's MCP server first. */
function registryClient(settings: Settings, provider: string, login: string): ClientCredentials | undefined {
  const server = login.startsWith(`${provider}-`) ? login.slice(provider.length + 1) : undefined
  let fallback: ClientCredentials | undefined
  for (let set = 1; set <= REGISTRY_CLIENT_SETS; set++) {
    if (settings.get(`EGRESS_PROVIDER_NAME_${set}`)?.toLowerCase() !== provider.toLowerCase()) continue
    const clientId = settings.get(`EGRESS_OAUTH_CLIENT_ID_${set}`)
    if (!clientId) continue
    const client = {client_id: clientId, client_secret: settings.get(`EGRESS_OAUTH_CLIENT_SECRET_${set}`)}
    const serverName = settings.get(`EGRESS_MCP_SERVER_NAME_${set}`)?.toLowerCase()
    if (serverName !== undefined && serverName === server) return client
    fallback ??= client
  }
  return fallback
}

async function readExistingTokenFile(path: string): Promise<TokenFileDocument> {
  const document = await readTokenFile(path)
  if (!document) throw new McpAuthError(`The token file ${path} is gone.`, {code: 'token_file_missing', exitCode: ExitCode.unreachable})
  return document
}

function shellWord(text: string): string {
  return /^[\w/.:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}
