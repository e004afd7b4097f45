import type {BackupCounts, KindName} from '../../src/backup/format.js'
import {plural} from './summaries.js'

const KIND_LABELS: ReadonlyArray<[KindName, string, string]> = [
  ['client', 'client', 'clients'],
  ['token', 'access token', 'access tokens'],
  ['refresh', 'refresh token', 'refresh tokens'],
  ['code', 'code', 'codes'],
  ['state', 'state', 'states'],
  ['user_tokens', 'user index set', 'user index sets'],
  ['other', 'other key', 'other keys'],
]

/** `12 records (3 clients, 5 access tokens, 4 user index sets)`: kinds with none are left out. */
export function describeKinds(counts: BackupCounts): string {
  const parts = KIND_LABELS.filter(([kind]) => counts.kinds[kind] > 0).map(([kind, one, many]) => plural(counts.kinds[kind], one, many))
  return `${plural(counts.records, 'record')}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`
}

/** `812 B`, `14.2 KiB`, `3.1 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}
