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

/** File-system faults of the machine, not of mcpauth: each is one line and exit 4, never an "Unexpected error". */
const FILE_SYSTEM_CODES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'the file would be larger than the file system allows',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'the operation is not permitted',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  ELOOP: 'it is a symbolic link where none is allowed, or a loop of links',
  ENOENT: 'no such file or directory',
  EIO: 'the device reported an input/output error',
  EMFILE: 'this process has too many open files',
  ENFILE: 'the system has too many open files',
  ENAMETOOLONG: 'the name is too long',
  EXDEV: 'it is on another file system',
  EBUSY: 'the file is busy',
  EEXIST: 'something else is already there',
}

export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  const {code, syscall} = (error ?? {}) as NodeJS.ErrnoException
  return typeof code === 'string' && code in FILE_SYSTEM_CODES && typeof syscall === 'string'
}

/**
 * One line for a failed file operation: what could not be done, where, and why
 * in words with the code (`Cannot write /x/.env: the disk is full (ENOSPC).`).
 * An error that is not a file-system fault is returned as it is.
 */
export function fileSystemError(error: unknown, path?: string, action?: string): Error {
  if (error instanceof McpAuthError || !isFileSystemError(error)) return error as Error
  const code = error.code!
  const where = path ?? error.path ?? 'a file'
  return new McpAuthError(`Cannot ${action ?? SYSCALL_ACTIONS[error.syscall!] ?? 'use'} ${where}: ${FILE_SYSTEM_CODES[code]} (${code}).`, {
    code: 'file_system',
    exitCode: ExitCode.unreachable,
    hint: FILE_SYSTEM_HINTS[code],
    cause: error,
  })
}

const SYSCALL_ACTIONS: Record<string, string> = {
  open: 'open',
  read: 'read',
  write: 'write',
  fsync: 'write',
  rename: 'write',
  link: 'write',
  copyfile: 'write',
  mkdir: 'create the directory',
  scandir: 'read the directory',
  unlink: 'remove',
  rmdir: 'remove',
  chmod: 'change the mode of',
  chown: 'change the owner of',
}

const FILE_SYSTEM_HINTS: Record<string, string> = {
  ENOSPC: 'Free some space there, or choose another place; nothing was half-written.',
  EDQUOT: 'Free some space within your quota, or choose another place; nothing was half-written.',
  EFBIG: 'Choose a file system that allows larger files.',
  EROFS: 'Choose a writable place, or remount the file system read-write.',
  EACCES: 'Check the owner and mode of the file and its directory.',
  EPERM: 'Check the owner, mode and attributes (chattr +i?) of the file and its directory.',
}
