#!/usr/bin/env -S node --
import {execute} from '@oclif/core'

import {normalizeArgv} from '../dist/commands/_shared/argv.js'

await execute({dir: import.meta.url, args: normalizeArgv(process.argv.slice(2))})
