'use strict'

// BoundedMap stands in for Map wherever Map's behaviour is defined (ECMA-262, "Map Objects",
// as tc39/test262's test/built-ins/Map checks it). Each test is one behaviour, checked
// against Map and against BoundedMap with a roomy bound: both must pass the same check.
// Where BoundedMap differs by design (its bounds, TTLs, recency, its name and
// Symbol.toStringTag) is in docs/cache.md ("Where it differs from Map").

const test = require('node:test')
const assert = require('node:assert/strict')
const { BoundedMap } = require('../..')

const SUBJECTS = [
  {
    name: 'Map',
    Base: Map,
    create: (Class, entries) => new Class(entries),
    other: () => new BoundedMap({ max: 10 }),
  },
  {
    name: 'BoundedMap',
    Base: BoundedMap,
    create: (Class, entries) => new Class({ max: 1000 }, entries),
    other: () => new Map(),
  },
]

/**
 * One test of one behaviour: a subtest per subject, so a failure says which one. `method`: a
 * method Map has only on newer Nodes (the upsert methods, Node 26); Map's subtest is skipped
 * where it lacks it, and BoundedMap is still held to the behaviour the spec defines.
 */
function conforms(behaviour, check, { method } = {}) {
  test(behaviour, async (t) => {
    for (const subject of SUBJECTS) {
      await t.test(subject.name, (st) => {
        if (method !== undefined && !(method in subject.Base.prototype)) return st.skip(`${subject.name}.prototype.${method} is not in Node ${process.version}`)
        return check(subject)
      })
    }
  })
}

/** Receivers that are not maps of the subject's class: other collections, objects, primitives. */
function strangers(subject) {
  return [
    ['a Set', new Set([[1, 2]])],
    ['a WeakMap', new WeakMap()],
    ['a map of the other class', subject.other()],
    ['a plain object', {}],
    ['an array', [[1, 2]]],
    ['an object made from the prototype', Object.create(subject.Base.prototype)],
    ['undefined', undefined],
    ['null', null],
    ['false', false],
    ['a number', 1],
    ['a string', ''],
    ['a symbol', Symbol('s')],
  ]
}

/** An iterable over `items` that logs its calls, and whether its iterator was closed. */
function loggingIterable(items, log) {
  return {
    [Symbol.iterator]() {
      log.push('iterator')
      let i = 0
      return {
        next() {
          return i < items.length ? { value: items[i++], done: false } : { value: undefined, done: true }
        },
        return() {
          log.push('return')
          return {}
        },
      }
    },
  }
}

conforms('entries, keys and values throw a TypeError at once on a receiver that is not a map of their class', (subject) => {
  const { Base } = subject
  for (const method of ['entries', 'keys', 'values']) {
    for (const [what, receiver] of strangers(subject)) {
      // At the call, not at the first next().
      assert.throws(() => Base.prototype[method].call(receiver), TypeError, `${method} on ${what}`)
    }
  }
})

conforms('get, set, has, delete, clear, forEach and the size getter throw a TypeError on a receiver that is not a map of their class', (subject) => {
  const { Base } = subject
  const size = Object.getOwnPropertyDescriptor(Base.prototype, 'size').get
  const calls = {
    get: (r) => Base.prototype.get.call(r, 1),
    set: (r) => Base.prototype.set.call(r, 1, 1),
    has: (r) => Base.prototype.has.call(r, 1),
    delete: (r) => Base.prototype.delete.call(r, 1),
    clear: (r) => Base.prototype.clear.call(r),
    forEach: (r) => Base.prototype.forEach.call(r, () => {}),
    size: (r) => size.call(r),
  }
  for (const [method, call] of Object.entries(calls)) {
    for (const [what, receiver] of strangers(subject)) {
      assert.throws(() => call(receiver), TypeError, `${method} on ${what}`)
    }
  }
})

conforms('Symbol.species is a getter that returns this, as Map has', ({ Base, create }) => {
  const desc = Object.getOwnPropertyDescriptor(Base, Symbol.species)
  assert.ok(desc !== undefined, 'an own Symbol.species property')
  assert.equal(typeof desc.get, 'function')
  assert.equal(desc.set, undefined)
  assert.equal(desc.enumerable, false)
  assert.equal(desc.configurable, true)
  assert.equal(desc.get.name, 'get [Symbol.species]')
  assert.equal(desc.get.length, 0)
  const thisValue = {}
  assert.equal(desc.get.call(thisValue), thisValue)
  assert.equal(Base[Symbol.species], Base)
  class Sub extends Base {}
  assert.equal(Sub[Symbol.species], Sub)
  assert.ok(create(Sub) instanceof Sub)
})

