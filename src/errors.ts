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

/** What a system error code on a connection means, in words (with the code, for searching). */
export function describeNetworkCode(code: string): string {
  const words = NETWORK_CODES[code]
  return words ? `${words} (${code})` : code
}

const NETWORK_CODES: Record<string, string> = {
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved right now',
  ECONNREFUSED: 'nothing accepts connections at that address',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  EPIPE: 'the connection closed',
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's TLS certificate is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate cannot be verified",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another host name",
}
