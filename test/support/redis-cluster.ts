import {type ChildProcess, execFile, spawn} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {freePort} from './redis-server.js'

const run = promisify(execFile)

/** A real three-master Redis Cluster on loopback, joined with `redis-cli --cluster create`. */
export class TestRedisCluster {
  private readonly processes: ChildProcess[] = []
  private dir?: string
  ports: number[] = []

  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as REDIS_CLUSTER_NODES takes it. */
  get nodeList(): string {
    return this.ports.map((port) => `127.0.0.1:${port}`).join(',')
  }

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'mcpauth-cluster-'))
    this.ports = await clusterPorts(3)
    for (const port of this.ports) {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no']
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000')
      this.processes.push(spawn('redis-server', args, {stdio: 'ignore'}))
    }
    await this.waitFor(async () => (await Promise.all(this.ports.map((port) => this.cli(port, 'ping')))).every((reply) => reply === 'PONG'))
    await run('redis-cli', ['--cluster', 'create', ...this.ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'])
    await this.waitFor(async () => {
      const states = await Promise.all(this.ports.map((port) => this.cli(port, 'cluster', 'info')))
      return states.every((info) => info.includes('cluster_state:ok'))
    })
    return this
  }

  get nodes(): Array<{host: string; port: number}> {
    return this.ports.map((port) => ({host: '127.0.0.1', port}))
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGTERM')
          }),
      ),
    )
    if (this.dir) await rm(this.dir, {recursive: true, force: true})
  }

  private async cli(port: number, ...args: string[]): Promise<string> {
    try {
      return (await run('redis-cli', ['-p', String(port), ...args])).stdout.trim()
    } catch {
      return ''
    }
  }

  private async waitFor(ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (await ready()) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error('the test Redis Cluster did not become ready')
  }
}

/** Free ports whose cluster bus port (port + 10000) is free as well. */
async function clusterPorts(count: number): Promise<number[]> {
  const ports: number[] = []
  while (ports.length < count) {
    const port = await freePort()
    if (port > 55_000 || ports.includes(port)) continue
    if ((await isFree(port + 10_000)) && !ports.includes(port + 10_000)) ports.push(port)
  }
  return ports
}

async function isFree(port: number): Promise<boolean> {
  const {createServer} = await import('node:net')
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