conforms('the constructor looks up set once, before it opens the iterable, and calls it for each entry', ({ Base, create }) => {
  let lookups = 0
  const calls = []
  const log = []
  class Counted extends Base {
    get set() {
      lookups++
      log.push('set')
      return function (...args) {
        calls.push({ self: this, args })
        return Base.prototype.set.call(this, args[0], args[1])
      }
    }
  }
  const map = create(Counted, loggingIterable([['a', 1], ['b', 2], ['c', 3]], log))
  assert.equal(lookups, 1, 'set is read once, not per entry')
  assert.deepStrictEqual(log, ['set', 'iterator'], 'set is read before the iterator is opened')
  assert.deepStrictEqual(calls.map((c) => c.args), [['a', 1], ['b', 2], ['c', 3]], 'called with (key, value) only')
  assert.ok(calls.every((c) => c.self === map), 'called on the new map')
  assert.deepStrictEqual([...Base.prototype.entries.call(map)], [['a', 1], ['b', 2], ['c', 3]])

  // Without an iterable, set is not read at all.
  lookups = 0
  create(Counted)
  create(Counted, null)
  assert.equal(lookups, 0)

  // A set getter that throws: the error comes out even for an empty iterable.
  class Throwing extends Base {
    get set() {
      throw new SyntaxError('set getter')
    }
  }
  assert.throws(() => create(Throwing, []), SyntaxError)
  assert.ok(create(Throwing) instanceof Throwing)

  // A set that is not callable: a TypeError, before the iterable is opened.
  for (const notCallable of [null, undefined, 1, {}]) {
    class NotCallable extends Base {
      get set() {
        return notCallable
      }
    }
    const opened = []
    assert.throws(() => create(NotCallable, loggingIterable([], opened)), TypeError)
    assert.deepStrictEqual(opened, [], 'the iterable is not opened')
    assert.equal(create(NotCallable).size, 0)
  }
})

conforms('the constructor closes the iterator when set throws or an entry is not an object, and not when next() throws', ({ Base, create }) => {
  class Refusing extends Base {
    set() {
      throw new RangeError('refused')
    }
  }
  const log = []
  assert.throws(() => create(Refusing, loggingIterable([['a', 1]], log)), RangeError)
  assert.deepStrictEqual(log, ['iterator', 'return'])

  for (const notAnEntry of [1, true, '', null, undefined, Symbol('a')]) {
    const seen = []
    assert.throws(() => create(Base, loggingIterable([notAnEntry], seen)), TypeError, String(notAnEntry))
    assert.deepStrictEqual(seen, ['iterator', 'return'], String(notAnEntry))
  }

  // An entry whose "0" or "1" throws closes the iterator too.
  for (const index of ['0', '1']) {
    const entry = Object.defineProperty([], index, {
      get() {
        throw new URIError(index)
      },
    })
    const seen = []
    assert.throws(() => create(Base, loggingIterable([entry], seen)), URIError)
    assert.deepStrictEqual(seen, ['iterator', 'return'])
  }

  // An error from the iterator itself does not close it.
  let closed = 0
  const broken = {
    [Symbol.iterator]: () => ({
      next() {
        throw new EvalError('next')
      },
      return() {
        closed++
        return {}
      },
    }),
  }
  assert.throws(() => create(Base, broken), EvalError)
  assert.equal(closed, 0)

  // Entries are read as objects: "0" and "1", whatever else they hold.
  const map = create(Base, [{ 0: 'k', 1: 'v', 2: 'ignored' }, ['only a key']])
  assert.deepStrictEqual([...Base.prototype.entries.call(map)], [['k', 'v'], ['only a key', undefined]])
})

conforms("every method has Map's length and name, and is a writable, configurable, non-enumerable property", ({ Base }) => {
  const lengths = { get: 1, set: 2, has: 1, delete: 1, clear: 0, forEach: 1, keys: 0, values: 0, entries: 0 }
  for (const [method, length] of Object.entries(lengths)) {
    const desc = Object.getOwnPropertyDescriptor(Base.prototype, method)
    assert.equal(typeof desc.value, 'function', method)
    assert.equal(desc.value.length, length, `${method}.length`)
    assert.equal(desc.value.name, method, `${method}.name`)
    assert.deepStrictEqual([desc.writable, desc.enumerable, desc.configurable], [true, false, true], method)
  }
  const size = Object.getOwnPropertyDescriptor(Base.prototype, 'size')
  assert.equal(size.get.name, 'get size')
  assert.equal(size.get.length, 0)
  assert.equal(size.set, undefined)
  assert.deepStrictEqual([size.enumerable, size.configurable], [false, true])
})

