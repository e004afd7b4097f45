import {usageError} from '../../src/errors.js'

/**
 * A secret piped to the command (`--stdin`): secrets are never taken from
 * argv, where `ps` and shell history would keep them. Surrounding whitespace
 * and the final newline of `echo` are dropped.
 */
export async function readSecretFromStdin(what: string): Promise<string> {
  if (process.stdin.isTTY)
    throw usageError(`--stdin reads ${what} from a pipe, and stdin is a terminal.`, `Pipe it in, e.g. printenv MY_TOKEN | mcpauth ... --stdin`)
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  const value = Buffer.concat(chunks).toString('utf8').trim()
  if (value === '') throw usageError(`--stdin was given, but nothing was read from stdin.`)
  return value
}
