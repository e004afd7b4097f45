/**
 * The canonical URI of an MCP server, as the MCP authorization spec has
 * clients send it in RFC 8707's `resource` parameter: scheme and host in
 * lower case, no fragment, no default port, and no trailing slash. Sent whether or not the server publishes RFC 9728
 * metadata naming it.
 */
export function canonicalResourceUri(serverUrl: string): string {
  const url = new URL(serverUrl)
  url.hash = ''
  // URL already lower-cases the scheme and host and drops a default port.
  return !url.search && url.href.endsWith('/') ? url.href.slice(0, -1) : url.href
}
