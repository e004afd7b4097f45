import {readEnvFile} from '../env/env-file.js'
import type {Settings} from '../env/settings.js'
import {savedExpiry} from './env-store.js'
import {savedTokenExpiry} from './stored-login.js'

/**
 * Which login's token a client config entry carries: an access token kept
 * in `.env` under a key, or a token file. Recorded with the entry, so a
 * refresh puts that login's new token, and no other, into the entry.
 */
export type LoginRef = {env_key: string} | {token_file: string}

const HEADER_SAFE = /^[\x21-\x7e]+$/

export interface SavedToken {
  token: string
  expiresAt: number | null
}

/**
 * The login's access token as it is now: read afresh from `.env` (where
 * refreshes land; the environment's only when `.env` has none) or from the
 * token file. Undefined when there is none.
 */
export async function loginToken(settings: Settings, login: LoginRef): Promise<SavedToken | undefined> {
  if ('token_file' in login) {
    // Loaded for token files only: mcp-headers' launch path reads .env.
    const {readTokenFile, stringOf} = await import('./token-file.js')
    const document = await readTokenFile(login.token_file)
    const token = document && stringOf(document, 'access_token')
    // A value that could break a header or a config line is no token to hand a client.
    if (!document || !token || !HEADER_SAFE.test(token)) return undefined
    return {token, expiresAt: savedTokenExpiry(document.expires_at, token)}
  }
  const key = login.env_key
  const values = (await readEnvFile(settings.envFilePath)).values
  const fromFile = values.get(key)
  if (fromFile) return {token: fromFile, expiresAt: savedExpiry(values, key)}
  const fromSettings = settings.get(key)
  return fromSettings ? {token: fromSettings, expiresAt: savedExpiry(new Map([[key, fromSettings]]), key)} : undefined
}

/** How messages name where a login's token is: `ATLASSIAN_ACCESS_TOKEN of .env`, or the token file's access_token. */
export function describeLoginRef(login: LoginRef, envFilePath: string): string {
  return 'token_file' in login ? `the access_token of ${login.token_file}` : `${login.env_key} of ${envFilePath}`
}

export function sameLogin(a: LoginRef, b: LoginRef): boolean {
  return 'token_file' in a ? 'token_file' in b && a.token_file === b.token_file : 'env_key' in b && a.env_key === b.env_key
}
