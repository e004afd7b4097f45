import {type IncomingMessage, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface LoopbackServer {
  url: string
  /** Requests seen, as `METHOD /path`, for assertions. */
  requests: string[]
  close(): Promise<void>
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void

/** A real HTTP server on 127.0.0.1 and a free port, for peers the tests cannot reach (GitHub, a gateway's /jwks). */
export async function startLoopbackServer(handler: Handler): Promise<LoopbackServer> {
  const requests: string[] = []
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`)
    handler(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        // A peer that never answered (a hung-server test) would otherwise keep close() waiting.
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {'Content-Type': 'application/json; charset=utf-8'})
  response.end(JSON.stringify(body))
}

/**
 * GitHub's REST `GET /user` as documented: 200 with the account for a token
 * it knows, 401 `Bad credentials` otherwise.
 */
export async function startGithubApi(validTokens: Record<string, string>): Promise<LoopbackServer> {
  return startLoopbackServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/user') return sendJson(response, 404, {message: 'Not Found'})
    const token = /^(?:Bearer|token) (.+)$/.exec(request.headers.authorization ?? '')?.[1]
    const login = token === undefined ? undefined : validTokens[token]
    if (login === undefined) {
      return sendJson(response, 401, {message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401'})
    }
    sendJson(response, 200, {login, id: 4242, type: 'User'})
  })
}

/** The gateway's `/jwks`: its one RSA key, with the kid it publishes (tokens carry none). */
export async function startJwksServer(jwks: {keys: unknown[]}): Promise<LoopbackServer> {
  return startLoopbackServer((request, response) => {
    if (request.url === '/jwks') return sendJson(response, 200, jwks)
    sendJson(response, 404, {detail: 'Not Found'})
  })
}
