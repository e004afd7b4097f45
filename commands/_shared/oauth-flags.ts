import {Flags} from '@oclif/core'

import {parseDuration} from '../../src/time.js'
import type {OAuthHttpOptions} from '../../src/oauth/http.js'

/** Flags of every command that talks to an OAuth server. */
export const oauthHttpFlags = {
  timeout: Flags.string({
    summary: 'Give up on an OAuth server that has not answered a request within this time: 10s, 1m.',
    default: '10s',
    helpValue: 'DURATION',
    helpGroup: 'OAUTH',
  }),
}

/** Flags of the commands that sign in. */
export const loginFlags = {
  ...oauthHttpFlags,
  device: Flags.boolean({summary: 'Use the device flow: a code to enter on any device, nothing to open here.', helpGroup: 'OAUTH'}),
  'no-browser': Flags.boolean({summary: 'Do not open a browser: print the URL and read the redirected URL (or the code) from stdin.', helpGroup: 'OAUTH'}),
  'login-timeout': Flags.string({summary: 'How long to wait for the sign-in to be completed.', default: '10m', helpValue: 'DURATION', helpGroup: 'OAUTH'}),
  scope: Flags.string({summary: 'Scopes to ask for (default: openid profile email offline_access, as far as the server offers them).', helpGroup: 'OAUTH'}),
  force: Flags.boolean({summary: 'Sign in again even when the saved token is still valid.'}),
}

export function httpOptions(flags: {timeout: string}): OAuthHttpOptions {
  return {timeoutMs: Math.max(1, parseDuration(flags.timeout, '--timeout')) * 1000}
}
