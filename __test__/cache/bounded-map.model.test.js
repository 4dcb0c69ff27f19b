'use strict'

// BoundedMap within its bounds must be indistinguishable from Map: the same results for
// every operation, the same iteration order, and the same live-iterator behaviour.

const test = require('node:test')
const assert = require('node:assert/strict')
const { BoundedMap } = require('../..')
const { rng, keyPool } = require('../support/helpers')

const POLICIES = ['lru', 's3-fifo', 'tinylfu']

function sameEntries(actual, expected, msg) {
  assert.deepStrictEqual([...actual.entries()], [...expected.entries()], msg)
}

for (const policy of POLICIES) {
  test(`${policy}: random operation sequences match Map`, () => {
    const keys = keyPool()
    for (let seed = 1; seed <= 40; seed++) {
      const rand = rng(seed)
      const model = new Map()
      const map = new BoundedMap({ max: 1000, policy })
      for (let step = 0; step < 400; step++) {
        const key = rand.pick(keys)
        const value = rand() < 0.1 ? undefined : rand.int(100)
        const where = `seed ${seed} step ${step} key ${String(key)}`
        switch (rand.int(9)) {
          case 0:
          case 1:
            assert.equal(map.set(key, value), map, where)
            model.set(key, value)
            break
          case 2:
            assert.equal(map.get(key), model.get(key), where)
            break
          case 3:
            assert.equal(map.has(key), model.has(key), where)
            break
          case 4:
            assert.equal(map.delete(key), model.delete(key), where)
            break
          case 5:
            assert.equal(map.peek(key), model.get(key), where)
            break
          case 6:
            if (rand() < 0.05) {
              map.clear()
              model.clear()
            }
            break
          case 7:
            sameEntries(map, model, where)
            assert.deepStrictEqual([...map.keys()], [...model.keys()], where)
            assert.deepStrictEqual([...map.values()], [...model.values()], where)
            assert.deepStrictEqual([...map], [...model], where)
            break
          default: {
            const seen = []
            const seenModel = []
            map.forEach(function (v, k, m) { seen.push([k, v, m === map, this]) }, 'ctx')
            model.forEach(function (v, k, m) { seenModel.push([k, v, m === model, this]) }, 'ctx')
            assert.deepStrictEqual(seen, seenModel, where)
          }
        }
        assert.equal(map.size, model.size, where)
      }
    }
  })

  test(`${policy}: iterators are live like Map's under mutation`, () => {
    const keys = keyPool()
    for (let seed = 1; seed <= 60; seed++) {
      const script = rng(seed)
      const ops = Array.from({ length: 40 }, () => [script.int(4), script.pick(keys), script.int(9)])
      const run = (target, iterate) => {
        for (const k of keys.slice(0, 8)) target.set(k, 1)
        const visited = []
        let i = 0
        iterate(target, (k, v) => {
          visited.push([k, v])
          const [op, key, value] = ops[i++ % ops.length]
          if (op === 0) target.set(key, value)
          else if (op === 1) target.delete(key)
          else if (op === 2 && i % 7 === 0) target.clear()
          else target.get(key)
          return i < 60
        })
        return { visited, after: [...target] }
      }
      const iterators = {
        'for…of': (m, visit) => { for (const [k, v] of m) if (!visit(k, v)) break },
        keys: (m, visit) => { for (const k of m.keys()) if (!visit(k, m.get(k))) break },
        forEach: (m, visit) => {
          let going = true
          m.forEach((v, k) => { if (going) going = visit(k, v) })
        },
      }
      for (const [name, iterate] of Object.entries(iterators)) {
        const expected = run(new Map(), iterate)
        const actual = run(new BoundedMap({ max: 1000, policy }), iterate)
        assert.deepStrictEqual(actual, expected, `seed ${seed} ${name}`)
      }
    }
  })
}

test('constructor takes entries like Map, and refuses non-entry items like Map', () => {
  const map = new BoundedMap({ max: 10 }, [['a', 1], ['b', 2], ['a', 3]])
  assert.deepStrictEqual([...map], [...new Map([['a', 1], ['b', 2], ['a', 3]])])
  assert.deepStrictEqual([...new BoundedMap({ max: 2 }, new Map([[1, 1], [2, 2], [3, 3]]))], [[2, 2], [3, 3]])
  assert.throws(() => new BoundedMap({ max: 2 }, [1]), TypeError)
  assert.throws(() => new Map([1]), TypeError)
})

test('-0 is stored as +0 and NaN finds NaN, as in Map', () => {
  const map = new BoundedMap({ max: 10 })
  map.set(-0, 'zero').set(NaN, 'nan')
  assert.ok(Object.is([...map.keys()][0], 0))
  assert.equal(map.get(0), 'zero')
  assert.equal(map.get(NaN), 'nan')
  assert.equal(Object.prototype.toString.call(map), '[object BoundedMap]')
  assert.throws(() => map.forEach(42), TypeError)
})
