import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {repoRoot} from './cli.js'

const run = promisify(execFile)
const binPath = join(repoRoot, 'bin', 'run.js')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let sessions = 0

/**
 * The built mcpauth in a real terminal: a tmux pane on a private tmux server
 * (`tmux -L`), so the command sees a TTY on stdin and stderr as an operator's
 * shell gives it. The test reads the screen as the operator would see it and
 * types keys, Ctrl-C included; the exit status is written to a file when the
 * command ends.
 */
export class TestTerminal {
  private readonly socket = `mcpauth-test-${process.pid}-${++sessions}`
  private dir?: string

  /** Starts `mcpauth ...args` in a fresh 100x30 pane, in `cwd`, with only PATH, HOME, TERM and `env` set. */
  async start(args: string[], options: {cwd: string; env?: Record<string, string>}): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'mcpauth-terminal-'))
    const settings = Object.entries({HOME: options.cwd, PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...options.env}).map(
      ([name, value]) => `${name}=${quote(value)}`,
    )
    const script = [
      // Ctrl-C reaches the whole foreground group: the shell must outlive it to record the status (a trap is reset for the command).
      "trap 'true' INT",
      `cd ${quote(options.cwd)}`,
      `env -i TERM="$TERM" ${settings.join(' ')} ${quote(process.execPath)} -- ${quote(binPath)} ${args.map(quote).join(' ')}`,
      `echo $? > ${quote(this.exitFile)}`,
      // Keeps the pane, and what the command printed last, until the test has read it.
      'sleep 600',
    ].join('\n')
    await writeFile(join(this.dir, 'run.sh'), `${script}\n`)
    await this.tmux('new-session', '-d', '-x', '100', '-y', '30', '-s', 'test', `sh ${quote(join(this.dir, 'run.sh'))}`)
  }

  /** The pane's text as displayed: escape sequences interpreted, wrapped lines joined. */
  async screen(): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-J', '-t', 'test')).stdout
  }

  /** Waits until the screen matches, failing with the screen's text after `timeoutMs`. */
  async waitForScreen(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const text = await this.screen()
      if (pattern.test(text)) return text
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}; it shows:\n${text}`)
      await sleep(100)
    }
  }

  /** Keys as tmux names them: 'C-c', 'Enter', or literal text. */
  async sendKeys(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', 'test', ...keys)
  }

  /** The command's exit status, once it has ended. */
  async exitCode(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const text = await readFile(this.exitFile, 'utf8').catch(() => '')
      if (text.trim() !== '') return Number(text)
      if (Date.now() > deadline) throw new Error(`the command did not end; the terminal shows:\n${await this.screen()}`)
      await sleep(100)
    }
  }

  /** Ends the tmux server and removes its socket, which tmux leaves behind. */
  async close(): Promise<void> {
    const socketPath = (await this.tmux('display-message', '-p', '#{socket_path}').catch(() => ({stdout: ''}))).stdout.trim()
    await this.tmux('kill-server').catch(() => {})
    if (socketPath) await rm(socketPath, {force: true})
  }

  private get exitFile(): string {
    return join(this.dir!, 'exit-status')
  }

  private tmux(...args: string[]): Promise<{stdout: string}> {
    return run('tmux', ['-L', this.socket, '-f', '/dev/null', ...args])
  }
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}
