'use strict'

// Holders named as code on real snapshots (fixtures/holder-app.js): a module-level
// `cache` Map filled by an http handler, a Map only a closure holds (`seen` of makeTracker,
// used by `track`), and an array on an object property (`stats.requests`), while a timer and
// the server are alive. The same module runs once as the entry script and once required by
// holder-main.js. holder-scopes.js has the scopes of issue 28: a module-level Map beside
// unrelated closures of its module, and a Map of a factory that stays alive. Set
// LEAKPROOF_PRINT_HOLDERS=1 to print what each scenario produced.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { analyzeSnapshot, diffSnapshots } = require('../..')

const REQUESTS = 2000
const FIXTURES = path.join(__dirname, 'fixtures')
const APP = path.join(FIXTURES, 'holder-app.js')
const SCENARIOS = { 'entry script': 'holder-app.js', 'required module': 'holder-main.js' }

/** 1-based line and column where V8 places function `name` of `file`: its `(`. */
function functionPosition(name, file = APP) {
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  const line = lines.findIndex((l) => l.includes(`function ${name}(`))
  return { line: line + 1, column: lines[line].indexOf(`${name}(`) + name.length + 1 }
}

let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-holder-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Runs `script` and returns the paths of its two snapshots. */
function snapshots(script) {
  const out = fs.mkdtempSync(path.join(dir, 'run-'))
  execFileSync(process.execPath, [path.join(FIXTURES, script), out, String(REQUESTS)])
  return [path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot')]
}

/** Prints a holder and its path, for the closing note of a change (see the file's comment). */
function show(label, item) {
  if (!process.env.LEAKPROOF_PRINT_HOLDERS) return
  process.stdout.write(`# ${process.version} ${label}\n#   held by ${item.holder?.description}\n#   via ${item.readablePath.join(' → ')}\n`)
}

/** The fold of Node's machinery: first step names it, no timer lists or mainModule after. */
function assertFolded(item) {
  assert.match(item.readablePath[0], /^\(Node internals(: [a-z ,A-Z]+)?\)$/, item.readablePath.join(' → '))
  assert.doesNotMatch(item.readablePath.join(' → '), /timerListMap|TimersList|mainModule|_events/)
  assert.equal(item.retainerPath[0], '(GC roots)')
}

for (const [scenario, script] of Object.entries(SCENARIOS)) {
  test(`${scenario}: each leak is named by its variable and file, not by Node's internals`, async () => {
    const [first, second] = snapshots(script)
    const d = await diffSnapshots(first, second)
    const suspect = (name) => d.suspects.find((s) => s.name === name)

    const cached = suspect('CacheEntry')
    show(`${scenario} CacheEntry`, cached)
    assert.equal(cached.count, REQUESTS)
    assert.deepEqual(
      [cached.holder.name, cached.holder.className, cached.holder.kind, cached.holder.file],
      ['cache', 'Map', 'module', APP],
    )
    // Every closure of the module keeps its scope alive (the handler, the timer's, `load`'s):
    // none is named, the snapshot does not say which one uses `cache`.
    assert.equal(cached.holder.description, `cache (Map), a module-level variable of ${APP}`)
    assert.deepEqual([cached.holder.function, cached.holder.closure, cached.holder.line, cached.holder.column], [undefined, undefined, undefined, undefined])
    assertFolded(cached)
    assert.match(cached.readablePath.join(' → '), /holder-app\.js:\d+:\d+\) → context → (previous → )?cache \(Map\) → table → CacheEntry ×2,000$/)

    const logged = suspect('RequestLog')
    show(`${scenario} RequestLog`, logged)
    assert.deepEqual([logged.holder.name, logged.holder.kind, logged.holder.file], ['stats.requests', 'module', APP])
    assertFolded(logged)

    const grown = new Map(d.grownCollections.map((c) => [c.holder?.name, c]))
    const seen = grown.get('seen')
    show(`${scenario} grown Map (seen)`, seen)
    assert.deepEqual([seen.name, seen.before, seen.after], ['Map', 100, 100 + REQUESTS])
    // `seen` is makeTracker's, which ran once at startup: by the snapshot V8 has freed it on
    // Node 20 (a V8 that still has its shared info names it). Either way the closure that
    // locates the scope is `track`, created in it, and the text says so.
    const track = functionPosition('track')
    assert.deepEqual(
      [seen.holder.kind, seen.holder.closure, seen.holder.file, seen.holder.line, seen.holder.column],
      ['closure', 'track', APP, track.line, track.column],
    )
    assert.ok([undefined, 'makeTracker'].includes(seen.holder.function), seen.holder.function)
    const scope = seen.holder.function === undefined ? 'a scope enclosing' : 'makeTracker, which encloses'
    assert.equal(seen.holder.description, `seen (Map), a variable of ${scope} track at ${APP}:${track.line}:${track.column}`)
    assertFolded(seen)
    const cache = grown.get('cache')
    show(`${scenario} grown Map (cache)`, cache)
    assert.equal(cache.id, cached.heldBy.id)
    assert.equal(grown.get('stats.requests')?.name, 'Array')

    const summary = await analyzeSnapshot(second, { top: 30 })
    const largest = summary.largest.find((o) => o.id === cache.id)
    assert.equal(largest?.holder.name, 'cache')
    assert.equal(largest.retainerPath.at(-1), 'cache (Map)')
  })
}

