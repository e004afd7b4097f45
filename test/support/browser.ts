/**
 * A browser without a browser: follows an authorization URL through
 * oidc-provider's development login and consent pages with fetch, keeping
 * cookies and following redirects by hand, and returns the URL the server
 * finally redirects to (the loopback /callback), without requesting it.
 */
export async function signInThroughPages(authorizationUrl: string, options: {login?: string; stopAt: string}): Promise<string> {
  const cookies = new Map<string, string>()
  let url = authorizationUrl
  let method: 'GET' | 'POST' = 'GET'
  let body: URLSearchParams | undefined
  for (let step = 0; step < 20; step++) {
    if (url.startsWith(options.stopAt)) return url
    const response = await fetch(url, {
      method,
      body,
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(body ? {'content-type': 'application/x-www-form-urlencoded'} : {}),
      },
    })
    for (const setCookie of response.headers.getSetCookie()) {
      const [pair] = setCookie.split(';')
      const at = pair.indexOf('=')
      cookies.set(pair.slice(0, at), pair.slice(at + 1))
    }
    const location = response.headers.get('location')
    if (location) {
      url = new URL(location, url).href
      method = 'GET'
      body = undefined
      continue
    }
    const page = await response.text()
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${page.slice(0, 300)}`)
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1]
    const prompt = /name="prompt" value="([^"]+)"/.exec(page)?.[1]
    if (!action || !prompt) throw new Error(`no login or consent form at ${url}: ${page.slice(0, 300)}`)
    url = new URL(action.replace(/&amp;/g, '&'), url).href
    method = 'POST'
    body = new URLSearchParams(prompt === 'login' ? {prompt, login: options.login ?? 'alice', password: 'any'} : {prompt})
  }
  throw new Error('too many steps through the sign-in pages')
}
