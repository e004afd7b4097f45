import {strict as assert} from 'node:assert'
import {createHash} from 'node:crypto'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Cluster, type Redis} from 'ioredis'

import type {RedisClient} from '../../src/redis/client.js'

import type {GatewayFixtures} from './gateway-fixtures.js'

/** One key as a test compares it: type, value (bytes as hex, set members and hash fields sorted) and PTTL. */
export interface KeySnapshot {
  type: string
  value: unknown
  pttl: number
}

/** The servers that hold keys: every master of a cluster, or the one server. */
function masters(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis]
}

/** Empties every master. */
export async function flushAll(redis: RedisClient): Promise<void> {
  await Promise.all(masters(redis).map((server) => server.flushdb()))
}

/**
 * Every `oauth:*` key with its type, exact bytes and PTTL. Written apart from
 * the product's own helpers (SCAN on each master, one command per key) so a
 * bug there cannot hide here.
 */
export async function snapshot(redis: RedisClient): Promise<Map<string, KeySnapshot>> {
  const keys: Buffer[] = []
  for (const server of masters(redis)) {
    for await (const batch of server.scanBufferStream({match: 'oauth:*', count: 1000}) as AsyncIterable<Buffer[]>) keys.push(...batch)
  }
  const result = new Map<string, KeySnapshot>()
  const hex = (buffer: Buffer): string => buffer.toString('hex')
  for (let start = 0; start < keys.length; start += 1000) {
    const chunk = keys.slice(start, start + 1000)
    const types = await Promise.all(chunk.map((key) => redis.type(key)))
    const values = await Promise.all(
      chunk.map((key, index): Promise<unknown> => {
        const type = types[index]
        if (type === 'string') return redis.getBuffer(key).then((value) => hex(value!))
        if (type === 'set') return redis.smembersBuffer(key).then((members) => members.map(hex).sort())
        if (type === 'list') return redis.lrangeBuffer(key, 0, -1).then((members) => members.map(hex))
        if (type === 'hash')
          return redis.hgetallBuffer(key).then((fields) =>
            Object.entries(fields)
              .map(([field, item]) => [field, hex(item)])
              .sort(),
          )
        return Promise.resolve(type)
      }),
    )
    const ttls = await Promise.all(chunk.map((key) => redis.pttl(key)))
    chunk.forEach((key, index) => {
      result.set(key.toString('utf8'), {type: types[index], value: values[index], pttl: ttls[index]})
    })
  }
  return result
}

/** Type and value of every key, without TTLs: what must be equal after a round trip. */
export function contents(keys: Map<string, KeySnapshot>): Record<string, {type: string; value: unknown}> {
  return Object.fromEntries([...keys].sort(([a], [b]) => a.localeCompare(b)).map(([key, {type, value}]) => [key, {type, value}]))
}

/** Same keys, types and values; no TTL added, removed or lengthened (they only tick down). */
export function assertUnchanged(after: Map<string, KeySnapshot>, before: Map<string, KeySnapshot>, message = 'Redis changed'): void {
  assert.deepEqual(contents(after), contents(before), message)
  for (const [key, {pttl}] of before) {
    const now = after.get(key)!.pttl
    assert.ok(pttl === -1 ? now === -1 : now !== -1 && now <= pttl, `${message}: TTL of ${key} went from ${pttl} to ${now} ms`)
  }
}

/** A gateway's worth of records, plus what other tools leave under oauth:: a list, a hash and a binary value. */
export async function fillGateway(gateway: GatewayFixtures, redis: RedisClient) {
  const vscode = await gateway.client({name: 'VS Code'})
  const eternal = await gateway.client({name: 'Eternal', ttl: null})
  const tokens = [
    await gateway.accessToken({username: 'alice', clientId: vscode.clientId}),
    await gateway.accessToken({username: 'alice', clientId: eternal.clientId, expiresIn: 3600}),
    await gateway.accessToken({username: 'bob', clientId: vscode.clientId, refreshed: true}),
  ]
  await gateway.refreshToken({username: 'alice', clientId: vscode.clientId})
  await gateway.code({clientId: vscode.clientId, username: 'alice'})
  await gateway.state({clientId: vscode.clientId})
  await redis.rpush('oauth:queue:pending', 'first', 'second', 'first')
  await redis.hset('oauth:meta:gateway', {version: '2.1', ünïcode: 'välue'})
  await redis.set('oauth:blob:binary', Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x0a]), 'EX', 5000)
  return {vscode, eternal, tokens}
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'mcpauth-backup-'))
}

/** Keeps the first `length` bytes (a negative length drops that many from the end). */
export async function truncateFile(path: string, length: number): Promise<void> {
  const bytes = await readFile(path)
  await writeFile(path, bytes.subarray(0, length < 0 ? bytes.length + length : length))
}

/** Replaces the first occurrence of `find` in the file by `replace` (same length). */
export async function editFile(path: string, find: string | Buffer, replace: string | Buffer): Promise<void> {
  const bytes = await readFile(path)
  const at = bytes.indexOf(find)
  if (at === -1) throw new Error(`${String(find)} not in ${path}`)
  Buffer.from(replace).copy(bytes, at)
  await writeFile(path, bytes)
}

/**
 * An mcpauth backup file whose checksum and counts are right, with whatever
 * record lines a test needs: proves a check other than the checksum catches them.
 */
export async function writeSignedBackup(path: string, records: unknown[], counts: {kinds?: object; types?: object} = {}): Promise<void> {
  const header = {format: 'mcpauth-backup', version: 1, created_at: new Date().toISOString(), source: 'redis://test:6379/0', tool: 'test'}
  const body = [header, ...records].map((line) => `${JSON.stringify(line)}\n`).join('')
  const kinds = {client: 0, state: 0, code: 0, token: 0, refresh: 0, user_tokens: 0, other: 0, ...counts.kinds}
  const types = {string: 0, set: 0, list: 0, hash: 0, ...counts.types}
  const trailer = {end: 'mcpauth-backup', records: records.length, kinds, types, sha256: createHash('sha256').update(body).digest('hex')}
  await writeFile(path, `${body}${JSON.stringify(trailer)}\n`)
}
