import {readFile} from 'node:fs/promises'

import type {Settings} from '../env/settings.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import {findMcpAuthServer} from '../oauth/discovery.js'
import type {OAuthHttpOptions} from '../oauth/http.js'
import {canonicalResourceUri} from '../oauth/resource.js'
import {type LoginResult, runOAuthLogin} from '../oauth/login.js'
import type {PastedInput} from '../oauth/pkce.js'
import {checkLoginName, namedLoginKeys} from './env-logins.js'
import {type NamedLoginStorage, type SavedLogin, envNamedStorage, fileNamedStorage} from './login-storage.js'
import {tokenFilePath} from './token-file.js'

/**
 * Signing in a named login: against an MCP server (its authorization server
 * found by RFC 9728 metadata) or a plain OAuth / OpenID provider given by its
 * issuer, with a client registered dynamically or given by hand. The first
 * sign-in needs the server; later ones (and refreshes) find it where the
 * login is kept.
 */

export interface NamedSignInRequest {
  name: string
  envFilePath: string
  /** Keep the login as a token file in this directory instead of in `.env`. */
  tokensDir?: string
  serverUrl?: string
  issuer?: string
  /** A client registered by hand (providers without dynamic registration). */
  client?: {client_id: string; client_secret?: string}
  scope?: string
  force: boolean
  device: boolean
  openBrowser: boolean
  pasted?: PastedInput
  notify: (message: string) => void
  loginTimeoutMs: number
  http: OAuthHttpOptions
}

export type NamedSignInResult = {status: 'kept'; saved_to: string; saved: SavedLogin} | {status: 'signed_in'; saved_to: string; login: LoginResult}

/** A saved token with less than this left is replaced rather than kept. */
export const KEEP_MARGIN_SECONDS = 300

export async function signInNamedLogin(request: NamedSignInRequest): Promise<NamedSignInResult> {
  const keys = namedLoginKeys(checkLoginName(request.name))
  const path = request.tokensDir === undefined ? undefined : tokenFilePath(request.tokensDir, keys.name)
  const peek = path ? fileNamedStorage(path, request.envFilePath, keys, {}) : envNamedStorage(request.envFilePath, keys, {})
  const saved = await peek.saved()
  const savedTo = path ?? request.envFilePath
  if (!request.force && saved.accessToken && (saved.expiresAt === null || saved.expiresAt - Date.now() / 1000 > KEEP_MARGIN_SECONDS)) {
    return {status: 'kept', saved_to: savedTo, saved}
  }
  const serverUrl = request.serverUrl ?? (request.issuer ? undefined : saved.serverUrl)
  const issuer = request.issuer ?? (request.serverUrl ? undefined : saved.issuer)
  if (!serverUrl && !issuer) {
    throw usageError(
      `The login "${keys.name}" does not say where to sign in yet.`,
      'Give the MCP server with --server-url URL, or the OAuth provider with --issuer URL (its /.well-known/openid-configuration or RFC 8414 metadata is read).',
    )
  }
  const found = serverUrl ? await findMcpAuthServer(serverUrl, request.http) : undefined
  const resource = serverUrl ? (found?.resource ?? canonicalResourceUri(serverUrl)) : undefined
  const place = {serverUrl, resource}
  const storage: NamedLoginStorage = path ? fileNamedStorage(path, request.envFilePath, keys, place) : envNamedStorage(request.envFilePath, keys, place)
  if (request.client) await storage.useClient(request.client)
  const login = await runOAuthLogin({
    envFilePath: request.envFilePath,
    keys,
    storage,
    authServerUrl: found?.authServerUrl ?? issuer!,
    clientName: `mcpauth ${keys.name}`,
    resource,
    scope: request.scope,
    device: request.device,
    openBrowser: request.openBrowser,
    pasted: request.pasted,
    notify: request.notify,
    loginTimeoutMs: request.loginTimeoutMs,
    http: request.http,
  })
  return {status: 'signed_in', saved_to: savedTo, login}
}

/**
 * A client secret named on the command line: `env:VAR` (the environment,
 * then `.env`) or `file:PATH`. Never the secret itself, which every process
 * listing of the machine would show.
 */
export async function readSecretReference(reference: string, settings: Settings, flag: string): Promise<string> {
  const [kind, ...rest] = reference.split(':')
  const target = rest.join(':')
  if (kind === 'env' && target) {
    const value = settings.get(target)
    if (value === undefined) throw usageError(`${flag} names ${target}, which is neither in the environment nor in ${settings.envFilePath}.`)
    return value
  }
  if (kind === 'file' && target) {
    try {
      return (await readFile(target, 'utf8')).replace(/\r?\n$/, '')
    } catch (error) {
      throw new McpAuthError(`Cannot read ${target} (${flag}): ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, {
        code: 'secret_unreadable',
        exitCode: ExitCode.unreachable,
      })
    }
  }
  throw usageError(
    `${flag} takes env:VAR or file:PATH, never the secret itself.`,
    `A command line is visible to every user of the machine (ps, /proc). Put the secret in .env or the environment and pass ${flag} env:NAME.`,
  )
}
