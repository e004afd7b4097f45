/**
 * The command line as people type it (anchor: gh), turned into what oclif
 * expects: global flags may come before the command (`mcpauth --env-file X
 * oauth-stats`), `-h` is `--help`, `-v` and `mcpauth version` print the
 * version. Nothing after `--` is touched: ids may start with "-".
 */
export function normalizeArgv(argv: readonly string[]): string[] {
  if (argv.length === 1 && (argv[0] === '-v' || argv[0] === 'version')) return ['--version']
  const end = argv.indexOf('--')
  const flagsPart = (end === -1 ? argv : argv.slice(0, end)).map((arg) => (arg === '-h' ? '--help' : arg))
  const rest = end === -1 ? [] : argv.slice(end)
  const leading: string[] = []
  let index = 0
  while (index < flagsPart.length) {
    const arg = flagsPart[index]
    if (GLOBAL_FLAGS_WITH_VALUE.has(arg) && index + 1 < flagsPart.length) {
      leading.push(arg, flagsPart[index + 1])
      index += 2
    } else if (GLOBAL_BOOLEAN_FLAGS.has(arg) || [...GLOBAL_FLAGS_WITH_VALUE].some((flag) => arg.startsWith(`${flag}=`))) {
      leading.push(arg)
      index++
    } else break
  }
  const command = flagsPart[index]
  if (leading.length === 0 || command === undefined || command.startsWith('-')) return [...flagsPart, ...rest]
  return [command, ...leading, ...flagsPart.slice(index + 1), ...rest]
}

/** Flags every command has (base command), which may therefore come first. */
const GLOBAL_FLAGS_WITH_VALUE = new Set(['--env-file'])
const GLOBAL_BOOLEAN_FLAGS = new Set(['--json'])
