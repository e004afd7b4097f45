import {mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import type {TestLogin} from './oauth-provider.js'

/**
 * Places holding logins, as operators keep them: a `.env` with named
 * logins, and a token directory of registry egress files.
 */
export interface LoginsPlace {
  cwd: string
  envPath: string
  tokensDir: string
  envValues(): Promise<Map<string, string>>
  readTokenFile(name: string): Promise<Record<string, any>>
}

export async function loginsPlace(envLines: string[] = []): Promise<LoginsPlace> {
  const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-logins-'))
  const envPath = join(cwd, '.env')
  const tokensDir = join(cwd, '.oauth-tokens')
  await mkdir(tokensDir, {mode: 0o700})
  await writeFile(envPath, envLines.length > 0 ? `${envLines.join('\n')}\n` : '', {mode: 0o600})
  return {
    cwd,
    envPath,
    tokensDir,
    envValues: async () => parseEnvText(await readFile(envPath, 'utf8')).values,
    readTokenFile: async (name) => JSON.parse(await readFile(join(tokensDir, name), 'utf8')),
  }
}

/** Epoch seconds `seconds` from now. */
export const fromNow = (seconds: number): number => Math.floor(Date.now() / 1000) + seconds

/** A named login as `.env` keeps it; due for refresh unless `expiresAt` says otherwise. */
export function namedLoginLines(prefix: string, login: TestLogin, expiresAt = fromNow(60)): string[] {
  return [
    `${prefix}_TOKEN_ENDPOINT=${login.tokenEndpoint}`,
    `${prefix}_CLIENT_ID=${login.client.client_id}`,
    `${prefix}_CLIENT_SECRET=${login.client.client_secret}`,
    `${prefix}_ACCESS_TOKEN=${login.accessToken}`,
    `${prefix}_ACCESS_TOKEN_EXPIRES_AT=${expiresAt}`,
    `${prefix}_REFRESH_TOKEN=${login.refreshToken}`,
  ]
}

/**
 * A registry egress file for the login, with what mcpauth adds for a refresh
 * (token_endpoint, client_id, and the secret by reference to `secretKey` in
 * .env) and fields of the registry's own that must survive.
 */
export function egressDocument(provider: string, login: TestLogin, secretKey: string, expiresAt = fromNow(60)): Record<string, unknown> {
  return {
    provider,
    access_token: login.accessToken,
    refresh_token: login.refreshToken,
    expires_at: expiresAt,
    token_type: 'Bearer',
    scope: 'openid offline_access',
    cloud_id: `${provider}-cloud-7`,
    saved_at: '2025-01-01 00:00:00 UTC',
    token_endpoint: login.tokenEndpoint,
    client_id: login.client.client_id,
    client_secret_env: secretKey,
  }
}

export async function writeEgressFile(place: LoginsPlace, name: string, document: Record<string, unknown>): Promise<string> {
  const path = join(place.tokensDir, name)
  await writeFile(path, `${JSON.stringify(document, null, 2)}\n`, {mode: 0o600})
  return path
}
