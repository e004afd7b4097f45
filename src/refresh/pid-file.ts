import {closeSync, constants, openSync, readFileSync, rmSync} from 'node:fs'
import {open, readFile, rm} from 'node:fs/promises'
import {dirname} from 'node:path'

import {writeFileAtomic} from '../env/atomic-file.js'
import {ExitCode, McpAuthError} from '../errors.js'
import {withFileLock} from '../env/file-lock.js'
import {companionPath, inRealDirectory, makePrivateDirectory} from '../env/safe-paths.js'

/** Read without following a link: a link planted at the PID file's name is not a PID file, and is replaced. */
const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW

/** The daemon's PID file by default: beside the real .env, so one daemon runs per .env however it is spelled. */
export function defaultPidFilePath(envFilePath: string): string {
  return companionPath(envFilePath, '.refresh.pid')
}

/** What a running daemon holds: call release() on the way out. */
export interface HeldPidFile {
  path: string
  /** The PID of a dead process whose file this one took over, else null. */
  tookOverFrom: number | null
  release(): Promise<void>
  /** For a forced exit, where nothing asynchronous runs any more: no lock, same check. */
  releaseNow(): void
}

/**
 * Claims `path` for this process, refusing when a live process holds it. A
 * file left by a process that died (or whose PID now belongs to an unrelated
 * program) is taken over. The check and the write happen under the file lock,
 * so two daemons starting together cannot both win. The file is mcpauth's
 * own: a symbolic link at its name is never followed (it is replaced), so a
 * planted `.env.refresh.pid -> victim` leaves the victim as it was.
 */
export async function claimPidFile(pidFilePath: string, commandMarker: string): Promise<HeldPidFile> {
  const path = inRealDirectory(pidFilePath)
  const ownPid = process.pid
  makePrivateDirectory(dirname(path))
  const tookOverFrom = await withFileLock(
    path,
    async () => {
      const holder = await readPid(path)
      if (holder !== null && holder !== ownPid && (await isRunning(holder, commandMarker))) {
        throw new McpAuthError(`Another refresh daemon (PID ${holder}) is already running for this .env: ${path} is held.`, {
          code: 'already_running',
          exitCode: ExitCode.unreachable,
          hint: `Stop it first (kill ${holder}), or give this one its own .env.`,
        })
      }
      await writeFileAtomic(path, `${ownPid}\n`, {mode: 0o644, followLink: false})
      return holder === ownPid ? null : holder
    },
    {followLink: false},
  )
  return {
    path,
    tookOverFrom,
    release: () =>
      withFileLock(
        path,
        async () => {
          if ((await readPid(path)) === ownPid) await rm(path, {force: true})
        },
        {followLink: false},
      ),
    releaseNow() {
      try {
        const fd = openSync(path, READ_NO_FOLLOW)
        let text: string
        try {
          text = readFileSync(fd, 'utf8')
        } finally {
          closeSync(fd)
        }
        if (Number(text.trim()) === ownPid) rmSync(path, {force: true})
      } catch {
        // Gone already, or unreadable: nothing of ours to remove.
      }
    },
  }
}

async function readPid(path: string): Promise<number | null> {
  let text: string
  try {
    const handle = await open(path, READ_NO_FOLLOW)
    try {
      text = await handle.readFile('utf8')
    } finally {
      await handle.close()
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ELOOP') return null
    throw error
  }
  const pid = Number(text.trim())
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null
}

/**
 * Whether `pid` is alive and still one of ours. Where /proc exists, a PID
 * reused by another program (after a reboot, say) does not count.
 */
async function isRunning(pid: number, commandMarker: string): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8')
    return commandLine.includes(commandMarker)
  } catch {
    return true
  }
}