conforms('prototype[Symbol.iterator] is the same function as entries', ({ Base }) => {
  assert.equal(Base.prototype[Symbol.iterator], Base.prototype.entries)
  const desc = Object.getOwnPropertyDescriptor(Base.prototype, Symbol.iterator)
  assert.deepStrictEqual([desc.writable, desc.enumerable, desc.configurable], [true, false, true])
  assert.equal(desc.value.name, 'entries')
})

conforms('iterators are live: they visit entries set during iteration, skip deleted ones, and see a re-added key again at the end', ({ Base, create }) => {
  for (const method of ['entries', 'keys', 'values']) {
    const map = create(Base, [['a', 1], ['b', 2], ['c', 3]])
    const seen = []
    for (const item of Base.prototype[method].call(map)) {
      seen.push(item)
      if (seen.length === 1) {
        map.delete('b') // not visited
        map.delete('a') // visited already; comes again at the end
        map.set('a', 4)
        map.set('c', 5) // an update keeps its place
        map.set('d', 6) // visited
      }
    }
    const expected = { entries: [['a', 1], ['c', 5], ['a', 4], ['d', 6]], keys: ['a', 'c', 'a', 'd'], values: [1, 5, 4, 6] }
    assert.deepStrictEqual(seen, expected[method], method)
  }

  // An iterator that has finished stays finished, even when entries are added later.
  const map = create(Base, [['a', 1]])
  const it = map.keys()
  assert.deepStrictEqual(it.next(), { value: 'a', done: false })
  assert.deepStrictEqual(it.next(), { value: undefined, done: true })
  map.set('b', 2)
  assert.deepStrictEqual(it.next(), { value: undefined, done: true })

  // One cleared during iteration sees what is set after the clear.
  const cleared = create(Base, [['a', 1], ['b', 2]])
  const after = []
  for (const [key] of cleared) {
    after.push(key)
    if (key === 'a') {
      cleared.clear()
      cleared.set('z', 26)
    }
  }
  assert.deepStrictEqual(after, ['a', 'z'])

  // The iterator is its own iterable.
  const own = map.entries()
  assert.equal(own[Symbol.iterator](), own)
})

conforms('forEach calls back with (value, key, map) and thisArg, visits entries set during it, skips deleted ones, and returns undefined', ({ Base, create }) => {
  const map = create(Base, [['a', 1], ['b', 2], ['c', 3]])
  const thisArg = { the: 'thisArg' }
  const calls = []
  const result = map.forEach(function (value, key, owner) {
    'use strict'
    calls.push([value, key, owner === map, this])
    if (calls.length === 1) {
      map.delete('b')
      map.delete('a')
      map.set('a', 4)
      map.set('d', 5)
    }
  }, thisArg)
  assert.equal(result, undefined)
  assert.deepStrictEqual(calls, [
    [1, 'a', true, thisArg],
    [3, 'c', true, thisArg],
    [4, 'a', true, thisArg],
    [5, 'd', true, thisArg],
  ])

  // Without thisArg a strict callback gets undefined.
  let seenThis = null
  map.forEach(function () {
    'use strict'
    seenThis = this
  })
  assert.equal(seenThis, undefined)

  // A callback that throws stops it; a callback that is not callable throws a TypeError,
  // even on an empty map.
  let count = 0
  assert.throws(() => map.forEach(() => {
    count++
    throw new RangeError('stop')
  }), RangeError)
  assert.equal(count, 1)
  for (const notCallable of [undefined, null, 1, {}]) {
    assert.throws(() => create(Base).forEach(notCallable), TypeError)
  }
})

