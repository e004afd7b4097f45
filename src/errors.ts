/** Exit codes every command keeps (README, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  invalidTokens: 3,
  unreachable: 4,
  cancelled: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * An expected failure: a message for the operator, an optional hint on how to
 * fix it, and the exit code. Rendered once, by the base command, without a stack.
 */
export class McpAuthError extends Error {
  readonly exitCode: ExitCodeValue
  readonly hint?: string
  readonly code: string

  constructor(message: string, options: {code: string; exitCode: ExitCodeValue; hint?: string; cause?: unknown}) {
    super(message, {cause: options.cause})
    this.name = 'McpAuthError'
    this.code = options.code
    this.exitCode = options.exitCode
    this.hint = options.hint
  }
}

export function usageError(message: string, hint?: string): McpAuthError {
  return new McpAuthError(message, {code: 'usage', exitCode: ExitCode.usage, hint})
}

export function unreachableError(message: string, hint?: string, cause?: unknown): McpAuthError {
  return new McpAuthError(message, {code: 'unreachable', exitCode: ExitCode.unreachable, hint, cause})
}

export function cancelledError(message = 'Cancelled: nothing was changed.'): McpAuthError {
  return new McpAuthError(message, {code: 'cancelled', exitCode: ExitCode.cancelled})
}
