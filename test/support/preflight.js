// Runs before the suite: says in one line what the machine lacks, installs nothing.
import {spawnSync} from 'node:child_process'

const versionFlags = {'redis-server': '--version', 'redis-cli': '--version', tmux: '-V'}
const missing = Object.keys(versionFlags).filter((tool) => spawnSync(tool, [versionFlags[tool]], {stdio: 'ignore'}).error)
if (missing.length > 0) {
  const packages = [...new Set(missing.map((tool) => (tool === 'tmux' ? 'tmux' : 'redis-server')))].join(' ')
  console.error(
    `${missing.join(', ')} not on PATH: the tests start their own Redis, and drive a real terminal with tmux. Install with "apt-get install -y ${packages}" (Debian/Ubuntu) or "brew install ${packages.replace('redis-server', 'redis')}".`,
  )
  process.exit(1)
}
