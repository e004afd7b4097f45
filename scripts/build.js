// `npm run build`: compiles into a fresh folder and swaps it in for dist/, so
// a refresh daemon or an MCP client's headers helper running from this
// checkout never finds dist/ missing or half-written, and compiled files of
// deleted sources never linger. The manifest and the pre-rendered help
// (dist/help.json, scripts/write-help.js) are written the same way.
import {execFileSync} from 'node:child_process'
import {rename, rm, writeFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {bundleFastPath} from './bundle-fast-path.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const next = join(root, `dist.next-${process.pid}`)
const old = join(root, `dist.old-${process.pid}`)
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

await rm(next, {recursive: true, force: true})
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--outDir', next], {stdio: 'inherit'})
  // The start-up fast path (bin/run.js) once more as CommonJS: Node loads a handful of CommonJS files
  // markedly sooner than the same ES modules, and mcp-headers runs on every MCP client connection.
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.fast.json'), '--outDir', join(next, 'fast')], {stdio: 'inherit'})
  await writeFile(join(next, 'fast', 'package.json'), '{"type": "commonjs"}\n')
  await bundleFastPath(join(next, 'fast'), [
    ['argv', 'commands/_shared/argv.js'],
    ['fastPath', 'commands/_shared/fast-path.js'],
  ])
} catch {
  await rm(next, {recursive: true, force: true})
  process.exit(1)
}
// Two renames: dist/ is absent for the instant between them only, never while files are written.
await rename(dist, old).catch((error) => {
  if (error.code !== 'ENOENT') throw error
})
await rename(next, dist)
await rm(old, {recursive: true, force: true})
await import('./write-manifest.js')
execFileSync(process.execPath, [join(root, 'scripts', 'write-help.js')], {
  stdio: 'inherit',
  env: {...process.env, OCLIF_COLUMNS: '80', FORCE_COLOR: '0'},
})
