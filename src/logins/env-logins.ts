import {usageError} from '../errors.js'
import {GATEWAY_LOGIN, GITHUB_LOGIN, type LoginKeys, MCP_CLIENT_LOGIN} from '../oauth/login.js'

/**
 * Logins kept in `.env`. Three are built in (the gateway's, the MCP
 * client's, GitHub's); any other is a named login, kept under keys that
 * start with its name: `ATLASSIAN_ACCESS_TOKEN`, `ATLASSIAN_REFRESH_TOKEN`,
 * `ATLASSIAN_CLIENT_ID`, `ATLASSIAN_TOKEN_ENDPOINT`… A named login is found
 * again by its token keys standing beside one of the keys that say where its
 * authorization server is (`_TOKEN_ENDPOINT`, `_ISSUER` or `_SERVER_URL`).
 */

export interface NamedLoginKeys extends LoginKeys {
  /** The name as mcpauth shows it: lower case, e.g. `atlassian`. */
  name: string
  issuer: string
  tokenEndpoint: string
  /** The MCP server a login was made for (its RFC 8707 resource). */
  serverUrl: string
  resource: string
}

export const BUILT_IN_LOGINS: ReadonlyArray<{name: string; keys: LoginKeys}> = [
  {name: 'gateway', keys: GATEWAY_LOGIN},
  {name: 'mcp-client', keys: MCP_CLIENT_LOGIN},
  {name: 'github', keys: GITHUB_LOGIN},
]

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,47}$/
/** Names whose keys are, or would be mistaken for, the built-in logins' (`--name mcp` would own MCP_SERVER_URL). */
const RESERVED_PREFIXES = new Set(['GATEWAY', 'GATEWAY_OAUTH', 'MCP', 'MCP_CLIENT', 'GITHUB'])
const LOCATION_SUFFIXES = ['_TOKEN_ENDPOINT', '_ISSUER', '_SERVER_URL'] as const

/** A login name as typed: letters, digits, "-" and "_", starting with a letter; "-" and "_" are the same, case does not matter. */
export function checkLoginName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw usageError(
      `"${name}" is not a login name.`,
      'A name starts with a letter and holds letters, digits, "-" and "_" (48 at most), e.g. --name atlassian.',
    )
  }
  if (RESERVED_PREFIXES.has(keyPrefix(name))) {
    throw usageError(
      `"${name}" is the name of a built-in login (or too close to one).`,
      'Use mcp-client-token without --name for the MCP client, generate-github-token for GitHub and the gateway; give other logins their own name.',
    )
  }
  return name.toLowerCase().replace(/_/g, '-')
}

export function namedLoginKeys(name: string): NamedLoginKeys {
  const prefix = keyPrefix(name)
  const shown = name.toLowerCase().replace(/_/g, '-')
  return {
    name: shown,
    label: shown,
    accessToken: `${prefix}_ACCESS_TOKEN`,
    refreshToken: `${prefix}_REFRESH_TOKEN`,
    clientId: `${prefix}_CLIENT_ID`,
    clientSecret: `${prefix}_CLIENT_SECRET`,
    registrationToken: `${prefix}_REGISTRATION_TOKEN`,
    registrationUri: `${prefix}_REGISTRATION_URI`,
    redirectUri: `${prefix}_REDIRECT_URI`,
    issuer: `${prefix}_ISSUER`,
    tokenEndpoint: `${prefix}_TOKEN_ENDPOINT`,
    serverUrl: `${prefix}_SERVER_URL`,
    resource: `${prefix}_RESOURCE`,
    loginCommand: `mcpauth mcp-client-token --name ${shown} --force`,
  }
}

/** The named logins a `.env` holds, in the order their keys first appear. */
export function namedLoginsIn(values: ReadonlyMap<string, string>): NamedLoginKeys[] {
  const found = new Map<string, NamedLoginKeys>()
  for (const key of values.keys()) {
    const suffix = LOCATION_SUFFIXES.find((candidate) => key.endsWith(candidate))
    if (!suffix) continue
    const prefix = key.slice(0, -suffix.length)
    if (found.has(prefix) || RESERVED_PREFIXES.has(prefix) || !NAME_PATTERN.test(prefix)) continue
    const keys = namedLoginKeys(prefix)
    if (values.get(keys.refreshToken) || values.get(keys.accessToken)) found.set(prefix, keys)
  }
  return [...found.values()]
}

function keyPrefix(name: string): string {
  return name.toUpperCase().replace(/-/g, '_')
}
