// Writes oclif.manifest.json after each build, so `mcpauth` starts without
// importing every command file to learn their flags (what `oclif manifest`
// does, without the oclif CLI's dependencies). Written to a temporary file and
// renamed, so a running mcpauth never reads half a manifest.
import {rename, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Plugin} from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifestPath = join(root, 'oclif.manifest.json')
// ignoreManifest: the commands' flags are read from the new build, not from the manifest being replaced.
const plugin = new Plugin({root, isRoot: true, ignoreManifest: true})
await plugin.load()
const temporary = `${manifestPath}.${process.pid}.tmp`
await writeFile(temporary, `${JSON.stringify(plugin.manifest, null, 2)}\n`)
await rename(temporary, manifestPath)
