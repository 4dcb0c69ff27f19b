'use strict'

/**
 * Detection benchmark: scenarios of leaks of different kinds and speeds and healthy
 * workloads, each a real http service under loopback load (bench/fixtures/scenario.js).
 * For each: when leakproof first reports a leak (and its kind), and when the memwatch
 * rule (5 consecutive growing full-GC floors, from @airbnb/node-memwatch `stats` events)
 * first fires. Both watch the same process.
 */
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const DURATION_MS = Number(process.env.BENCH_DETECT_MS) || 60_000
const SCENARIOS = [
  ['heap leak (sessions Map, fast)', 'heap'],
  ['heap leak (recent-requests array, slow)', 'heap'],
  ['external leak (Buffers)', 'external'],
  ['native leak (TLS contexts)', 'native'],
  ['healthy sawtooth', null],
  ['healthy cache warming up', null],
  ['healthy bursts', null],
]

/** The memwatch rule: the first time the used heap after a full GC grew 5 times in a row. */
function memwatchRule(records) {
  let run = 0
  let last = Infinity
  for (const r of records) {
    run = r.usedHeapSize > last ? run + 1 : 0
    last = r.usedHeapSize
    if (run >= 5) return r.at
  }
  return null
}

function main() {
  const rows = []
  for (const [name, expected] of SCENARIOS) {
    const out = execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'scenario.js'), name, String(DURATION_MS)], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: DURATION_MS + 60_000,
    })
    const records = out.trim().split('\n').map((l) => JSON.parse(l))
    const ours = records.filter((r) => r.who === 'leakproof')
    const first = ours[0]
    const rightKind = expected === null ? null : ours.find((r) => r.event.kind === expected)
    const memwatchAt = memwatchRule(records.filter((r) => r.who === 'memwatch'))
    const s = (ms) => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`)
    rows.push({
      scenario: name,
      leaking: expected ?? 'no',
      'leakproof first report': first ? `${s(first.at)} (${first.event.kind})` : '-',
      [`leakproof: ${'right kind'}`]: expected === null ? '' : s(rightKind?.at),
      'memwatch rule': s(memwatchAt),
      'false alarm (leakproof)': expected === null ? (first ? 'YES' : 'no') : (ours.some((r) => r.event.kind !== expected) ? `also ${[...new Set(ours.map((r) => r.event.kind))].join(',')}` : 'no'),
      'false alarm (memwatch)': expected === null ? (memwatchAt === null ? 'no' : 'YES') : '',
      'full GCs seen': records.filter((r) => r.who === 'memwatch').length,
    })
  }
  console.table(rows)
  return rows
}

if (require.main === module) main()
module.exports = { main }
