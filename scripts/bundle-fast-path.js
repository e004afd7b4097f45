// Joins the CommonJS build of the start-up fast path (dist/fast, from tsconfig.fast.json) into one
// file, dist/fast/bundle.cjs: Node then reads, resolves and compiles one file instead of some
// fifteen, which is most of what mcp-headers costs over bare Node. Each module keeps its own
// scope and runs once, on its first require, exactly as it would from its own file.
import {readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {join, relative} from 'node:path'

export async function bundleFastPath(fastDir, entries) {
  const files = (await readdir(fastDir, {recursive: true})).filter((file) => file.endsWith('.js')).sort()
  const modules = []
  for (const file of files) {
    const source = await readFile(join(fastDir, file), 'utf8')
    const name = relative(fastDir, join(fastDir, file)).split('\\').join('/')
    modules.push(`${JSON.stringify(name)}: function (module, exports, require) {\n${source}\n}`)
  }
  const loader = `'use strict'
const path = require('node:path')
const definitions = {
${modules.join(',\n')}
}
const loaded = new Map()
function load(name) {
  if (loaded.has(name)) return loaded.get(name).exports
  const definition = definitions[name]
  if (!definition) throw new Error('fast path bundle: no module ' + name)
  const module = {exports: {}}
  loaded.set(name, module)
  const localRequire = (specifier) =>
    specifier.startsWith('.') ? load(path.posix.join(path.posix.dirname(name), specifier)) : require(specifier)
  definition.call(module.exports, module, module.exports, localRequire)
  return module.exports
}
module.exports = {${entries.map(([key, name]) => `${key}: load(${JSON.stringify(name)})`).join(', ')}}
`
  await writeFile(join(fastDir, 'bundle.cjs'), loader)
  // The separate files were only the bundle's input.
  for (const entry of await readdir(fastDir, {withFileTypes: true})) {
    if (entry.isDirectory()) await rm(join(fastDir, entry.name), {recursive: true})
  }
}
