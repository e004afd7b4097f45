import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Redis, type RedisOptions} from 'ioredis'

/** A private redis-server on a free loopback port, in its own temp dir, never the machine's. */
export class TestRedisServer {
  private process?: ChildProcess
  private dir?: string
  private paused = false
  port = 0

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`
  }

  /** With a password the server runs with --requirepass and the helpers log in with it. */
  constructor(private readonly password?: string) {}

  async start(extraArgs: string[] = []): Promise<this> {
    this.dir ??= await mkdtemp(join(tmpdir(), 'mcpauth-redis-'))
    this.port ||= await freePort()
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      ...(this.password ? ['--requirepass', this.password] : []),
      ...extraArgs,
    ]
    this.process = spawn('redis-server', args, {stdio: 'ignore'})
    await waitForRedis(this.port, {password: this.password})
    return this
  }

  /** A client for the test's own set-up and checks. */
  client(): Redis {
    return new Redis({host: '127.0.0.1', port: this.port, password: this.password, lazyConnect: false, maxRetriesPerRequest: 1})
  }

  async stop(): Promise<void> {
    this.resume() // a stopped process would never act on SIGTERM
    await this.kill('SIGTERM')
    if (this.dir) await rm(this.dir, {recursive: true, force: true})
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.process
    if (!child || child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.kill(signal)
    })
    this.process = undefined
    this.paused = false
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing, like a hung or frozen host. */
  pause(): void {
    this.process?.kill('SIGSTOP')
    this.paused = true
  }

  resume(): void {
    if (this.paused) this.process?.kill('SIGCONT')
    this.paused = false
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Waits until a Redis (or a Sentinel) on a loopback port answers PING. */
export async function waitForRedis(port: number, options: Pick<RedisOptions, 'password' | 'tls'> = {}): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const probe = new Redis({host: '127.0.0.1', port, ...options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0})
    probe.on('error', () => {})
    try {
      await probe.connect()
      await probe.ping()
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    } finally {
      probe.disconnect()
    }
  }
  throw new Error(`nothing answered PING on port ${port}`)
}
