import {readEnvFile, updateEnvFile} from '../env/env-file.js'
import {Settings} from '../env/settings.js'
import {EXPIRES_AT_SUFFIX} from '../jwt/expiry.js'
import {GATEWAY_LOGIN, GITHUB_LOGIN, type LoginKeys, MCP_CLIENT_LOGIN, savedClient, tokenUpdates} from '../oauth/login.js'
import {BUILT_IN_LOGINS, type NamedLoginKeys, namedLoginsIn} from './env-logins.js'
import {type LoginRecord, type RefreshRecipe, type StoredLogin, endpointFinder, jwtExpiry, savedTokenExpiry} from './stored-login.js'

/** The logins of a `.env` that have a refresh token: the built-in ones first, then the named ones. */
export async function envStoredLogins(envFilePath: string): Promise<StoredLogin[]> {
  const {values} = await readEnvFile(envFilePath)
  const candidates: Array<{name: string; keys: LoginKeys}> = [...BUILT_IN_LOGINS, ...namedLoginsIn(values).map((keys) => ({name: keys.name, keys}))]
  return candidates.filter(({keys}) => values.get(keys.refreshToken)).map(({name, keys}) => envStoredLogin(envFilePath, name, keys))
}

export function envStoredLogin(envFilePath: string, login: string, keys: LoginKeys): StoredLogin {
  return {
    login,
    name: keys.accessToken,
    storedIn: envFilePath,
    lockPath: `${envFilePath}.refresh-${login}`,
    refreshTokenName: keys.refreshToken,
    loginCommand: keys.loginCommand,
    read: async () => {
      const file = await readEnvFile(envFilePath)
      return envLoginRecord(new Settings(envFilePath, file.exists, file.values), file.values, keys)
    },
    save: async (tokens, now) => {
      await updateEnvFile(envFilePath, () => tokenUpdates(keys, tokens, now))
    },
  }
}

/** When a saved access token expires: its JWT `exp`, else `<NAME>_EXPIRES_AT`; null when unknown. */
export function savedExpiry(values: ReadonlyMap<string, string>, accessTokenKey: string): number | null {
  return jwtExpiry(values.get(accessTokenKey)) ?? savedTokenExpiry(values.get(`${accessTokenKey}${EXPIRES_AT_SUFFIX}`), undefined)
}

function envLoginRecord(settings: Settings, values: ReadonlyMap<string, string>, keys: LoginKeys): LoginRecord {
  const record = {
    accessToken: values.get(keys.accessToken) || undefined,
    refreshToken: values.get(keys.refreshToken) || undefined,
    expiresAt: savedExpiry(values, keys.accessToken),
  }
  const client = savedClient(keys, values)
  if (!record.refreshToken) return {...record, recipe: {missing: `cannot be refreshed: there is no ${keys.refreshToken}`, signInFixes: true}}
  if (!client) {
    return {
      ...record,
      recipe: {
        missing: `cannot be refreshed: ${keys.refreshToken} is set but ${keys.clientId} is not, and the refresh needs the client it was issued to`,
        signInFixes: true,
      },
    }
  }
  const endpoint = builtInEndpoint(settings, keys) ?? namedEndpoint(values, keys as NamedLoginKeys)
  if (!endpoint) {
    const named = keys as NamedLoginKeys
    return {...record, recipe: {missing: `cannot be refreshed until you add ${named.tokenEndpoint} (or ${named.issuer}) to ${settings.envFilePath}`}}
  }
  return {...record, recipe: {client, endpoint}}
}

function builtInEndpoint(settings: Settings, keys: LoginKeys): RefreshRecipe['endpoint'] | undefined {
  // github.js and discovery.js (HTTP) load when a refresh asks for the endpoint, not when a login is read.
  const gatewayAuthServerUrl = async () => (await import('../oauth/discovery.js')).gatewayAuthServerUrl(settings)
  if (keys === GITHUB_LOGIN) return async () => ({url: (await import('../oauth/github.js')).githubTokenEndpoint(settings)})
  if (keys === GATEWAY_LOGIN) return async (http) => endpointFinder({issuer: await gatewayAuthServerUrl()})!(http)
  if (keys !== MCP_CLIENT_LOGIN) return undefined
  const mcpServerUrl = settings.get('MCP_SERVER_URL')
  // Without an MCP server the MCP client signed in at the gateway's own auth server.
  return async (http) => endpointFinder(mcpServerUrl ? {mcpServerUrl} : {issuer: await gatewayAuthServerUrl()})!(http)
}

function namedEndpoint(values: ReadonlyMap<string, string>, keys: NamedLoginKeys): RefreshRecipe['endpoint'] | undefined {
  const value = (key: string) => values.get(key) || undefined
  return endpointFinder({
    tokenEndpoint: value(keys.tokenEndpoint),
    issuer: value(keys.issuer),
    mcpServerUrl: value(keys.serverUrl),
    resource: value(keys.resource),
  })
}
