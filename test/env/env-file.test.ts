import {strict as assert} from 'node:assert'

import {parseEnvText} from '../../src/env/env-file.js'

describe('.env parsing', () => {
  it('reads plain, quoted, exported and commented entries', () => {
    const {values, malformedLines} = parseEnvText(
      [
        '# comment',
        '',
        'PLAIN=value',
        'export EXPORTED=yes',
        'DOUBLE="with spaces # not a comment"',
        "SINGLE='$literal \\n'",
        'ESCAPED="line1\\nline2"',
        'TRAILING=value # a comment',
        'EMPTY=',
      ].join('\n'),
    )
    assert.deepEqual(Object.fromEntries(values), {
      PLAIN: 'value',
      EXPORTED: 'yes',
      DOUBLE: 'with spaces # not a comment',
      SINGLE: '$literal \\n',
      ESCAPED: 'line1\nline2',
      TRAILING: 'value',
      EMPTY: '',
    })
    assert.deepEqual(malformedLines, [])
  })

  it('handles CRLF, a BOM and a missing final newline', () => {
    const {values} = parseEnvText('\uFEFFA=1\r\nB="2"\r\nC=3')
    assert.deepEqual(Object.fromEntries(values), {A: '1', B: '2', C: '3'})
  })

  it('lets a later duplicate win and keeps every line for rewriting', () => {
    const text = 'A=1\n# keep me\nA=2\n'
    const {values, lines} = parseEnvText(text)
    assert.equal(values.get('A'), '2')
    assert.deepEqual(
      lines.map((line) => line.raw),
      ['A=1', '# keep me', 'A=2'],
    )
  })

  it('reports unterminated quotes and lines that are not assignments', () => {
    const {values, malformedLines} = parseEnvText('GOOD=1\nBAD="open\nnot an assignment\n')
    assert.deepEqual(Object.fromEntries(values), {GOOD: '1'})
    assert.deepEqual(malformedLines, [2, 3])
  })
})
