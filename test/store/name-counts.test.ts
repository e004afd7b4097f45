import {strict as assert} from 'node:assert'

import {NameCounts} from '../../src/store/name-counts.js'

describe('NameCounts', () => {
  it('counts every name as a Map would, through growth, for names of any length and script', () => {
    const counts = new NameCounts()
    const expected = new Map<string, number>()
    const names = ['', 'a', 'é', '用户', '🙂', 'x'.repeat(70_000), ...Array.from({length: 30_000}, (_, i) => `user${i % 12_345}@example.org`)]
    names.forEach((name, i) => {
      const by = (i % 3) + 1
      counts.add(name, by)
      expected.set(name, (expected.get(name) ?? 0) + by)
    })
    assert.equal(counts.size, expected.size)
    assert.deepEqual(new Map(counts.entries()), expected)
  })

  it('tells apart names that share a prefix or differ only in the last byte', () => {
    const counts = new NameCounts()
    for (const name of ['ab', 'abc', 'abd', 'ab', 'a\u0000', 'a']) counts.add(name)
    assert.deepEqual(
      new Map(counts.entries()),
      new Map([
        ['ab', 2],
        ['abc', 1],
        ['abd', 1],
        ['a\u0000', 1],
        ['a', 1],
      ]),
    )
  })
})
