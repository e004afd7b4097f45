import {chmodSync, lstatSync, mkdirSync, readlinkSync, realpathSync, statSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'

import {ExitCode, McpAuthError, fileSystemError} from '../errors.js'

/** As the kernel's own limit on a chain of links (ELOOP). */
const MAX_LINK_HOPS = 40
export const PRIVATE_DIRECTORY_MODE = 0o700

/**
 * The file a path names, links followed: every symbolic link on the way,
 * the last one too (even when its target does not exist yet), so two spellings
 * of one file (`.env -> real/gw.env` and `real/gw.env`) give the same answer.
 * Locks, PID files and "one daemon per .env" are keyed on this.
 */
export function realFilePath(path: string): string {
  let current = resolve(path)
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    let target: string
    try {
      target = readlinkSync(current)
    } catch {
      break // not a link (EINVAL), or not there (ENOENT): the chain ends here
    }
    current = resolve(dirname(current), target)
  }
  return inRealDirectory(current)
}

/** The path with its directory's links resolved and its own name kept as it is: for files mcpauth creates, never followed. */
export function inRealDirectory(path: string): string {
  const absolute = resolve(path)
  try {
    return join(realpathSync(dirname(absolute)), basename(absolute))
  } catch {
    return absolute
  }
}

/** A file beside `path`'s real file: `companionPath('.env', '.refresh.pid')` is the PID file of the real `.env`. */
export function companionPath(path: string, suffix: string): string {
  return `${realFilePath(path)}${suffix}`
}

/**
 * The file a write through `path` lands in, following only links that are
 * trusted: owned by this user, or by the owner of the directory holding the
 * link (the rule of the kernel's protected_symlinks). A link someone else
 * planted (in /tmp, a shared or group-writable directory) is refused, so a
 * write meant for a config file never lands in another file of the victim's.
 */
export function trustedWriteTarget(path: string): string {
  let current = resolve(path)
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    let link: ReturnType<typeof lstatSync>
    try {
      link = lstatSync(current)
    } catch {
      break
    }
    if (!link.isSymbolicLink()) break
    assertTrustedLink(path, current, link.uid)
    current = resolve(dirname(current), readlinkSync(current))
  }
  return inRealDirectory(current)
}

function assertTrustedLink(named: string, link: string, linkOwner: number): void {
  const me = process.geteuid?.()
  if (me === undefined || linkOwner === me) return
  let directoryOwner: number | undefined
  try {
    directoryOwner = statSync(dirname(link)).uid
  } catch {
    directoryOwner = undefined
  }
  if (linkOwner === directoryOwner) return
  throw new McpAuthError(`Refusing to write ${named}: ${link} is a symbolic link owned by another user (uid ${linkOwner}).`, {
    code: 'untrusted_link',
    exitCode: ExitCode.unreachable,
    hint: 'Someone else may have planted it to redirect the write. Remove the link, or name the real file.',
  })
}

/**
 * Creates `directory` (and any missing parents) with mode 0700 whatever the
 * umask: each directory this call creates is chmod-ed after mkdir, which
 * the umask cannot narrow or widen. Directories that already exist are left
 * as they are.
 */
export function makePrivateDirectory(directory: string): void {
  const target = resolve(directory)
  let first: string | undefined
  try {
    first = mkdirSync(target, {recursive: true, mode: PRIVATE_DIRECTORY_MODE})
  } catch (error) {
    throw fileSystemError(error, target, 'create the directory')
  }
  if (first === undefined) return
  // mkdir returns the first directory it made; every one from there down to the target is new.
  for (let created = target; ; created = dirname(created)) {
    chmodSync(created, PRIVATE_DIRECTORY_MODE)
    if (created === first || dirname(created) === created) break
  }
}
