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
  // Before oclif and ioredis log anything: DEBUG=* must print no password, token or raw control character.
  if (process.env.DEBUG) (await import('../dist/src/debug-output.js')).installDebugRedaction()
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url, args})
}
