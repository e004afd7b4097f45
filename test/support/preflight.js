// Runs before the suite: says in one line what the machine lacks, installs nothing.
import {spawnSync} from 'node:child_process'

const missing = ['redis-server', 'redis-cli'].filter((tool) => spawnSync(tool, ['--version'], {stdio: 'ignore'}).error)
if (missing.length > 0) {
  console.error(`${missing.join(' and ')} not on PATH: the tests start their own Redis. Install it with "apt-get install -y redis-server" (Debian/Ubuntu) or "brew install redis".`)
  process.exit(1)
}
