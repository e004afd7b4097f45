import {mkdir, mkdtemp, readFile, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {type CliResult, runCli} from './cli.js'

/**
 * A project directory with a `.env`, and a home directory of its own, so
 * that user-level client configs (Windsurf, Claude Desktop) land in a temp
 * dir and never in the real home of whoever runs the tests.
 */
export interface McpWorkspace {
  cwd: string
  home: string
  /** Runs mcpauth in `cwd` with HOME (and XDG_CONFIG_HOME) pointing at `home`. */
  run(args: string[], options?: {cwd?: string; env?: Record<string, string>}): Promise<CliResult>
  /** A file under `cwd` (or an absolute path), parsed. */
  readJson(path: string): Promise<any>
  readText(path: string): Promise<string>
  writeText(path: string, text: string, mode?: number): Promise<void>
  mode(path: string): Promise<number>
}

export async function mcpWorkspace(envLines: string[]): Promise<McpWorkspace> {
  const root = await mkdtemp(join(tmpdir(), 'mcpauth-mcpconfig-'))
  const cwd = join(root, 'project')
  const home = join(root, 'home')
  await mkdir(cwd)
  await mkdir(home)
  await writeFile(join(cwd, '.env'), envLines.length > 0 ? `${envLines.join('\n')}\n` : '', {mode: 0o600})
  const at = (path: string) => (path.startsWith('/') ? path : join(cwd, path))
  return {
    cwd,
    home,
    run: (args, options = {}) => runCli(args, {cwd: options.cwd ?? cwd, env: {HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...options.env}}),
    readJson: async (path) => JSON.parse(await readFile(at(path), 'utf8')),
    readText: (path) => readFile(at(path), 'utf8'),
    async writeText(path, text, mode = 0o644) {
      await mkdir(dirname(at(path)), {recursive: true})
      await writeFile(at(path), text, {mode})
    },
    mode: async (path) => (await stat(at(path))).mode & 0o777,
  }
}

/** An opaque access token that expires in `seconds`, as .env holds one. */
export function tokenLines(token: string, seconds = 7200): string[] {
  return [`MCP_CLIENT_ACCESS_TOKEN=${token}`, `MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${Math.floor(Date.now() / 1000) + seconds}`]
}
