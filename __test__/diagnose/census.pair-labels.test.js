'use strict'

// One label per leaking collection whatever evidence named it (issue 69): each census fixture
// of census.holders.test.js run once more with heap snapshots written right before and after
// its growth (take-census.js, CENSUS_SNAPSHOTS_DIR). The census' report and the pair's report
// of the same growth, made as the watcher makes them (reports.js: the diff in a child process,
// the census' report published before it), carry the same label. Where the pair's own words
// differ, the case says why: it names what holds the census' collection (a chain's owner), or
// something vaguer (Node's own timer table).

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { Reports } = require('../../lib/diagnose/reports')
const { ownHolderLabel } = require('../../lib/diagnose/holder-label')
const { withSourcePositions } = require('../../lib/shared/source-positions')

const FIXTURES = path.join(__dirname, 'fixtures', 'census')

/**
 * The fixtures, and how the pair's own label relates to the census': `same`; `holds`, it names
 * what holds the census' collection; `vaguer`, a place in Node's own code or none.
 */
const CASES = [
  { name: 'map.js', own: 'same' },
  { name: 'module-function.js', own: 'same' },
  { name: 'private-field.js', own: 'same' },
  { name: 'large-collections.js', own: 'same' },
  { name: 'session-app.js', own: 'same' },
  { name: 'listeners.js', own: 'same' },
  { name: 'buffers.js', own: 'same' },
  { name: 'zlib-streams.js', own: 'same' },
  { name: 'agents.js', own: 'same' },
  { name: 'bundle.js', own: 'same' },
  { name: 'esm-scope.mjs', own: 'same' },
  { name: 'esm-service.js', own: 'same' },
  { name: 'chains.js', own: 'holds' },
  { name: 'chains.js', env: { LEAK_SHAPE: 'ring' }, own: 'holds' },
  { name: 'chains.js', env: { LEAK_SHAPE: 'sockets' }, own: 'same' },
  { name: 'intervals.js', own: 'vaguer' },
]

const dirs = []
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs fixture `name` with snapshots around its growth; resolves with its result (take-census.js). */
function runFixture(name, env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-pair-labels-'))
  dirs.push(dir)
  return new Promise((resolve, reject) => {
    const options = { env: { ...process.env, ...env, CENSUS_SNAPSHOTS_DIR: dir }, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }
    execFile(process.execPath, [path.join(FIXTURES, name)], options, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name} failed (${err.code ?? err.signal}): ${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)))
    })
  })
}

/**
 * The pair's report of `snapshots`, written by Reports after the census' report `census` (the
 * diff's child keeps no process alive, as in a service: a timer keeps this one meanwhile).
 */
function pairReport([baseline, followUp], census) {
  const alive = setInterval(() => {}, 1000)
  return new Promise((resolve, reject) => {
    const emit = (type, event) => (type === 'report' ? resolve(event) : reject(new Error(`${type}: ${JSON.stringify(event)}`)))
    new Reports(5, emit, {}, () => census).write(baseline, followUp)
  }).finally(() => clearInterval(alive))
}

// Two at a time: each runs a fixture and diffs its pair in a child process.
const results = new Map()
const queue = [...CASES]
const take = async () => {
  for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
    const key = `${c.name} ${JSON.stringify(c.env ?? {})}`
    const run = runFixture(c.name, c.env).then(async (result) => {
      const suspects = (await withSourcePositions({ suspects: result.holders })).suspects
      const census = { kind: 'no-snapshot', suspects }
      census.holderLabel = ownHolderLabel(census)
      return { census, pair: await pairReport(result.snapshots, census) }
    })
    results.set(key, run)
    await run.catch(() => {})
  }
}
const running = Promise.all([take(), take()])

for (const c of CASES) {
  const key = `${c.name} ${JSON.stringify(c.env ?? {})}`
  test(`${key}: the census' report and the pair's carry one label (the pair's own words: ${c.own})`, async () => {
    while (!results.has(key)) await running
    const { census, pair } = await results.get(key)
    const own = ownHolderLabel(pair)
    const told = JSON.stringify({ census: census.holderLabel, pair: pair.holderLabel, own })
    assert.ok(census.holderLabel !== null, told)
    assert.deepEqual(pair.holderLabel, census.holderLabel, told)
    const pathOf = (label) => label.holder.replace(/ \([^()]*\)$/, '')
    if (c.own === 'same') assert.deepEqual(own, census.holderLabel, told)
    else if (c.own === 'holds') assert.ok(own.site === census.holderLabel.site && pathOf(census.holderLabel).startsWith(`${pathOf(own)}.`), told)
    else assert.ok(own === null || own.site === '' || own.site.startsWith('node:'), told)
  })
}
