import {type Settings, loadSettings} from '../env/settings.js'
import {MCP_CLIENT_LOGIN} from '../oauth/login.js'
import {loginOutcomeIfNotDue} from '../refresh/refresh.js'
import {durationSetting, parseDuration} from '../time.js'
import {type SavedToken, loginToken} from '../logins/login-token.js'

/** mcp-headers' whole output: one line of JSON for the client to read. */
export function headersLine(token: string): string {
  return `${JSON.stringify({Authorization: `Bearer ${token}`})}\n`
}

/**
 * The MCP client's access token, read afresh from `.env` (where refreshes
 * land, so a copy exported in the environment earlier cannot be stale);
 * the environment's only when `.env` has none.
 */
export async function savedMcpClientToken(settings: Settings): Promise<SavedToken | undefined> {
  return loginToken(settings, {env_key: MCP_CLIENT_LOGIN.accessToken})
}

/** mcp-headers' flags, as its launch path reads them. */
export interface HeadersFlags {
  envFile?: string
  buffer?: string
  timeout?: string
}

/**
 * The hot path of every MCP client connection: mcp-headers' line when the
 * saved token is valid beyond the buffer and there is nothing else to do or
 * say. Read exactly as mcp-headers reads (settings, buffer, the login's
 * dueness, the saved token), with no lock and no network. Undefined when
 * mcp-headers has more to do (a refresh, a warning, an error): the caller
 * then runs the command in full, which starts over and does it.
 */
export async function headersIfStillValid(flags: HeadersFlags): Promise<string | undefined> {
  try {
    const settings = await loadSettings(flags.envFile ?? '.env')
    if (!settings.envFileExists || settings.malformedLines.length > 0) return undefined
    const bufferSeconds = durationSetting(flags.buffer, '--buffer', settings, 'TOKEN_EXPIRY_BUFFER', '3600')
    const timeoutMs = Math.max(1, parseDuration(flags.timeout ?? '10s', '--timeout')) * 1000
    const outcome = await loginOutcomeIfNotDue(settings, MCP_CLIENT_LOGIN, {bufferSeconds, force: false, http: {timeoutMs}})
    if (outcome === 'due') return undefined
    const saved = await savedMcpClientToken(settings)
    if (!saved || (saved.expiresAt !== null && saved.expiresAt <= Date.now() / 1000)) return undefined
    return headersLine(saved.token)
  } catch {
    return undefined
  }
}
