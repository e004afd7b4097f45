import type {Redis} from 'ioredis'

const BATCH = 5000

/** How many users and clients the tokens belong to: by default one user per 10 tokens and one client per 100 (100,000 and 10,000 at 1M). */
export interface FillShape {
  tokens: number
  users?: number
  clients?: number
}

const usersOf = (shape: FillShape): number => shape.users ?? Math.max(1, Math.round(shape.tokens / 10))
const clientsOf = (shape: FillShape): number => shape.clients ?? Math.max(1, Math.round(shape.tokens / 100))

/** Ids shaped like the gateway's (22 and 43 url-safe characters), but cheap to make by the million. */
const jtiOf = (index: number): string => `j${index.toString(36).padStart(21, '0')}`
const clientIdOf = (index: number): string => `client_${index.toString(36).padStart(22, '0')}`
const refreshOf = (index: number): string => `r${index.toString(36).padStart(42, '0')}`

/**
 * The gateway's records at scale: `tokens` access tokens (a third past their
 * expires_at but still stored), 0.3 x tokens refresh tokens, and the clients
 * and user index sets they belong to.
 */
export async function fillGateway(redis: Redis, shape: FillShape) {
  const {tokens} = shape
  const users = usersOf(shape)
  const clients = clientsOf(shape)
  const now = Math.floor(Date.now() / 1000)
  await inBatches(
    clients,
    (pipeline, i) => {
      const id = clientIdOf(i)
      const record = `{"client_id": "${id}", "client_secret": "${refreshOf(i)}", "client_secret_expires_at": 0, "client_id_issued_at": ${now}, "redirect_uris": "[\\"http://127.0.0.1:8080/callback\\"]", "client_name": "Client ${i}", "scope": "openid profile email", "created_at": ${now}, "response_types": "[\\"code\\"]", "grant_types": "[\\"authorization_code\\", \\"refresh_token\\"]", "registration_access_token": "${refreshOf(i + 1)}"}`
      pipeline.set(`oauth:client:${id}`, record, 'EX', 7_776_000)
    },
    redis,
  )
  await inBatches(tokens, (pipeline, i) => writeToken(pipeline, i, now, i % 3 === 0, users, clients), redis)
  await inBatches(
    Math.floor(tokens * 0.3),
    (pipeline, i) => {
      const record = `{"user_id": "${1000 + (i % users)}", "username": "user${i % users}", "client_id": "${clientIdOf(i % clients)}", "scope": "openid profile email", "created_at": ${now}}`
      pipeline.set(`oauth:refresh:${refreshOf(i)}`, record, 'EX', 2_592_000)
    },
    redis,
  )
  return {
    tokens,
    refresh: Math.floor(tokens * 0.3),
    clients,
    userIndexSets: Math.min(users, tokens),
    totalKeys: tokens + Math.floor(tokens * 0.3) + clients + Math.min(users, tokens),
  }
}

/** Puts back the expired third after a purge, so the next purge has the same work. */
export async function refillExpiredTokens(redis: Redis, shape: FillShape): Promise<void> {
  const now = Math.floor(Date.now() / 1000)
  await inBatches(Math.ceil(shape.tokens / 3), (pipeline, i) => writeToken(pipeline, i * 3, now, true, usersOf(shape), clientsOf(shape)), redis)
}

function writeToken(pipeline: ReturnType<Redis['pipeline']>, i: number, now: number, expired: boolean, users: number, clients: number): void {
  const username = `user${i % users}`
  const expiresAt = expired ? now - 3600 : now + 86_400
  const record = `{"sub": "${1000 + (i % users)}", "username": "${username}", "email": "${username}@example.com", "name": "User ${i % users}", "scope": "openid profile email", "client_id": "${clientIdOf(i % clients)}", "created_at": ${expiresAt - 86_400}, "expires_at": ${expiresAt}}`
  pipeline.set(`oauth:token:${jtiOf(i)}`, record, 'EX', expired ? 7200 : 86_400)
  pipeline.sadd(`oauth:user_tokens:${username}`, jtiOf(i))
}

async function inBatches(count: number, add: (pipeline: ReturnType<Redis['pipeline']>, index: number) => void, redis: Redis): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    const pipeline = redis.pipeline()
    for (let i = start; i < Math.min(count, start + BATCH); i++) add(pipeline, i)
    await pipeline.exec()
  }
}
