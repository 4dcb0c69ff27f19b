'use strict'

/**
 * Detection benchmark: scenarios of leaks of different kinds and speeds and healthy
 * workloads, each a real http service under loopback load (bench/fixtures/scenario.js).
 * For each: how long after the leak began leakproof first reports it with the right kind,
 * and the memwatch rule (5 consecutive growing full-GC floors, from @airbnb/node-memwatch
 * `stats` events) first fires; and every false alarm of either. Each watches its own copy
 * of the service, both running at once under the same conditions.
 *
 * Environment: BENCH_DETECT_MS (each scenario's run, default 60 s: 10 min of production at
 * the 10x compressed time of bench/fixtures/scenario.js), BENCH_DETECT_ONLY (see ONLY).
 */
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const path = require('node:path')
const { memwatchLoads } = require('./peers')

const DURATION_MS = Number(process.env.BENCH_DETECT_MS) || 60_000
/** BENCH_DETECT_ONLY: a regular expression on the scenarios' names (`healthy` for a soak of the healthy ones). */
const ONLY = new RegExp(process.env.BENCH_DETECT_ONLY ?? '')
const SCENARIOS = [
  ['heap leak (sessions Map, fast)', 'heap'],
  ['heap leak (sessions Map, from 20 s)', 'heap', 20_000],
  ['heap leak (recent-requests array, slow)', 'heap'],
  ['external leak (Buffers)', 'external'],
  ['native leak (TLS contexts)', 'native'],
  ['healthy sawtooth', null],
  ['healthy cache warming up', null],
  ['healthy lru-cache full during warm-up', null],
  ['healthy bursts', null],
]

/**
 * The memwatch rule: the used heap after a full GC grew 5 times in a row. Returns every
 * time it fires (it starts counting again after each).
 */
function memwatchRule(records) {
  const fired = []
  let run = 0
  let last = Infinity
  for (const r of records) {
    run = r.usedHeapSize > last ? run + 1 : 0
    last = r.usedHeapSize
    if (run >= 5) {
      fired.push(r.at)
      run = 0
    }
  }
  return fired
}

const seconds = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`)

/** Runs one scenario watched by `who`; resolves to its JSON records. */
async function runScenario(name, who) {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(__dirname, 'fixtures', 'scenario.js'), name, String(DURATION_MS), who], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: DURATION_MS + 60_000,
  })
  return stdout.trim().split('\n').map((l) => JSON.parse(l))
}

async function main() {
  const rows = []
  const withRule = memwatchLoads()
  if (!withRule) console.log(`@airbnb/node-memwatch does not load in Node ${process.version}: leakproof only, the rule's columns are n/a`)
  const watchers = withRule ? ['leakproof', 'memwatch'] : ['leakproof']
  for (const [name, expected, onset = 0] of SCENARIOS.filter(([name]) => ONLY.test(name))) {
    const records = (await Promise.all(watchers.map((who) => runScenario(name, who)))).flat()
    const ours = records.filter((r) => r.who === 'leakproof')
    const gcs = records.filter((r) => r.who === 'memwatch')
    const rule = memwatchRule(gcs)
    // An alarm before the leak began or in a healthy service is false. Another kind beside
    // the leaking one is listed apart: a Buffer or a TLS context also has a heap object.
    const ourFalse = ours.filter((r) => expected === null || r.at < onset)
    const alsoKinds = [...new Set(ours.filter((r) => expected !== null && r.at >= onset && r.event.kind !== expected).map((r) => r.event.kind))]
    const ruleFalse = rule.filter((at) => expected === null || at < onset)
    const ourHit = expected === null ? undefined : ours.find((r) => r.at >= onset && r.event.kind === expected)
    const ruleHit = expected === null ? undefined : rule.find((at) => at >= onset)
    rows.push({
      scenario: name,
      leaking: expected === null ? 'no' : `${expected}${onset ? ` from ${seconds(onset)}` : ''}`,
      leakproof: expected === null ? '' : seconds(ourHit && ourHit.at - onset),
      'memwatch rule': !withRule ? 'n/a' : expected === null ? '' : seconds(ruleHit === undefined ? undefined : ruleHit - onset),
      'leakproof also reported': alsoKinds.join(', '),
      'false alarms (leakproof)': ourFalse.map((r) => `${r.event.kind} ${seconds(r.at)}`).join(', ') || 'none',
      'false alarms (memwatch)': !withRule ? 'n/a' : ruleFalse.map(seconds).join(', ') || 'none',
      'full GCs seen': withRule ? gcs.length : 'n/a',
    })
  }
  console.table(rows)
  return rows
}

if (require.main === module) main()
module.exports = { main }
