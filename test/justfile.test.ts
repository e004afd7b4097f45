import {strict as assert} from 'node:assert'
import {execFile} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {repoRoot} from './support/cli.js'

const run = promisify(execFile)

/**
 * `just` itself is not a dependency (its npm wrapper only ships a binary for
 * some platforms), so the justfile is checked as text: one recipe per
 * command, run where `just` was called and passing every argument through.
 */
describe('the justfile', () => {
  async function commandRecipes(): Promise<Map<string, {attributes: string[]; body: string}>> {
    const text = await readFile(join(repoRoot, 'justfile'), 'utf8')
    const recipes = new Map<string, {attributes: string[]; body: string}>()
    let attributes: string[] = []
    const lines = text.split('\n')
    for (const [index, line] of lines.entries()) {
      const attribute = /^\[([a-z-]+)\]$/.exec(line)
      if (attribute) {
        attributes.push(attribute[1])
        continue
      }
      const header = /^([a-z][a-z0-9-]*)( \*args)?:/.exec(line)
      if (header) {
        recipes.set(header[1], {attributes, body: lines[index + 1] ?? ''})
      }
      attributes = []
    }
    return recipes
  }

  async function commandIds(): Promise<string[]> {
    const {stdout: help} = await run(process.execPath, ['--', join(repoRoot, 'bin', 'run.js'), '--help'])
    return help
      .match(/^ {2}([a-z][a-z0-9-]+) /gm)!
      .map((line) => line.trim())
      .filter((id) => id !== 'autocomplete' && id !== 'help')
  }

  it('has a recipe for every command that passes every argument to it', async () => {
    const recipes = await commandRecipes()
    const ids = await commandIds()
    assert.ok(ids.length > 10, `only ${ids.length} commands found in --help`)
    for (const id of ids) {
      const recipe = recipes.get(id)
      assert.ok(recipe, `no recipe for ${id}`)
      assert.equal(recipe.body.trim(), `@{{mcpauth}} ${id} "$@"`, `recipe ${id} does not run mcpauth ${id} with its arguments`)
    }
  })

  it("runs each command where just was called ([no-cd]), so the gateway directory's .env is read", async () => {
    const recipes = await commandRecipes()
    for (const id of await commandIds()) {
      assert.ok(recipes.get(id)?.attributes.includes('no-cd'), `recipe ${id} lacks [no-cd]`)
    }
    const text = await readFile(join(repoRoot, 'justfile'), 'utf8')
    assert.match(text, /^set positional-arguments$/m, 'without positional-arguments "$@" is empty')
  })
})
