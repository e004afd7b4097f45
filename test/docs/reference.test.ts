import {strict as assert} from 'node:assert'
import {existsSync} from 'node:fs'
import {readdir, readFile} from 'node:fs/promises'
import {dirname, join, relative, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'

import {repoRoot} from '../support/cli.js'
import {codeSnippets, commandMentions, headingAnchors, relativeLinks} from './markdown.js'

interface ManifestFlag {
  name: string
  char?: string
  allowNo?: boolean
  aliases?: string[]
  charAliases?: string[]
}
interface ManifestCommand {
  id: string
  aliases?: string[]
  flags: Record<string, ManifestFlag>
}
interface Manifest {
  commands: Record<string, ManifestCommand>
}

/** Commands the oclif plugins add; their flags are theirs, not checked here. */
const PLUGIN_COMMANDS = new Set(['help', 'autocomplete'])

async function loadManifest(): Promise<Manifest> {
  return JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as Manifest
}

/** README.md and every Markdown file under docs/, as paths relative to the repository. */
async function documentationFiles(): Promise<string[]> {
  const docs = (await readdir(join(repoRoot, 'docs'), {recursive: true})).filter((name) => name.endsWith('.md')).map((name) => join('docs', name))
  return ['README.md', ...docs.sort()]
}

function optionsOf(flags: Record<string, ManifestFlag>): Set<string> {
  const options = new Set(['--help', '-h'])
  for (const flag of Object.values(flags)) {
    options.add(`--${flag.name}`)
    if (flag.allowNo) options.add(`--no-${flag.name}`)
    if (flag.char) options.add(`-${flag.char}`)
    for (const alias of flag.aliases ?? []) options.add(`--${alias}`)
    for (const alias of flag.charAliases ?? []) options.add(`-${alias}`)
  }
  return options
}

describe('the documentation', () => {
  it('has a command reference generated from the current help (run npm run docs when this fails)', async () => {
    const script = pathToFileURL(join(repoRoot, 'scripts', 'write-command-reference.js')).href
    const {renderCommandReference, referencePath} = await import(script)
    const expected: string = renderCommandReference(await loadManifest())
    const actual = await readFile(join(repoRoot, referencePath), 'utf8').catch(() => '')
    if (actual === expected) return
    const actualLines = actual.split('\n')
    const firstDifference = expected.split('\n').findIndex((line, index) => line !== actualLines[index])
    assert.fail(
      `${referencePath} is stale: run npm run docs (first difference at line ${firstDifference + 1}: expected ${JSON.stringify(expected.split('\n')[firstDifference])})`,
    )
  })

  it('names only commands that exist, with flags they take', async () => {
    const commands = new Map<string, ManifestCommand>()
    for (const command of Object.values((await loadManifest()).commands)) {
      for (const name of [command.id, ...(command.aliases ?? [])]) commands.set(name, command)
    }
    const problems: string[] = []
    let checked = 0
    for (const file of await documentationFiles()) {
      const markdown = await readFile(join(repoRoot, file), 'utf8')
      for (const mention of codeSnippets(markdown).flatMap(commandMentions)) {
        checked++
        const where = `${file}:${mention.line}: "${mention.text.trim()}"`
        if (PLUGIN_COMMANDS.has(mention.command)) continue
        const command = commands.get(mention.command)
        if (!command) {
          problems.push(`${where}: no command ${mention.command}`)
          continue
        }
        const known = optionsOf(command.flags)
        for (const option of mention.options.map((word) => word.split('=')[0])) {
          if (!known.has(option)) problems.push(`${where}: ${mention.command} has no flag ${option}`)
        }
      }
    }
    assert.deepEqual(problems, [])
    assert.ok(checked > 50, `only ${checked} mcpauth commands found in the documentation`)
  })

  it('links only to files and headings that exist', async () => {
    const problems: string[] = []
    for (const file of await documentationFiles()) {
      const markdown = await readFile(join(repoRoot, file), 'utf8')
      for (const link of relativeLinks(markdown)) {
        const [path, anchor] = link.text.split('#')
        const target = path === '' ? join(repoRoot, file) : resolve(dirname(join(repoRoot, file)), path)
        if (!existsSync(target)) {
          problems.push(`${file}:${link.line}: ${link.text}: no file ${relative(repoRoot, target)}`)
        } else if (anchor && target.endsWith('.md') && !headingAnchors(await readFile(target, 'utf8')).has(anchor)) {
          problems.push(`${file}:${link.line}: ${link.text}: no heading #${anchor} in ${relative(repoRoot, target)}`)
        }
      }
    }
    assert.deepEqual(problems, [])
  })

  it('names only repository files that exist (tests, sources, fixtures)', async () => {
    const problems: string[] = []
    let checked = 0
    for (const file of await documentationFiles()) {
      for (const snippet of codeSnippets(await readFile(join(repoRoot, file), 'utf8'))) {
        const path = /^(?:bench|bin|commands|docs|scripts|src|test)\/[\w./-]+$/.exec(snippet.text.trim())?.[0]
        if (!path) continue
        checked++
        if (!existsSync(join(repoRoot, path))) problems.push(`${file}:${snippet.line}: no file ${path}`)
      }
    }
    assert.deepEqual(problems, [])
    assert.ok(checked > 10, `only ${checked} repository paths found in the documentation`)
  })

  it('keeps the README a guide: under 20 KB, the reference in docs/commands.md', async () => {
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')
    assert.ok(Buffer.byteLength(readme) <= 20 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes`)
    assert.ok(readme.includes('](docs/commands.md)'), 'README.md does not link to docs/commands.md')
  })
})
