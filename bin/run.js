#!/usr/bin/env -S node --
import {fileURLToPath} from 'node:url'

import {normalizeArgv} from '../dist/commands/_shared/argv.js'
import {answerWithoutOclif} from '../dist/commands/_shared/fast-path.js'

const args = normalizeArgv(process.argv.slice(2))
// --version, --help into a pipe and mcp-headers with a valid token need no oclif (most of the start-up).
if (!(await answerWithoutOclif(args, fileURLToPath(new URL('..', import.meta.url))))) {
  // A walk over the keyspace makes gigabytes of short-lived garbage. By default V8 lets the old
  // generation grow to up to 4x what is live before collecting it (peak RSS 170 MB at 1M tokens);
  // 1.5x keeps it near what is live (~125 MB, flat with size) for a few more quick collections.
  // Set here, not as a node option, so that `node bin/run.js`, npm link and the justfile all get it.
  const v8 = await import('node:v8')
  v8.setFlagsFromString('--heap-growing-percent=50')
  // Before oclif and ioredis log anything: DEBUG=* must print no password, token or raw control character.
  if (process.env.DEBUG) (await import('../dist/src/debug-output.js')).installDebugRedaction()
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url, args})
}
