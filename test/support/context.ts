import type {Redis} from 'ioredis'

import {type CliOptions, type CliResult, runCli} from './cli.js'
import {GatewayFixtures} from './gateway-fixtures.js'
import {TestRedisServer} from './redis-server.js'

export interface RedisTestContext {
  server: TestRedisServer
  redis: Redis
  gateway: GatewayFixtures
  /** Runs mcpauth pointed at this suite's Redis through REDIS_URL. */
  cli(args: string[], options?: CliOptions): Promise<CliResult>
}

/**
 * Mocha hooks for a suite that needs Redis: one private server for the file,
 * emptied before each test.
 */
export function useRedis(): RedisTestContext {
  const context = {} as RedisTestContext
  before(async () => {
    context.server = await new TestRedisServer().start()
    context.redis = context.server.client()
    context.gateway = new GatewayFixtures(context.redis)
    context.cli = (args, options = {}) => runCli(args, {...options, env: {REDIS_URL: context.server.url, ...options.env}})
  })
  beforeEach(async () => {
    await context.redis.flushdb()
  })
  after(async () => {
    context.redis?.disconnect()
    await context.server?.stop()
  })
  return context
}