test('CLI: the holder comes first, then the folded path', () => {
  const [first, second] = snapshots('holder-main.js')
  const bin = path.join(__dirname, '..', '..', 'bin', 'leakproof.js')
  const out = spawnSync(process.execPath, [bin, 'diff', first, second], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  const lines = out.stdout.split('\n')
  const at = lines.findIndex((l) => /^ {2}\d+\. CacheEntry: 2,000 new/.test(l))
  assert.match(lines[at + 1], /^ {5}held by cache \(Map\), a module-level variable of .*holder-app\.js$/)
  assert.match(lines[at + 2], /^ {5}via \(Node internals[^)]*\) → .* → cache \(Map\) → table → CacheEntry ×2,000$/)
})

test('a Map whose table was not reallocated since the baseline is still the holder, named by its variable', async () => {
  const out = fs.mkdtempSync(path.join(dir, 'table-'))
  const fixture = path.join(FIXTURES, 'holder-table.js')
  execFileSync(process.execPath, [fixture, out])
  const d = await diffSnapshots(path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot'))
  const entries = d.suspects.find((s) => s.name === 'CacheEntry')
  show('table not reallocated', entries)
  assert.equal(entries.count, 20_000)
  assert.match(entries.heldBy.name, /^Map\b/, JSON.stringify(entries.heldBy))
  assert.deepEqual([entries.holder?.name, entries.holder?.kind, entries.holder?.file], ['cache', 'module', fixture])
  assert.match(entries.readablePath.join(' → '), /cache \(Map\) → table → CacheEntry ×20,000$/)
})

test('a module-level variable names no closure of its module; a factory\'s variable names the factory', async () => {
  const out = fs.mkdtempSync(path.join(dir, 'scopes-'))
  const fixture = path.join(FIXTURES, 'holder-scopes.js')
  execFileSync(process.execPath, [fixture, out, '5000'])
  const d = await diffSnapshots(path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot'))
  const grown = new Map(d.grownCollections.map((c) => [c.holder?.name, c]))

  // The SIGTERM handler and the stats timer keep the module's scope alive too, and come first.
  const cache = grown.get('cache')
  show('module variable beside unrelated closures', cache)
  assert.deepEqual([cache?.name, cache.before, cache.after], ['Map', 100, 5100])
  const h = cache.holder
  assert.deepEqual([h.kind, h.file, h.function, h.closure, h.line, h.column], ['module', fixture, undefined, undefined, undefined, undefined])
  assert.equal(h.description, `cache (Map), a module-level variable of ${fixture}`)
  assert.equal(d.suspects.find((s) => s.name === 'CacheEntry')?.holder?.description, h.description)

  // makeCounter is exported, so a closure of it is alive: the text names it and its line.
  const hits = grown.get('hits')
  show('factory variable', hits)
  const make = functionPosition('makeCounter', fixture)
  assert.deepEqual(
    [hits?.holder.kind, hits.holder.function, hits.holder.closure, hits.holder.file, hits.holder.line, hits.holder.column],
    ['closure', 'makeCounter', 'makeCounter', fixture, make.line, make.column],
  )
  assert.equal(hits.holder.description, `hits (Map), a variable of makeCounter at ${fixture}:${make.line}:${make.column}`)
})

test("a Map only a module's exports hold is named module.exports of that module, not by Node's loader", async () => {
  const out = fs.mkdtempSync(path.join(dir, 'exports-'))
  execFileSync(process.execPath, [path.join(FIXTURES, 'holder-exports.js'), out])
  const d = await diffSnapshots(path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot'))
  const sessions = d.grownCollections.find((c) => c.name === 'Map' && c.after >= 5100)
  show('exported Map', sessions)
  const store = path.join(FIXTURES, 'holder-exports-store.js')
  assert.deepEqual([sessions?.holder?.name, sessions.holder.kind, sessions.holder.file], ['module.exports.sessions', 'module', store])
  assert.equal(sessions.holder.description, `module.exports.sessions (Map), exported by ${store}`)
  assert.equal(d.suspects.find((s) => s.name === 'Session')?.holder?.description, sessions.holder.description)
})
