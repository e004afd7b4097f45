import type {CascadeSummary} from '../../src/store/admin.js'

/** `3 access tokens, 1 refresh token, 0 codes, ...` for the cascade commands. */
export function describeCascade(summary: CascadeSummary): string {
  const parts = [
    plural(summary.access_tokens, 'access token'),
    plural(summary.refresh_tokens, 'refresh token'),
    plural(summary.codes, 'code'),
    plural(summary.states, 'state'),
    plural(summary.index_entries, 'index entry', 'index entries'),
  ]
  const malformed = summary.malformed_skipped > 0 ? `; ${plural(summary.malformed_skipped, 'malformed record')} left alone` : ''
  return `${summary.dry_run ? 'would remove' : 'removed'} ${parts.join(', ')}${malformed}`
}

export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`
}
