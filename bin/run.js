#!/usr/bin/env -S node --
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'

// The fast path's CommonJS build in one file (scripts/build.js): it loads sooner than ES modules.
const require = createRequire(import.meta.url)
const {argv, fastPath} = require('../dist/fast/bundle.cjs')
const {normalizeArgv} = argv
const {answerWithoutOclif} = fastPath

const args = normalizeArgv(process.argv.slice(2))
// --version, --help into a pipe and mcp-headers with a valid token need no oclif (most of the start-up).
if (!(await answerWithoutOclif(args, fileURLToPath(new URL('..', import.meta.url))))) {
  // A walk over the keyspace makes gigabytes of short-lived objects, and V8 by default lets the old
  // generation grow to up to 4x what is live before a full collection (peak RSS ~165 MB at 1M tokens).
  // 1.5x keeps it near what is live (~13 MB): measured at 3M tokens, peak RSS of oauth-list-tokens
  // --json 160 -> 139 MB against 2x, oauth-stats 148 -> 141, oauth-backup 165 -> 158, with no time
  // lost (full collections of a heap that small are cheap). Set here, not as a node option, so that
  // `node bin/run.js`, npm link and the justfile all get it; the fast path above has no use for it.
  const v8 = await import('node:v8')
  v8.setFlagsFromString('--heap-growing-percent=50')
  // Before oclif and ioredis log anything: DEBUG=* must print no password, token or raw control character.
  if (process.env.DEBUG) (await import('../dist/src/debug-output.js')).installDebugRedaction()
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url, args})
}
