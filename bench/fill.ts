import type {Redis} from 'ioredis'

const CLIENTS = 10_000
const USERS = 100_000
const BATCH = 5000

/** Ids shaped like the gateway's (22 and 43 url-safe characters), but cheap to make by the million. */
const jtiOf = (index: number): string => `j${index.toString(36).padStart(21, '0')}`
const clientIdOf = (index: number): string => `client_${index.toString(36).padStart(22, '0')}`
const refreshOf = (index: number): string => `r${index.toString(36).padStart(42, '0')}`

/**
 * The gateway's records at scale: `tokens` access tokens (a third past their
 * expires_at but still stored), 0.3 x tokens refresh tokens, 10,000 clients
 * and 100,000 user index sets.
 */
export async function fillGateway(redis: Redis, tokens: number) {
  const now = Math.floor(Date.now() / 1000)
  await inBatches(
    CLIENTS,
    (pipeline, i) => {
      const id = clientIdOf(i)
      const record = `{"client_id": "${id}", "client_secret": "${refreshOf(i)}", "client_secret_expires_at": 0, "client_id_issued_at": ${now}, "redirect_uris": "[\\"http://127.0.0.1:8080/callback\\"]", "client_name": "Client ${i}", "scope": "openid profile email", "created_at": ${now}, "response_types": "[\\"code\\"]", "grant_types": "[\\"authorization_code\\", \\"refresh_token\\"]", "registration_access_token": "${refreshOf(i + 1)}"}`
      pipeline.set(`oauth:client:${id}`, record, 'EX', 7_776_000)
    },
    redis,
  )
  await inBatches(tokens, (pipeline, i) => writeToken(pipeline, i, now, i % 3 === 0), redis)
  await inBatches(
    Math.floor(tokens * 0.3),
    (pipeline, i) => {
      const record = `{"user_id": "${1000 + (i % USERS)}", "username": "user${i % USERS}", "client_id": "${clientIdOf(i % CLIENTS)}", "scope": "openid profile email", "created_at": ${now}}`
      pipeline.set(`oauth:refresh:${refreshOf(i)}`, record, 'EX', 2_592_000)
    },
    redis,
  )
  return {
    tokens,
    refresh: Math.floor(tokens * 0.3),
    clients: CLIENTS,
    userIndexSets: Math.min(USERS, tokens),
    totalKeys: tokens + Math.floor(tokens * 0.3) + CLIENTS + Math.min(USERS, tokens),
  }
}

/** Puts back the expired third after a purge, so the next purge has the same work. */
export async function refillExpiredTokens(redis: Redis, tokens: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000)
  await inBatches(Math.ceil(tokens / 3), (pipeline, i) => writeToken(pipeline, i * 3, now, true), redis)
}

function writeToken(pipeline: ReturnType<Redis['pipeline']>, i: number, now: number, expired: boolean): void {
  const username = `user${i % USERS}`
  const expiresAt = expired ? now - 3600 : now + 86_400
  const record = `{"sub": "${1000 + (i % USERS)}", "username": "${username}", "email": "${username}@example.com", "name": "User ${i % USERS}", "scope": "openid profile email", "client_id": "${clientIdOf(i % CLIENTS)}", "created_at": ${expiresAt - 86_400}, "expires_at": ${expiresAt}}`
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
