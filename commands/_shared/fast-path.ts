import {existsSync, readFileSync, statSync} from 'node:fs'
import {arch, platform, release} from 'node:os'
import {join} from 'node:path'

/**
 * Answers that are known before oclif loads (loading it is most of a
 * command's start-up): `--version`, `--help` of any command when it goes to
 * a pipe or file (rendered at build time into dist/help.json by oclif
 * itself), and mcp-headers with a saved token that is still valid, the hot
 * path of every MCP client connection. Each prints exactly what oclif would;
 * anything it is not sure of (a terminal, colours, OCLIF_COLUMNS, debugging,
 * WSL, an unusual flag, a due token, an error) is left to oclif: false.
 */
export async function answerWithoutOclif(argv: readonly string[], root: string): Promise<boolean> {
  if (process.env.DEBUG || process.env.MCPAUTH_DEBUG) return false
  if (argv[0] === '--version') return printVersion(root)
  if (argv.length === 0 || argv.at(-1) === '--help') return printHelp(argv, root)
  if (argv[0] === 'mcp-headers') return printHeaders(argv.slice(1))
  return false
}

/** The argv (as bin/run.js hands it to oclif) a help text answers, as a key of dist/help.json. */
export function helpKey(argv: readonly string[]): string {
  return argv.join(' ')
}

function printVersion(root: string): boolean {
  const agent = userAgent(root)
  if (agent === undefined) return false
  print(`${agent}\n`)
  return true
}

/** oclif's user agent, name/version platform-arch node-version; undefined where oclif would say "wsl" (left to it). */
function userAgent(root: string): string | undefined {
  if (platform() === 'linux' && mightBeWsl()) return undefined
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {name: string; version?: string}
  const cpu = arch() === 'ia32' ? 'x86' : arch()
  return `${pjson.name}/${pjson.version || '0.0.0'} ${platform()}-${cpu} node-${process.version}`
}

function mightBeWsl(): boolean {
  if (release().toLowerCase().includes('microsoft')) return true
  if (existsSync('/proc/sys/fs/binfmt_misc/WSLInterop') || existsSync('/run/WSL')) return true
  try {
    return readFileSync('/proc/version', 'utf8').toLowerCase().includes('microsoft')
  } catch {
    return false
  }
}

/**
 * Help rendered at build time is oclif's for a pipe: 80 columns, no colour.
 * On a terminal, with FORCE_COLOR or OCLIF_COLUMNS, oclif renders it.
 */
function printHelp(argv: readonly string[], root: string): boolean {
  if (process.stdout.isTTY || process.env.FORCE_COLOR !== undefined || process.env.OCLIF_COLUMNS) return false
  let help: {user_agent: string; texts: Record<string, string>}
  try {
    help = JSON.parse(readFileSync(join(root, 'dist', 'help.json'), 'utf8'))
  } catch {
    return false
  }
  const key = helpKey(argv)
  if (!Object.hasOwn(help.texts, key)) return false
  // The root help quotes the user agent: the one running now, not the build's.
  let text = help.texts[key]
  if (text.includes(help.user_agent)) {
    const agent = userAgent(root)
    if (agent === undefined) return false
    text = text.replaceAll(help.user_agent, agent)
  }
  print(text)
  return true
}

/** Written as oclif writes: a reader that has gone (EPIPE, `| head`) is no error. */
function print(text: string): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
  })
  process.stdout.write(text)
}

/**
 * mcp-headers as Claude Code's headersHelper runs it (`mcp-headers --env-file
 * PATH`, maybe --buffer and --timeout): answered from src/mcp/headers.ts when
 * the saved token is valid beyond the buffer. Any other flag, a repeated
 * one or a value oclif might read differently goes to oclif.
 */
async function printHeaders(args: readonly string[]): Promise<boolean> {
  const values = new Map<string, string>()
  for (let index = 0; index < args.length; index++) {
    const match = /^--(env-file|buffer|timeout)(?:=(.*))?$/.exec(args[index])
    if (!match || values.has(match[1])) return false
    const value = match[2] ?? args[++index]
    if (value === undefined || value === '' || value.startsWith('-')) return false
    values.set(match[1], value)
  }
  // A .env that can be read once only (<(cat .env), a FIFO) is left to oclif whole: this path runs from its own
  // CommonJS copy of the modules, which would not share what it read with the command's.
  if (!isRegularFile(values.get('env-file') ?? '.env')) return false
  const {headersIfStillValid} = await import('../../src/mcp/headers.js')
  const line = await headersIfStillValid({envFile: values.get('env-file'), buffer: values.get('buffer'), timeout: values.get('timeout')})
  if (line === undefined) return false
  // A client that has gone away (EPIPE) ends this quietly, as it does the full command.
  process.stdout.on('error', () => {})
  process.stdout.write(line)
  return true
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}
