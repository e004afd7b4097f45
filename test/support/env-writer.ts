// A child process for the .env concurrency tests: sets one key to VALUE (from
// the environment, never argv) after PAD_LENGTH filler characters, REPEAT times.
// Prints "wrote N" after each update, so a test can strike while it is mid-work.
import {updateEnvFile} from '../../src/env/env-file.js'

const [path, key] = process.argv.slice(2)
const repeat = Number(process.env.REPEAT ?? '1')
for (let i = 0; i < repeat; i++) {
  const value = `${'x'.repeat(Number(process.env.PAD_LENGTH ?? '0'))}${process.env.VALUE ?? ''}${repeat > 1 ? i : ''}`
  await updateEnvFile(path, () => ({[key]: value}))
  process.stdout.write(`wrote ${i}\n`)
}
