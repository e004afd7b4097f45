import type {Settings} from '../env/settings.js'
import {envStoredLogins} from './env-store.js'
import {fileStoredLogin} from './file-store.js'
import type {StoredLogin} from './stored-login.js'
import {listTokenFiles} from './token-file.js'

/**
 * Every login mcpauth looks after: those of the `.env` that have a refresh
 * token (built-in and named), then one per token file of each token
 * directory, each file once however often its directory is named.
 */
export async function findLogins(settings: Settings, tokensDirs: readonly string[]): Promise<StoredLogin[]> {
  const logins = settings.envFileExists ? await envStoredLogins(settings.envFilePath) : []
  const seen = new Set<string>()
  for (const directory of tokensDirs) {
    for (const path of await listTokenFiles(directory)) {
      if (seen.has(path)) continue
      seen.add(path)
      logins.push(fileStoredLogin(path, settings))
    }
  }
  return logins
}
