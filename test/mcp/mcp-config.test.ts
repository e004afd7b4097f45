import {strict as assert} from 'node:assert'
import {access, chown, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {loadSettings} from '../../src/env/settings.js'
import {updateEnvFile} from '../../src/env/env-file.js'
import {rewriteRecordedConfigs} from '../../src/mcp/config.js'
import {parseJson} from '../support/cli.js'
import {mcpWorkspace, tokenLines} from '../support/mcp-workspace.js'

const TOKEN = 'mcp-client-token-0123456789abcdefghijklmnop'
const FETCH = 'https://mcp-fetch.example.com/mcp'
const DOCS = 'https://docs.example.com/mcp'
const SERVERS = ['--server', `fetch=${FETCH}`, '--server', `docs=${DOCS} noauth`]
const BEARER = `Bearer ${TOKEN}`

const exists = async (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  )

function assertOneErrorLine(stderr: string, pattern: RegExp): void {
  const errors = stderr.split('\n').filter((line) => line.startsWith('Error: '))
  assert.equal(errors.length, 1, stderr)
  assert.match(errors[0], pattern)
  assert.doesNotMatch(stderr, /\n\s+at /)
}

describe('mcp-config', function () {
  this.timeout(60_000)

  it('writes each client its documented shape, the token only in headers (or the bridge env), mode 0600', async () => {
    const ws = await mcpWorkspace(tokenLines(TOKEN))
    const result = await ws.run([
      'mcp-config',
      '--client',
      'claude-code,vscode,cursor',
      '--client',
      'windsurf',
      '--client',
      'roo',
      '--client',
      'claude-desktop',
      ...SERVERS,
      '--json',
    ])
    assert.equal(result.code, 0, result.stderr)
    assert.ok(!result.stdout.includes(TOKEN) && !result.stderr.includes(TOKEN), 'the token was printed')

    const paths = {
      'claude-code': join(ws.cwd, '.mcp.json'),
      vscode: join(ws.cwd, '.vscode', 'mcp.json'),
      cursor: join(ws.cwd, '.cursor', 'mcp.json'),
      windsurf: join(ws.home, '.codeium', 'windsurf', 'mcp_config.json'),
      roo: join(ws.cwd, '.roo', 'mcp.json'),
      'claude-desktop': join(ws.home, '.config', 'Claude', 'claude_desktop_config.json'),
    }
    assert.deepEqual(parseJson(result), {
      registry: null,
      files: Object.entries(paths).map(([client, path]) => ({client, path, servers: ['fetch', 'docs'], token: 'literal', status: 'created'})),
    })
    assert.deepEqual(await ws.readJson(paths['claude-code']), {
      mcpServers: {fetch: {type: 'http', url: FETCH, headers: {Authorization: BEARER}}, docs: {type: 'http', url: DOCS}},
    })
    assert.deepEqual(await ws.readJson(paths.vscode), {
      servers: {fetch: {type: 'http', url: FETCH, headers: {Authorization: BEARER}}, docs: {type: 'http', url: DOCS}},
    })
    assert.deepEqual(await ws.readJson(paths.cursor), {mcpServers: {fetch: {url: FETCH, headers: {Authorization: BEARER}}, docs: {url: DOCS}}})
    assert.deepEqual(await ws.readJson(paths.windsurf), {mcpServers: {fetch: {serverUrl: FETCH, headers: {Authorization: BEARER}}, docs: {serverUrl: DOCS}}})
    assert.deepEqual(await ws.readJson(paths.roo), {
      mcpServers: {
        fetch: {type: 'streamable-http', url: FETCH, headers: {Authorization: BEARER}, alwaysAllow: [], disabled: false},
        docs: {type: 'streamable-http', url: DOCS, alwaysAllow: [], disabled: false},
      },
    })
    const desktop = await ws.readJson(paths['claude-desktop'])
    assert.deepEqual(desktop, {
      mcpServers: {
        fetch: {command: 'npx', args: ['-y', 'mcp-remote@0.15.1', FETCH, '--header', 'Authorization:${AUTH_HEADER}'], env: {AUTH_HEADER: BEARER}},
        docs: {command: 'npx', args: ['-y', 'mcp-remote@0.15.1', DOCS]},
      },
    })
    assert.ok(!JSON.stringify(desktop.mcpServers.fetch.args).includes(TOKEN), 'the token is in the bridge arguments')
    for (const path of Object.values(paths)) assert.equal((await ws.mode(path)).toString(8), '600', path)
  })

  it('merges into an existing file: foreign servers, other keys, key order and indentation stay; only its entries change', async () => {
    const ws = await mcpWorkspace(tokenLines(TOKEN))
    const existing = {
      $schema: 'https://example.com/schema.json',
      mcpServers: {
        mine: {url: 'https://mine.example.com/mcp', headers: {'X-Api-Key': 'my-own-key'}},
        fetch: {url: 'https://old.example.com/mcp', note: 'stale'},
        last: {command: 'node', args: ['server.js']},
      },
      otherSetting: {keep: true},
    }
    await ws.writeText('.cursor/mcp.json', `${JSON.stringify(existing, null, 4)}\n`, 0o644)
    const result = await ws.run(['mcp-config', '--client', 'cursor', ...SERVERS])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /^Updated Cursor config .*\.cursor\/mcp\.json: fetch, docs \(the token itself, mode 0600\)\.$/m)
    assert.match(result.stderr, /^Warning: .*\.cursor\/mcp\.json holds the token: keep it out of version control/m)
    const text = await ws.readText('.cursor/mcp.json')
    assert.match(text, /^ {4}"mcpServers": \{$/m, 'the four-space indentation is kept')
    const merged = JSON.parse(text)
    assert.deepEqual(Object.keys(merged), ['$schema', 'mcpServers', 'otherSetting'])
    assert.deepEqual(Object.keys(merged.mcpServers), ['mine', 'fetch', 'last', 'docs'])
    assert.deepEqual(merged.mcpServers.mine, existing.mcpServers.mine)
    assert.deepEqual(merged.mcpServers.last, existing.mcpServers.last)
    assert.deepEqual(merged.mcpServers.fetch, {url: FETCH, headers: {Authorization: BEARER}})
    assert.deepEqual(merged.otherSetting, {keep: true})
    assert.equal((await ws.mode('.cursor/mcp.json')).toString(8), '600')

    const again = await ws.run(['mcp-config', '--client', 'cursor', ...SERVERS, '--json'])
    assert.equal(parseJson(again).files[0].status, 'unchanged')
    assert.equal(await ws.readText('.cursor/mcp.json'), text)
  })

  it('keeps a BOM, CRLF line endings and tab indentation', async () => {
    const ws = await mcpWorkspace(tokenLines(TOKEN))
    await ws.writeText('.mcp.json', '\uFEFF{\r\n\t"mcpServers": {}\r\n}\r\n')
    assert.equal((await ws.run(['mcp-config', '--client', 'claude-code', ...SERVERS])).code, 0)
    const text = await ws.readText('.mcp.json')
    assert.ok(text.startsWith('\uFEFF{\r\n\t"mcpServers": {\r\n\t\t"fetch": {'), JSON.stringify(text.slice(0, 40)))
    assert.doesNotMatch(text, /[^\r]\n/)
  })

  it('keeps the tools a Roo Code user always allows and a server they disabled', async () => {
    const ws = await mcpWorkspace(tokenLines(TOKEN))
    await ws.writeText(
      '.roo/mcp.json',
      JSON.stringify({mcpServers: {fetch: {type: 'streamable-http', url: 'https://old.example.com/mcp', alwaysAllow: ['search'], disabled: true}}}),
    )
    assert.equal((await ws.run(['mcp-config', '--client', 'roo', ...SERVERS])).code, 0)
    const {mcpServers} = await ws.readJson('.roo/mcp.json')
    assert.deepEqual(mcpServers.fetch, {type: 'streamable-http', url: FETCH, headers: {Authorization: BEARER}, alwaysAllow: ['search'], disabled: true})
  })

  it("--env-ref writes each client's own variable syntax and no token, and needs none in .env", async () => {
    const ws = await mcpWorkspace([])
    const result = await ws.run(['mcp-config', '--client', 'claude-code,vscode,cursor,windsurf,roo', '--env-ref', ...SERVERS, '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(
      parseJson(result).files.map((file: any) => file.token),
      ['env-ref', 'env-ref', 'env-ref', 'env-ref', 'env-ref'],
    )
    const header = async (path: string, key = 'mcpServers') => (await ws.readJson(path))[key].fetch.headers.Authorization
    assert.equal(await header('.mcp.json'), 'Bearer ${MCP_CLIENT_ACCESS_TOKEN}')
    assert.equal(await header('.vscode/mcp.json', 'servers'), 'Bearer ${env:MCP_CLIENT_ACCESS_TOKEN}')
    assert.equal(await header('.cursor/mcp.json'), 'Bearer ${env:MCP_CLIENT_ACCESS_TOKEN}')
    assert.equal(await header(join(ws.home, '.codeium/windsurf/mcp_config.json')), 'Bearer ${env:MCP_CLIENT_ACCESS_TOKEN}')
    assert.equal(await header('.roo/mcp.json'), 'Bearer ${env:MCP_CLIENT_ACCESS_TOKEN}')
    assert.equal((await ws.readJson('.mcp.json')).mcpServers.docs.headers, undefined)

    const desktop = await ws.run(['mcp-config', '--client', 'claude-desktop', '--env-ref', ...SERVERS])
    assert.equal(desktop.code, 2)
    assertOneErrorLine(desktop.stderr, /Claude Desktop expands no variables/)
  })

  it('--helper writes a headersHelper naming absolute paths and the .env, and no token', async () => {
    const ws = await mcpWorkspace(tokenLines(TOKEN))
    const result = await ws.run(['mcp-config', '--client', 'claude-code', '--helper', ...SERVERS, '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson(result).files[0].token, 'helper')
    const {mcpServers} = await ws.readJson('.mcp.json')
    assert.deepEqual(Object.keys(mcpServers.fetch), ['type', 'url', 'headersHelper'])
    assert.match(mcpServers.fetch.headersHelper, /^\/\S*node -- \/\S+\/bin\/run\.js mcp-headers --env-file \/\S+\/project\/\.env$/)
    assert.deepEqual(mcpServers.docs, {type: 'http', url: DOCS})
    assert.ok(!(await ws.readText('.mcp.json')).includes(TOKEN))
    const cursor = await ws.run(['mcp-config', '--client', 'cursor', '--helper', ...SERVERS])
    assert.equal(cursor.code, 2)
    assertOneErrorLine(cursor.stderr, /--helper writes Claude Code's headersHelper; Cursor has no such setting/)
  })

  it('refuses an existing file that is not JSON, or JSONC with comments, and leaves every file as it was', async () => {
    const ws = await mcpWorkspace(tokenLines(TOKEN))
    const broken = '{"mcpServers": {"mine": {"url": "https://x", "headers": {"X-Key": "my-secret-value"}},\n'
    const jsonc = '{\n  // my servers\n  "servers": {"mine": {"type": "http", "url": "https://x"},},\n}\n'
    await ws.writeText('.cursor/mcp.json', broken)
    await ws.writeText('.vscode/mcp.json', jsonc)
    const notJson = await ws.run(['mcp-config', '--client', 'claude-code,cursor', ...SERVERS])
    assert.equal(notJson.code, 2)
    assertOneErrorLine(notJson.stderr, /\.cursor\/mcp\.json is not valid JSON at line 2, column 1; mcpauth leaves it alone\./)
    assert.ok(!notJson.stderr.includes('my-secret-value'), "the file's content was shown")
    assert.equal(await ws.readText('.cursor/mcp.json'), broken)
    assert.equal(await exists(join(ws.cwd, '.mcp.json')), false, "another client's file was written before the refusal")
    assert.equal(await exists(join(ws.cwd, '.env.mcp-clients.json')), false)

    const commented = await ws.run(['mcp-config', '--client', 'vscode', ...SERVERS, '--json'])
    assert.equal(commented.code, 2)
    assert.match(parseJson(commented).error.message, /has comments or trailing commas \(JSONC\); rewriting it would drop them/)
    assert.equal(await ws.readText('.vscode/mcp.json'), jsonc)

    await ws.writeText('.roo/mcp.json', '{"mcpServers": ["not", "an", "object"]}')
    const wrongShape = await ws.run(['mcp-config', '--client', 'roo', ...SERVERS])
    assert.equal(wrongShape.code, 2)
    assertOneErrorLine(wrongShape.stderr, /"mcpServers" in .*\.roo\/mcp\.json is not an object/)
  })

  describe('rejects bad input with exit 2 and one line, writing nothing', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['a server without =', ['--client', 'cursor', '--server', 'fetch'], /--server: "fetch" is not NAME=URL/],
      ['a name that is not one', ['--client', 'cursor', '--server', '1fetch=https://x.example.com/mcp'], /server name "1fetch" must start with a letter/],
      ['a URL that is not one', ['--client', 'cursor', '--server', 'fetch=https://'], /the URL of fetch is not a valid URL: "https:\/\/"/],
      ['words after the URL', ['--client', 'cursor', '--server', 'fetch=https://x.example.com/mcp please'], /is not NAME=URL \(or NAME=URL noauth\)/],
      ['a scheme other than http(s)', ['--client', 'cursor', '--server', 'fetch=ftp://x.example.com/mcp'], /must be http or https, not ftp:/],
      [
        'a token over plain http off loopback',
        ['--client', 'cursor', '--server', 'fetch=http://mcp.example.com/mcp'],
        /must use https \(plain http is only allowed on loopback\)/,
      ],
      ['credentials in the URL', ['--client', 'cursor', '--server', 'fetch=https://user:pw@x.example.com/mcp'], /holds a user or password/],
      [
        'a name given twice',
        ['--client', 'cursor', '--server', 'a=https://x.example.com/mcp', '--server', 'a=https://y.example.com/mcp'],
        /"a" is given twice/,
      ],
      ['an unknown client', ['--client', 'emacs', '--server', `fetch=${FETCH}`], /Unknown client "emacs"/],
      ['no client', ['--server', `fetch=${FETCH}`], /Say which client to configure with --client/],
      ['--output with two clients', ['--client', 'cursor,vscode', '--output', 'x.json', '--server', `fetch=${FETCH}`], /--output names one file/],
      ['no server anywhere', ['--client', 'cursor'], /No MCP server to configure/],
    ]
    for (const [what, args, message] of cases) {
      it(what, async () => {
        const ws = await mcpWorkspace(tokenLines(TOKEN))
        const result = await ws.run(['mcp-config', ...args])
        assert.equal(result.code, 2, result.stderr)
        assertOneErrorLine(result.stderr, message)
        assert.equal(result.stdout, '')
        assert.equal(await exists(join(ws.cwd, '.cursor')), false)
      })
    }
  })

  it('takes servers from --servers-file, else MCP_SERVERS, else MCP_SERVER_URL', async () => {
    const ws = await mcpWorkspace([...tokenLines(TOKEN), `MCP_SERVERS=alpha=${FETCH}, beta=${DOCS} noauth`, 'MCP_SERVER_URL=https://mcp-gamma.example.com/mcp'])
    await ws.writeText('servers', `# the gateway's servers\nfetch=${FETCH}   # main\n\ndocs=${DOCS}#section noauth\n`)
    const fromFile = await ws.run(['mcp-config', '--client', 'cursor', '--servers-file', 'servers', '--output', 'file.json'])
    assert.equal(fromFile.code, 0, fromFile.stderr)
    assert.deepEqual((await ws.readJson('file.json')).mcpServers, {fetch: {url: FETCH, headers: {Authorization: BEARER}}, docs: {url: `${DOCS}#section`}})

    assert.equal((await ws.run(['mcp-config', '--client', 'cursor', '--output', 'env.json'])).code, 0)
    assert.deepEqual((await ws.readJson('env.json')).mcpServers, {alpha: {url: FETCH, headers: {Authorization: BEARER}}, beta: {url: DOCS}})

    await updateEnvFile(join(ws.cwd, '.env'), () => ({MCP_SERVERS: null}))
    assert.equal((await ws.run(['mcp-config', '--client', 'cursor', '--output', 'single.json'])).code, 0)
    assert.deepEqual(Object.keys((await ws.readJson('single.json')).mcpServers), ['mcp-gamma'])
  })

  it('without a token tells to run mcp-client-token (exit 4); noauth-only servers need none', async () => {
    const ws = await mcpWorkspace([])
    const result = await ws.run(['mcp-config', '--client', 'cursor', ...SERVERS])
    assert.equal(result.code, 4)
    assertOneErrorLine(result.stderr, /There is no MCP_CLIENT_ACCESS_TOKEN in .env or the environment/)
    assert.match(result.stderr, /Hint: Run mcpauth mcp-client-token first/)
    assert.equal(await exists(join(ws.cwd, '.cursor')), false)
    const open = await ws.run(['mcp-config', '--client', 'cursor', '--server', `docs=${DOCS} noauth`, '--json'])
    assert.equal(open.code, 0, open.stderr)
    assert.equal(parseJson(open).files[0].token, 'none')
    assert.equal((await ws.mode('.cursor/mcp.json')).toString(8), '644')
  })

  it('--stdout prints the document with the token (asked for) and writes nothing', async () => {
    const ws = await mcpWorkspace(tokenLines(TOKEN))
    const result = await ws.run(['mcp-config', '--client', 'vscode', ...SERVERS, '--stdout'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), {
      servers: {fetch: {type: 'http', url: FETCH, headers: {Authorization: BEARER}}, docs: {type: 'http', url: DOCS}},
    })
    assert.equal(await exists(join(ws.cwd, '.vscode')), false)
    assert.equal(await exists(join(ws.cwd, '.env.mcp-clients.json')), false)
  })

  describe('rewriteRecordedConfigs (what refresh-tokens --watch calls after a refresh)', () => {
    const NEW_TOKEN = 'mcp-client-token-after-refresh-ZYXWVUTSRQPON'

    it("puts the new token into the files written with the literal token, and only into mcpauth's entries", async () => {
      const ws = await mcpWorkspace(tokenLines(TOKEN))
      await ws.writeText(
        '.cursor/mcp.json',
        JSON.stringify({mcpServers: {mine: {url: 'https://mine.example.com/mcp', headers: {Authorization: 'Bearer my-own'}}}, keep: 1}),
      )
      assert.equal((await ws.run(['mcp-config', '--client', 'cursor,claude-code', ...SERVERS])).code, 0)
      assert.equal((await ws.run(['mcp-config', '--client', 'vscode', '--env-ref', ...SERVERS])).code, 0)
      const manifest = await ws.readText('.env.mcp-clients.json')
      assert.ok(!manifest.includes(TOKEN), 'the record holds the token')
      assert.equal((await ws.mode('.env.mcp-clients.json')).toString(8), '600')
      const vscodeBefore = await ws.readText('.vscode/mcp.json')

      await updateEnvFile(join(ws.cwd, '.env'), () => ({MCP_CLIENT_ACCESS_TOKEN: NEW_TOKEN}))
      const settings = await loadSettings(join(ws.cwd, '.env'), {})
      const results = await rewriteRecordedConfigs(settings)
      assert.deepEqual(results, [
        {client: 'cursor', path: join(ws.cwd, '.cursor', 'mcp.json'), status: 'rewritten', reason: null},
        {client: 'claude-code', path: join(ws.cwd, '.mcp.json'), status: 'rewritten', reason: null},
      ])
      const cursor = await ws.readJson('.cursor/mcp.json')
      assert.deepEqual(cursor, {
        mcpServers: {
          mine: {url: 'https://mine.example.com/mcp', headers: {Authorization: 'Bearer my-own'}},
          fetch: {url: FETCH, headers: {Authorization: `Bearer ${NEW_TOKEN}`}},
          docs: {url: DOCS},
        },
        keep: 1,
      })
      assert.equal((await ws.readJson('.mcp.json')).mcpServers.fetch.headers.Authorization, `Bearer ${NEW_TOKEN}`)
      assert.equal(await ws.readText('.vscode/mcp.json'), vscodeBefore)
      assert.deepEqual(
        (await rewriteRecordedConfigs(settings)).map((result) => result.status),
        ['unchanged', 'unchanged'],
      )
    })

    it('changes only the token in an entry: headers the user added, an edited URL and a pinned bridge stay', async () => {
      const ws = await mcpWorkspace(tokenLines(TOKEN))
      assert.equal((await ws.run(['mcp-config', '--client', 'cursor,claude-desktop', ...SERVERS])).code, 0)
      const desktopPath = join(ws.home, '.config', 'Claude', 'claude_desktop_config.json')
      const cursor = await ws.readJson('.cursor/mcp.json')
      cursor.mcpServers.fetch.url = 'https://edited.example.com/mcp'
      cursor.mcpServers.fetch.headers['X-Tenant'] = 'blue'
      await ws.writeText('.cursor/mcp.json', JSON.stringify(cursor))
      const desktop = await ws.readJson(desktopPath)
      desktop.mcpServers.fetch.args[1] = 'mcp-remote@0.14.5'
      desktop.mcpServers.fetch.env.NODE_EXTRA_CA_CERTS = '/etc/ssl/corp.pem'
      await ws.writeText(desktopPath, JSON.stringify(desktop))

      await updateEnvFile(join(ws.cwd, '.env'), () => ({MCP_CLIENT_ACCESS_TOKEN: NEW_TOKEN}))
      const results = await rewriteRecordedConfigs(await loadSettings(join(ws.cwd, '.env'), {}))
      assert.deepEqual(
        results.map((result) => result.status),
        ['rewritten', 'rewritten'],
      )
      assert.deepEqual((await ws.readJson('.cursor/mcp.json')).mcpServers.fetch, {
        url: 'https://edited.example.com/mcp',
        headers: {Authorization: `Bearer ${NEW_TOKEN}`, 'X-Tenant': 'blue'},
      })
      const bridge = (await ws.readJson(desktopPath)).mcpServers.fetch
      assert.equal(bridge.args[1], 'mcp-remote@0.14.5')
      assert.deepEqual(bridge.env, {AUTH_HEADER: `Bearer ${NEW_TOKEN}`, NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem'})
    })

    it("keeps one record per .env: a staging .env beside the production one never gets its token into production's files", async () => {
      const ws = await mcpWorkspace(tokenLines(TOKEN))
      const stagingToken = 'staging-token-0123456789abcdefghijklmnopqrs'
      await ws.writeText('.env.staging', `${tokenLines(stagingToken).join('\n')}\n`, 0o600)
      assert.equal((await ws.run(['mcp-config', '--client', 'cursor', '--server', 'prod=https://prod.example.com/mcp'])).code, 0)
      assert.equal(
        (
          await ws.run([
            'mcp-config',
            '--env-file',
            '.env.staging',
            '--client',
            'cursor',
            '--output',
            'staging-cursor.json',
            '--server',
            'stg=https://stg.example.com/mcp',
          ])
        ).code,
        0,
      )
      assert.ok(await exists(join(ws.cwd, '.env.mcp-clients.json')))
      assert.ok(await exists(join(ws.cwd, '.env.staging.mcp-clients.json')))

      await updateEnvFile(join(ws.cwd, '.env'), () => ({MCP_CLIENT_ACCESS_TOKEN: NEW_TOKEN}))
      const results = await rewriteRecordedConfigs(await loadSettings(join(ws.cwd, '.env'), {}))
      assert.deepEqual(
        results.map((result) => [result.path, result.status]),
        [[join(ws.cwd, '.cursor', 'mcp.json'), 'rewritten']],
      )
      assert.equal((await ws.readJson('staging-cursor.json')).mcpServers.stg.headers.Authorization, `Bearer ${stagingToken}`)
    })

    it("run as root, keeps the owner of a user's file it rewrites, so the user's client can still read it", async function () {
      // Only root can hand a file to another user; CI and the daemon under systemd run as root.
      if (process.getuid?.() !== 0) this.skip()
      const ws = await mcpWorkspace(tokenLines(TOKEN))
      assert.equal((await ws.run(['mcp-config', '--client', 'cursor', ...SERVERS])).code, 0)
      const configPath = join(ws.cwd, '.cursor', 'mcp.json')
      await chown(configPath, 1000, 1000)
      await updateEnvFile(join(ws.cwd, '.env'), () => ({MCP_CLIENT_ACCESS_TOKEN: NEW_TOKEN}))
      assert.equal((await rewriteRecordedConfigs(await loadSettings(join(ws.cwd, '.env'), {})))[0].status, 'rewritten')
      const after = await stat(configPath)
      assert.deepEqual([after.uid, after.gid, after.mode & 0o777], [1000, 1000, 0o600])
    })

    it('never recreates a deleted file, leaves a file whose entries were removed, and reports a broken one without throwing', async () => {
      const ws = await mcpWorkspace(tokenLines(TOKEN))
      assert.equal((await ws.run(['mcp-config', '--client', 'cursor,claude-code,roo', ...SERVERS])).code, 0)
      await rm(join(ws.cwd, '.cursor'), {recursive: true})
      await ws.writeText('.mcp.json', JSON.stringify({mcpServers: {docs: {type: 'http', url: DOCS}}}))
      await ws.writeText('.roo/mcp.json', '{"mcpServers": {')
      await updateEnvFile(join(ws.cwd, '.env'), () => ({MCP_CLIENT_ACCESS_TOKEN: NEW_TOKEN}))
      const results = await rewriteRecordedConfigs(await loadSettings(join(ws.cwd, '.env'), {}))
      assert.deepEqual(
        results.map(({client, status}) => [client, status]),
        [
          ['cursor', 'unchanged'],
          ['claude-code', 'unchanged'],
          ['roo', 'failed'],
        ],
      )
      assert.match(results[0].reason!, /the file is gone; not recreated/)
      assert.match(results[1].reason!, /entries were removed/)
      assert.match(results[2].reason!, /is not valid JSON/)
      assert.equal(await exists(join(ws.cwd, '.cursor')), false)
      assert.equal(await ws.readText('.roo/mcp.json'), '{"mcpServers": {')

      await ws.writeText('.env.mcp-clients.json', 'garbage')
      assert.deepEqual(
        (await rewriteRecordedConfigs(await loadSettings(join(ws.cwd, '.env'), {}))).map((result) => result.status),
        ['failed'],
      )
    })

    it('forgets files with mcp-config --forget, which leaves them alone', async () => {
      const ws = await mcpWorkspace(tokenLines(TOKEN))
      assert.equal((await ws.run(['mcp-config', '--client', 'cursor,claude-code', ...SERVERS])).code, 0)
      const forget = await ws.run(['mcp-config', '--forget', '--client', 'cursor', '--json'])
      assert.equal(forget.code, 0, forget.stderr)
      assert.deepEqual(parseJson(forget), {forgotten: [{client: 'cursor', path: join(ws.cwd, '.cursor', 'mcp.json')}]})
      assert.ok(await exists(join(ws.cwd, '.cursor', 'mcp.json')))
      await updateEnvFile(join(ws.cwd, '.env'), () => ({MCP_CLIENT_ACCESS_TOKEN: NEW_TOKEN}))
      assert.deepEqual(
        (await rewriteRecordedConfigs(await loadSettings(join(ws.cwd, '.env'), {}))).map((result) => result.client),
        ['claude-code'],
      )
      assert.equal((await ws.readJson('.cursor/mcp.json')).mcpServers.fetch.headers.Authorization, BEARER)
    })
  })
})
