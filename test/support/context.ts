import {Cluster} from 'ioredis'

import {type RedisClient, connectRedis} from '../../src/redis/client.js'
import {type CliOptions, type CliResult, runCli} from './cli.js'
import {GatewayFixtures} from './gateway-fixtures.js'
import {TestRedisCluster} from './redis-cluster.js'
import {TestRedisServer} from './redis-server.js'

export type RedisMode = 'single server' | 'cluster'

/** The Redis command suites run once against each. */
export const REDIS_MODES: RedisMode[] = ['single server', 'cluster']

export interface RedisTestContext {
  mode: RedisMode
  redis: RedisClient
  gateway: GatewayFixtures
  /** Runs mcpauth pointed at this suite's Redis (REDIS_URL, or REDIS_CLUSTER_NODES for the cluster). */
  cli(args: string[], options?: CliOptions): Promise<CliResult>
}

/**
 * Mocha hooks for a suite that needs Redis: a private server (or a private
 * three-master cluster) for the suite, emptied before each test.
 */
export function useRedis(mode: RedisMode = 'single server'): RedisTestContext & {server: TestRedisServer} {
  const context = {mode} as RedisTestContext & {server: TestRedisServer}
  let cluster: TestRedisCluster | undefined
  before(async function () {
    this.timeout(60_000)
    let env: Record<string, string>
    if (mode === 'cluster') {
      cluster = await new TestRedisCluster().start()
      // The product's own cluster client, so scripts run the same way in set-up and in mcpauth.
      context.redis = await connectRedis({mode: 'cluster', host: '127.0.0.1', port: 0, db: 0, tls: false, nodes: cluster.nodes})
      env = {REDIS_CLUSTER_NODES: cluster.nodeList}
    } else {
      context.server = await new TestRedisServer().start()
      context.redis = context.server.client()
      env = {REDIS_URL: context.server.url}
    }
    context.gateway = new GatewayFixtures(context.redis)
    context.cli = (args, options = {}) => runCli(args, {...options, env: {...env, ...options.env}})
  })
  beforeEach(async () => {
    const servers = context.redis instanceof Cluster ? context.redis.nodes('master') : [context.redis]
    await Promise.all(servers.map((server) => server.flushdb()))
  })
  after(async () => {
    context.redis?.disconnect()
    await context.server?.stop()
    await cluster?.stop()
  })
  return context
}

/** A suite that runs once against a single server and once against a cluster. */
export function describeOnEachRedis(title: string, body: (ctx: RedisTestContext) => void): void {
  describe(title, () => {
    for (const mode of REDIS_MODES) describe(`on a ${mode}`, () => body(useRedis(mode)))
  })
}
