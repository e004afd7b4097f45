import {readFileSync, rmSync} from 'node:fs'
import {readFile, rm} from 'node:fs/promises'
import {resolve} from 'node:path'

import {writeFileAtomic} from '../env/atomic-file.js'
import {ExitCode, McpAuthError} from '../errors.js'
import {withFileLock} from '../env/file-lock.js'

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
 * so two daemons starting together cannot both win.
 */
export async function claimPidFile(pidFilePath: string, commandMarker: string): Promise<HeldPidFile> {
  const path = resolve(pidFilePath)
  const ownPid = process.pid
  const tookOverFrom = await withFileLock(path, async () => {
    const holder = await readPid(path)
    if (holder !== null && holder !== ownPid && (await isRunning(holder, commandMarker))) {
      throw new McpAuthError(`Another refresh daemon (PID ${holder}) is already running for this .env: ${path} is held.`, {
        code: 'already_running',
        exitCode: ExitCode.unreachable,
        hint: `Stop it first (kill ${holder}), or give this one its own .env.`,
      })
    }
    await writeFileAtomic(path, `${ownPid}\n`, {mode: 0o644})
    return holder === ownPid ? null : holder
  })
  return {
    path,
    tookOverFrom,
    release: () =>
      withFileLock(path, async () => {
        if ((await readPid(path)) === ownPid) await rm(path, {force: true})
      }),
    releaseNow() {
      try {
        if (Number(readFileSync(path, 'utf8').trim()) === ownPid) rmSync(path, {force: true})
      } catch {
        // Gone already, or unreadable: nothing of ours to remove.
      }
    },
  }
}

async function readPid(path: string): Promise<number | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
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
