// Writes oclif.manifest.json after each build, so `mcpauth` starts without
// importing every command file to learn their flags (what `oclif manifest`
// does, without the oclif CLI's dependencies).
import {rm, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Config} from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifestPath = join(root, 'oclif.manifest.json')
await rm(manifestPath, {force: true})
const config = await Config.load({root})
const plugin = config.getPluginsList().find((candidate) => candidate.isRoot)
await writeFile(manifestPath, `${JSON.stringify(plugin.manifest, null, 2)}\n`)
