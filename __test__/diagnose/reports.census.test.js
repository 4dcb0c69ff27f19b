'use strict'

// A pair's report says whether it confirms the census taken at the leak (reports.js): the
// census names a collection by its path from a variable, the pair by its holder's expression;
// and it keeps the label the census' report published where it names the same collection.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { censusConfirmed, pairLabel } = require('../../lib/diagnose/reports')

const APP = '/srv/app.js'
const pairOf = (...names) => ({ growthRoots: names.map((name) => ({ holder: { name, file: APP } })), grownCollections: [], suspects: [] })
const censusOf = (...found) => ({
  path: '/d/c.report.json',
  time: 5,
  suspects: found.map(([readablePath, kind = 'module']) => ({ readablePath, holder: { kind, file: kind === 'global' ? null : APP, description: `${readablePath} (x)` } })),
})

test('the census\' holder named by the pair, as itself or what holds it, is confirmed', () => {
  // The same collection; a chain the census names at its first link and the pair by its holder;
  // a private field each writes its own way.
  for (const [census, pair] of [['store.sessions', 'store.sessions'], ['bus.latest', 'bus'], ['priv.#values', 'priv["#values"]']]) {
    const { evidence, census: told } = censusConfirmed(pairOf(pair), censusOf([census]))
    assert.equal(evidence, 'pair and census', `${census} ~ ${pair}`)
    assert.deepEqual(told, { path: '/d/c.report.json', time: 5, holders: [{ holder: `${census} (x)`, confirmed: true }] })
  }
  const global = { growthRoots: [{ holder: { name: 'globalThis.leaks', file: null } }], grownCollections: [], suspects: [] }
  assert.equal(censusConfirmed(global, censusOf(['globalThis.leaks', 'global'])).evidence, 'pair and census')
})

test('a census holder the pair does not name is not confirmed; the evidence is the pair\'s first holder\'s', () => {
  const other = censusConfirmed(pairOf('cache'), censusOf(['store.sessions'], ['cache']))
  assert.equal(other.evidence, 'pair and census')
  assert.deepEqual(other.census.holders.map((h) => h.confirmed), [false, true])
  assert.equal(censusConfirmed(pairOf('cache'), censusOf(['store.sessions'])).evidence, 'pair')
  // `bus.latest` is not under `bu`.
  assert.equal(censusConfirmed(pairOf('bu'), censusOf(['bus.latest'])).evidence, 'pair')
  assert.equal(censusConfirmed(pairOf('cache', 'bus'), censusOf(['bus.latest'])).evidence, 'pair')
})

test('the census\' open handles of a class are the pair\'s many roots holding it, not another class\'s', () => {
  // As a new user's pair had it: the first suspect a package's closure, the growth root 6,719 new TCP roots holding Socket.
  const pair = {
    growthRoots: [{ name: '(GC roots)', manyRoots: { kind: 'TCP', count: 6719, holds: 'Socket' } }],
    grownCollections: [],
    suspects: [{ holder: { name: 'zlib', file: '/srv/node_modules/body-parser/lib/read.js' } }],
  }
  const sockets = (className) => ({ path: '/d/c.report.json', time: 5, suspects: [{ readablePath: `${className} handles`, holder: { kind: 'handles', className, file: null, description: `14946 open ${className} handles` } }] })
  const confirmed = censusConfirmed(pair, sockets('Socket'))
  assert.equal(confirmed.evidence, 'pair and census')
  assert.deepEqual(confirmed.census.holders, [{ holder: '14946 open Socket handles', confirmed: true }])
  assert.deepEqual(censusConfirmed(pair, sockets('Server')).census.holders.map((h) => h.confirmed), [false])
})

test('without a census, or one that found nothing, the pair alone', () => {
  assert.deepEqual(censusConfirmed(pairOf('cache'), null), { evidence: 'pair', census: null })
  assert.deepEqual(censusConfirmed(pairOf('cache'), { ...censusOf(), suspects: [] }), { evidence: 'pair', census: null })
})

/** A report naming one holder, as the watcher writes it: `path (className)` of `file` (null: none). */
const named = (kind, path, className, file, holderKind = 'module') => {
  const holder = { name: path, className, kind: holderKind, file, description: `${path} (${className})` }
  return kind === 'pair' ? { kind, growthRoots: [{ holder }], grownCollections: [], suspects: [] } : { kind, suspects: [{ readablePath: path, holder }], holderLabel: { holder: `${path} (${className})`, site: file === null ? '' : file.slice(1) } }
}

test("a pair naming the census' collection, or what holds it, keeps the census' label", () => {
  const census = named('no-snapshot', 'container.audit.trail', 'Map', '/srv/container.js')
  for (const path of ['container.audit.trail', 'container.audit', 'module.exports.container.audit']) {
    assert.deepEqual(pairLabel(named('pair', path, 'AuditService', '/srv/container.js'), census), census.holderLabel, path)
  }
})

test("a pair naming nothing as precise as the census (no file: a chain's link) keeps the census' label", () => {
  const census = named('no-snapshot', 'shutdown.#signal[Symbol(kEvents)][*].next', 'chain via .next', '/srv/app.js')
  const link = named('pair', 'Listener.previous', 'Object', null, 'property')
  assert.deepEqual(pairLabel(link, census), census.holderLabel)
  // Node's own table of timer lists, where the census named the app's timers.
  const timers = named('no-snapshot', 'timers of 1000 ms', 'TimersList', '/srv/app.js', 'timers')
  assert.deepEqual(pairLabel(named('pair', 'timerListMap[*]', 'TimersList', 'node:timers'), timers), timers.holderLabel)
})

test('a pair naming another collection, or another file, is a new label; without a census the pair\'s own', () => {
  const census = named('no-snapshot', 'store.sessions', 'Map', '/srv/store.js')
  const other = named('pair', 'cache', 'Map', '/srv/store.js')
  assert.deepEqual(pairLabel(other, census), { holder: 'cache (Map)', site: 'srv/store.js' })
  const elsewhere = named('pair', 'store.sessions', 'Map', '/srv/other.js')
  assert.notDeepEqual(pairLabel(elsewhere, census), census.holderLabel)
  // Not a prefix by characters: `store.session` does not hold `store.sessions`.
  assert.notDeepEqual(pairLabel(named('pair', 'store.session', 'Map', '/srv/store.js'), census), census.holderLabel)
  assert.deepEqual(pairLabel(other, null), { holder: 'cache (Map)', site: 'srv/store.js' })
  // A pair's report published last is not a census'.
  assert.deepEqual(pairLabel(other, { ...census, kind: 'pair' }), { holder: 'cache (Map)', site: 'srv/store.js' })
  // A pair naming nothing: the census' label stays.
  assert.deepEqual(pairLabel({ kind: 'pair', growthRoots: [], grownCollections: [], suspects: [] }, census), census.holderLabel)
})