conforms('keys compare with SameValueZero: -0 is kept as +0, NaN finds NaN, objects by identity', ({ Base, create }) => {
  const map = create(Base)
  assert.equal(map.set(-0, 'zero'), map, 'set returns the map')
  assert.ok(Object.is([...map.keys()][0], +0), '-0 is stored as +0')
  assert.equal(map.get(+0), 'zero')
  assert.equal(map.get(-0), 'zero')
  assert.equal(map.has(-0), true)
  map.set(+0, 'plus')
  assert.equal(map.size, 1)
  map.forEach((_v, key) => assert.ok(Object.is(key, +0)))

  map.set(NaN, 'nan')
  assert.equal(map.get(NaN), 'nan')
  assert.equal(map.get(0 / 0), 'nan')
  assert.equal(map.has(Number('x')), true)

  const a = {}
  map.set(a, 'a')
  assert.equal(map.get({}), undefined)
  assert.equal(map.get(a), 'a')
  map.set('1', 'string one')
  map.set(1, 'number one')
  assert.equal(map.get('1'), 'string one')
  assert.equal(map.get(1), 'number one')
  map.set(undefined, undefined)
  assert.equal(map.has(undefined), true)
  assert.equal(map.get(undefined), undefined)

  assert.equal(map.delete(-0), true)
  assert.equal(map.delete(0), false)
  assert.equal(map.delete(NaN), true)
  assert.equal(map.clear(), undefined)
  assert.equal(map.size, 0)
})

conforms('getOrInsert returns the value held, else appends the key with the value given', (subject) => {
  const { Base, create } = subject
  const map = create(Base, [['a', 1], ['u', undefined]])
  assert.equal(map.getOrInsert('a', 2), 1, 'a held value is returned, not replaced')
  assert.equal(map.getOrInsert('u', 3), undefined, 'undefined is a value held too')
  assert.equal(map.getOrInsert('b', 4), 4)
  assert.equal(map.getOrInsert(-0, 'zero'), 'zero')
  assert.equal(map.getOrInsert(NaN, 'nan'), 'nan')
  assert.equal(map.getOrInsert(NaN, 'again'), 'nan')
  assert.deepStrictEqual([...map], [['a', 1], ['u', undefined], ['b', 4], [0, 'zero'], [NaN, 'nan']])
  assert.ok(Object.is([...map.keys()][3], +0), '-0 is stored as +0')
  const desc = Object.getOwnPropertyDescriptor(Base.prototype, 'getOrInsert')
  assert.deepStrictEqual([desc.value.length, desc.value.name, desc.writable, desc.enumerable, desc.configurable], [2, 'getOrInsert', true, false, true])
  for (const [what, receiver] of strangers(subject)) {
    assert.throws(() => Base.prototype.getOrInsert.call(receiver, 1, 1), TypeError, what)
  }
}, { method: 'getOrInsert' })

conforms('getOrInsertComputed calls back only for a missing key, with the key alone, and stores what it returns', (subject) => {
  const { Base, create } = subject
  const map = create(Base, [['a', 1]])
  const calls = []
  const record = function (...args) {
    calls.push([this, ...args])
    return args[0] === 'b' ? 2 : 'computed'
  }
  assert.equal(map.getOrInsertComputed('a', record), 1)
  assert.deepStrictEqual(calls, [], 'not called for a held key')
  assert.equal(map.getOrInsertComputed('b', record), 2)
  assert.deepStrictEqual(calls, [[undefined, 'b']], 'called with undefined this and the key alone')
  map.getOrInsertComputed(-0, record)
  assert.ok(Object.is(calls[1][1], +0), 'the callback gets -0 as +0')
  assert.deepStrictEqual([...map], [['a', 1], ['b', 2], [0, 'computed']])

  // What the callback sets on the key is replaced by what it returns.
  const mutated = create(Base)
  mutated.getOrInsertComputed('k', () => {
    mutated.set('k', 'set inside')
    return 'returned'
  })
  assert.deepStrictEqual([...mutated], [['k', 'returned']])
  mutated.getOrInsertComputed('v', () => {
    mutated.set('v', 'set inside')
  })
  assert.deepStrictEqual([...mutated], [['k', 'returned'], ['v', undefined]])

  // A callback that throws leaves the map as it was.
  assert.throws(() => map.getOrInsertComputed('c', () => {
    throw new RangeError('no')
  }), RangeError)
  assert.equal(map.has('c'), false)
  assert.equal(map.size, 3)

  // A callback that is not callable throws, even for a held key; the receiver is checked first.
  for (const notCallable of [undefined, null, 1, {}, 'f']) {
    assert.throws(() => map.getOrInsertComputed('a', notCallable), TypeError)
  }
  for (const [what, receiver] of strangers(subject)) {
    assert.throws(() => Base.prototype.getOrInsertComputed.call(receiver, 1, () => assert.fail(`called on ${what}`)), TypeError, what)
  }
  const desc = Object.getOwnPropertyDescriptor(Base.prototype, 'getOrInsertComputed')
  assert.deepStrictEqual([desc.value.length, desc.value.name, desc.writable, desc.enumerable, desc.configurable], [2, 'getOrInsertComputed', true, false, true])
}, { method: 'getOrInsertComputed' })
