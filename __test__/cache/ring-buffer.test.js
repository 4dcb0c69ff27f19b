'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const Denque = require('denque')
const { RingBuffer } = require('../..')
const { rng } = require('../support/helpers')

test('matches the push-then-shift array pattern on random operations', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rand = rng(seed)
    const capacity = 1 + rand.int(10)
    const dropped = []
    const ring = new RingBuffer(capacity, { onDrop: (item) => dropped.push(item) })
    const model = []
    const modelDropped = []
    for (let step = 0; step < 500; step++) {
      const where = `seed ${seed} step ${step}`
      const op = rand.int(10)
      if (op < 5) {
        const items = Array.from({ length: 1 + rand.int(3) }, () => rand.int(1000))
        assert.equal(ring.push(...items), Math.min(capacity, model.length + items.length), where)
        for (const item of items) {
          model.push(item)
          if (model.length > capacity) modelDropped.push(model.shift())
        }
      } else if (op < 6) assert.equal(ring.shift(), model.shift(), where)
      else if (op < 7) assert.equal(ring.pop(), model.pop(), where)
      else if (op < 8) {
        const i = rand.int(capacity * 2 + 1) - capacity
        assert.equal(ring.at(i), model.at(i), where)
      } else if (op < 9) assert.equal(ring.peek(), model[0], where)
      else if (rand() < 0.1) {
        ring.clear()
        model.length = 0
      }
      assert.deepStrictEqual(ring.toArray(), model, where)
      assert.deepStrictEqual([...ring], model, where)
      assert.equal(ring.size, model.length)
      assert.equal(ring.length, model.length)
      assert.deepStrictEqual(dropped, modelDropped, where)
      assert.equal(ring.dropped, modelDropped.length)
    }
  }
})

test('capacity must be a positive integer; options are checked', () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => new RingBuffer(bad), { name: 'RangeError', code: 'ERR_LEAKPROOF_INVALID_OPTION' })
  }
  for (const bad of ['10', undefined, null, {}]) {
    assert.throws(() => new RingBuffer(bad), { name: 'TypeError', code: 'ERR_LEAKPROOF_INVALID_OPTION' })
  }
  assert.throws(() => new RingBuffer(3, { onDrop: 1 }), { code: 'ERR_LEAKPROOF_INVALID_OPTION' })
  assert.throws(() => new RingBuffer(3, { ondrop() {} }), { code: 'ERR_LEAKPROOF_UNKNOWN_OPTION' })
  assert.equal(new RingBuffer(3).capacity, 3)
  assert.equal(Object.prototype.toString.call(new RingBuffer(1)), '[object RingBuffer]')
})

test('a huge capacity allocates nothing up front', () => {
  const before = process.memoryUsage().heapUsed
  const ring = new RingBuffer(2 ** 40)
  ring.push(1)
  assert.ok(process.memoryUsage().heapUsed - before < 1e6)
})

test('removed items are released (the buffer keeps no reference)', () => {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'ring-release.js')], {
    encoding: 'utf8',
  })
  assert.deepStrictEqual(JSON.parse(out), [true, true, false])
})

test('behaves as denque for FIFO use, oldest first', () => {
  const ring = new RingBuffer(1000)
  const dq = new Denque()
  for (let i = 0; i < 500; i++) { ring.push(i); dq.push(i) }
  for (let i = 0; i < 200; i++) assert.equal(ring.shift(), dq.shift())
  assert.deepStrictEqual(ring.toArray(), dq.toArray())
})
