// Writes dist/help.json after each build: every command's --help as oclif
// itself renders it into a pipe (80 columns, no colour), keyed by the argv
// bin/run.js hands oclif, so `--help` is answered without loading oclif
// (commands/_shared/fast-path.ts). Run by scripts/build.js in a process of
// its own with OCLIF_COLUMNS=80 and FORCE_COLOR=0, which oclif reads when it
// loads: the build's own terminal must not shape the text. The root help
// quotes the user agent (node version, platform): kept beside the texts, so
// the launch path puts the running one in its place. Written to a
// temporary file and renamed, so a running mcpauth never reads half of it.
import {rename, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Config, loadHelpClass} from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const helpPath = join(root, 'dist', 'help.json')

const config = await Config.load(root)
const Help = await loadHelpClass(config)
const argvs = [[], ['--help'], ...config.commands.flatMap((command) => [command.id, ...command.aliases]).map((id) => [id, '--help'])]
const texts = {}
const write = process.stdout.write
for (const argv of argvs) {
  // What oclif's run() does for these argv: new Help(...).showHelp(argv), printed through process.stdout.
  let text = ''
  process.stdout.write = (chunk) => {
    text += chunk
    return true
  }
  try {
    await new Help(config, config.pjson.oclif.helpOptions ?? config.pjson.helpOptions).showHelp(argv)
  } finally {
    process.stdout.write = write
  }
  texts[argv.join(' ')] = text
}
const temporary = `${helpPath}.${process.pid}.tmp`
await writeFile(temporary, `${JSON.stringify({user_agent: config.userAgent, texts}, null, 1)}\n`)
await rename(temporary, helpPath)
