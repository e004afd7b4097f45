import type {Settings} from '../env/settings.js'
import {McpAuthError} from '../errors.js'
import {discoverAuthServer, gatewayAuthServerUrl} from '../oauth/discovery.js'
import type {OAuthHttpOptions} from '../oauth/http.js'
import type {GatewayVersion} from './mint.js'

/**
 * Which gateway version a minted token must look like. The newer one (it
 * reads the OAUTH_* settings and RFC 8707 resources) puts the resources in
 * `aud` and adds `azp`; the older one does neither. Told apart by what the
 * `.env` uses, else by the gateway's metadata (`resource_indicators_supported`),
 * or said outright with --gateway-version.
 */
export async function gatewayVersionFor(
  settings: Settings,
  wanted: GatewayVersion | 'auto',
  http: OAuthHttpOptions,
): Promise<{version: GatewayVersion; why: string}> {
  if (wanted !== 'auto') return {version: wanted, why: '--gateway-version'}
  const spelling = settings.settingSpelling()
  if (spelling === 'oauth') return {version: 'newer', why: `${settings.envFilePath} uses the OAUTH_* settings`}
  if (spelling === 'classic') return {version: 'older', why: `${settings.envFilePath} uses the classic setting names`}
  let metadata: Record<string, unknown>
  try {
    metadata = (await discoverAuthServer(gatewayAuthServerUrl(settings), http)) as unknown as Record<string, unknown>
  } catch (error) {
    if (!(error instanceof McpAuthError)) throw error
    return {version: 'older', why: `neither .env nor the gateway's metadata says (${error.message.replace(/\.$/, '')})`}
  }
  return metadata.resource_indicators_supported === true
    ? {version: 'newer', why: "the gateway's metadata has resource_indicators_supported"}
    : {version: 'older', why: "the gateway's metadata has no resource_indicators_supported"}
}
