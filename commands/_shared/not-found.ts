import type {Hook} from '@oclif/core'

import {closestName} from './closest.js'

/**
 * An unknown command: one line naming the nearest command on stderr and exit
 * 127, on a terminal or not (a script's log is where a typo is found). No
 * prompt: a guess is never run for the operator.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const ids = options.config.commands.filter((command) => !command.hidden).map((command) => command.id)
  const typed = options.id.split(':')[0]
  const nearest = closestName(typed, ids)
  const bin = options.config.bin
  const suggestion = nearest ? ` Did you mean ${bin} ${nearest}?` : ''
  process.stderr.write(`Error: "${typed}" is not a ${bin} command.${suggestion}\nHint: ${bin} --help lists the commands.\n`)
  this.exit(127)
}

export default hook
