'use strict'

// Big heaps 2 (issue 68): a search service with a catalog of about 1 GB of heap and a leak of
// about 0.5 MB/s on top (every query kept), started as a user starts one with snapshots on
// (`node -r leakproof/register app.js`, LEAKPROOF_DIR, LEAKPROOF_LOG and
// LEAKPROOF_SNAPSHOT_SIGNAL=SIGUSR2 set), under loopback load, each in a memory cgroup:
// - roomy (a cgroup as big as the machine's free memory): a pair taken at the leak, and one
//   taken on demand (its baseline asked for with SIGUSR2 before the leak is reported, its
//   follow-up by the leak or a second signal), each diffed in a child of the service, the
//   pair's report naming the holder, the service's own RSS up by no more than 10% from the
//   follow-up's event to the report;
// - a cgroup too small for a forked child (2.5 GB, about twice the service's RSS): no OOM
//   kill, the census' report names the holder and says why there is no pair.
// In each, the service's loop probe (loop-probe.js) sees no stop over 250 ms of leakproof's
// since the catalog was loaded. The cgroup's peak charge against the live heap is reported.
//
// Run by hand, not in CI: BIG_HEAP_TESTS=1 npm run test:production -- __test__/production/big-heap-pair.test.js
// (about 15 minutes, up to 12 GB of memory and 8 GB of disk, nothing else running).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { events } = require('./helpers')
const { memoryCgroup } = require('../support/cgroup')
const { startService, finishService, killService, stopsOverLimit, longestStop, bigHeapSkip, MINUTE } = require('./big-heap-services')

const MB = 1e6
const GB = 1e9
const LEAK = { mode: 'leak', entryBytes: 2200 }
/** The pair's report must come this long after the leak at most: two snapshots of a 1 GB heap and their diff. */
const PAIR_WITHIN_MS = 12 * MINUTE
/** The census' report must come this long after the leak at most (big-heap.test.js). */
const CENSUS_WITHIN_MS = 4 * MINUTE
const LEAK_WITHIN_MS = 5 * MINUTE
/** The service's RSS may rise by this share at most while its pair is diffed. */
const RSS_RISE_WHILE_DIFFED = 0.1
/** Too small for a forked child of a 1 GB heap, roomy for the service itself (about 1.3 GB of RSS). */
const SMALL_CGROUP_BYTES = 2.5 * 1024 ** 3
const POLL_MS = 2000

const skip = bigHeapSkip('about 15 minutes, up to 12 GB of memory and 8 GB of disk')

/** Waits until `find(events)` gives something, or `deadline` passes; resolves with it, or undefined. */
async function waitFor(s, deadline, find) {
  for (;;) {
    const found = find(events(s.log))
    if (found !== undefined || Date.now() > deadline) return found
    if (s.child.exitCode !== null || s.child.signalCode !== null) throw new Error(`the service exited (${s.child.exitCode ?? s.child.signalCode})`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/** Starts the leaking service in a cgroup of `limitBytes`, with snapshots into `dir`. */
async function startInCgroup(t, name, limitBytes) {
  const cgroup = memoryCgroup(`leakproof-${name}-${process.pid}`, limitBytes)
  if (cgroup.missing !== undefined) {
    t.skip(cgroup.missing)
    return null
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `leakproof-${name}-`))
  const env = { LEAKPROOF_DIR: path.join(dir, 'snapshots'), LEAKPROOF_SNAPSHOT_SIGNAL: 'SIGUSR2' }
  const s = await startService({ name, config: LEAK }, dir, { env, wrap: cgroup.command })
  t.after(() => {
    killService(s)
    fs.rmSync(dir, { recursive: true, force: true })
    setTimeout(() => cgroup.remove(), 2000).unref()
  })
  return { s, cgroup }
}

/** The cgroup's peak charge (v1's max_usage_in_bytes, v2's memory.peak where the kernel has it), or null. */
function cgroupPeak(cgroup) {
  for (const file of ['memory.max_usage_in_bytes', 'memory.peak']) {
    try {
      return Number(fs.readFileSync(path.join(cgroup.dir, file), 'utf8'))
    } catch {
      // Not this version's file.
    }
  }
  return null
}

/** The service's highest RSS (its probe's) between `from` and `to`, and its RSS at `from`. */
function rssRise(s, from, to) {
  const readings = s.stats.rss.filter(([at]) => at >= from - 1000 && at <= to)
  const atStart = readings[0]?.[1] ?? NaN
  const highest = Math.max(...readings.map(([, bytes]) => bytes))
  return { atStart, highest, rise: highest / atStart - 1 }
}

/** The report's words about its pair, for the diagnostics. */
function pairText(report) {
  if (!report) return 'none'
  const noPair = report.heapSnapshot
  return `${report.evidence}: ${report.suspects[0]?.holder.description}${noPair ? ` (no pair: ${noPair.why}, ${noPair.detail})` : ''}`
}

/** Each snapshot's event, for the diagnostics. */
function snapshotsText(all) {
  return all.filter((e) => e.type === 'snapshot' || e.type === 'snapshot-skipped').map((e) => e.type === 'snapshot'
    ? `${e.role} ${(e.bytes / GB).toFixed(2)} GB (stop ${e.durationMs} ms, child ${Math.round(e.childMs / 1000)} s, child peak RSS ${(e.childPeakRssBytes / GB).toFixed(2)} GB${e.requestedBy ? `, by ${e.requestedBy}` : ''})`
    : `skipped (${e.skipped}: ${e.detail})`).join('; ')
}

/** The service's stops over the limit and the watcher's events, in seconds since its load started, for the diagnostics. */
function timelineText(s) {
  const at = (time) => `${((time - s.loadStartedAt) / 1000).toFixed(1)} s`
  const gcsIn = (endedAt, ms) => s.stats.gcs.filter(([gcAt, gcMs]) => gcAt <= endedAt && gcAt + gcMs >= endedAt - ms).map(([gcAt, gcMs]) => `a ${gcMs} ms GC at ${at(gcAt)}`)
  const stops = stopsOverLimit(s).map(([endedAt, ms]) => `a ${ms} ms stop ending at ${at(endedAt)} (${gcsIn(endedAt, ms).join(', ') || 'no GC'})`)
  const forced = events(s.log).filter((e) => e.type === 'sample' && e.forcedGc).map((e) => `${e.forcedGcReason} GC's floor at ${at(e.time)} (pause ${Math.round(e.gcPauseMs)} ms, ${Math.round(e.gcDurationMs)} ms from its request)`)
  const marks = events(s.log).filter((e) => e.type !== 'sample').map((e) => `${e.type}${e.role ? ` ${e.role}` : ''}${e.kind ? ` ${e.kind}` : ''} at ${at(e.time)}${e.forkedAt ? ` (forked at ${at(e.forkedAt)})` : ''}`)
  return `${stops.join(', ') || 'no stop over the limit'}; ${marks.join(', ')}; ${forced.join(', ')}`
}

/**
 * Judges a roomy service's pair: its report names the holder from the pair, and the service's
 * RSS rose by at most RSS_RISE_WHILE_DIFFED while it was diffed.
 */
function assertPairDiffedAside(t, s, cgroup, report) {
  const all = events(s.log)
  const followUp = all.find((e) => e.type === 'snapshot' && e.role === 'follow-up')
  const heap = all.filter((e) => e.type === 'sample').at(-1)?.heapUsed ?? NaN
  const rss = followUp ? rssRise(s, followUp.time, report.time) : null
  const peak = cgroupPeak(cgroup)
  const { longest } = longestStop(s)
  t.diagnostic(`${s.name}: snapshots ${snapshotsText(all)}`)
  t.diagnostic(`${s.name}: report ${pairText(report)}, ${followUp ? Math.round((report.time - followUp.time) / 1000) : '?'} s after the follow-up; the service's RSS ${rss ? `${(rss.atStart / GB).toFixed(2)} → at most ${(rss.highest / GB).toFixed(2)} GB (${(100 * rss.rise).toFixed(1)}%)` : '?'} meanwhile`)
  t.diagnostic(`${s.name}: cgroup peak ${peak === null ? '?' : `${(peak / GB).toFixed(2)} GB, ${(peak / heap).toFixed(1)}× the live heap of ${Math.round(heap / MB)} MB`}; longest stop ${longest[1]} ms, ${longest[2]}'s`)
  t.diagnostic(`${s.name}: ${timelineText(s)}`)
  assert.match(report.evidence, /^pair/, pairText(report))
  assert.match(report.suspects[0].holder.description, /^recentSearches \(Array\)/, pairText(report))
  assert.ok(followUp, 'the follow-up was written')
  assert.ok(rss.rise <= RSS_RISE_WHILE_DIFFED, `the service's RSS rose ${(100 * rss.rise).toFixed(1)}% while its pair was diffed`)
  assert.deepEqual(stopsOverLimit(s), [], 'stops of leakproof\'s over the limit ([endedAt, ms])')
}

test('a 1 GB heap with room: a pair at the leak, diffed in a child, names the holder; the service\'s RSS up at most 10% meanwhile', { skip, timeout: 20 * MINUTE }, async (t) => {
  const started = await startInCgroup(t, 'pair-at-leak', os.totalmem())
  if (started === null) return
  const { s, cgroup } = started
  const leak = await waitFor(s, s.loadStartedAt + LEAK_WITHIN_MS, (all) => all.find((e) => e.type === 'leak' && e.kind === 'heap'))
  assert.ok(leak, `no leak within ${LEAK_WITHIN_MS / 1000} s: ${snapshotsText(events(s.log))}`)
  const report = await waitFor(s, leak.time + PAIR_WITHIN_MS, (all) => all.find((e) => e.type === 'report' && e.kind === 'pair'))
  await finishService(s)
  assert.ok(report, `no pair's report within ${PAIR_WITHIN_MS / 1000} s of the leak: ${snapshotsText(events(s.log))}`)
  assertPairDiffedAside(t, s, cgroup, report)
  assert.equal(cgroup.oomKills(), 0)
})

test('a 1 GB heap with room: a pair on demand (SIGUSR2), diffed in a child, names the holder', { skip, timeout: 20 * MINUTE }, async (t) => {
  const started = await startInCgroup(t, 'pair-on-demand', os.totalmem())
  if (started === null) return
  const { s, cgroup } = started
  s.child.kill('SIGUSR2')
  const baseline = await waitFor(s, Date.now() + 5 * MINUTE, (all) => all.find((e) => e.type === 'snapshot' || e.type === 'snapshot-skipped'))
  assert.equal(baseline?.type, 'snapshot', `the baseline: ${snapshotsText(events(s.log))}`)
  assert.equal(baseline.requestedBy, 'signal')
  // The follow-up: the leak's, once reported, or the operator's second request a minute on.
  const askedAt = baseline.time + MINUTE
  const report = await waitFor(s, Date.now() + PAIR_WITHIN_MS, (all) => {
    if (Date.now() >= askedAt && !all.some((e) => e.type === 'snapshot' && e.role === 'follow-up') && !all.some((e) => e.type === 'snapshot-skipped' && e.skipped === 'in-progress')) s.child.kill('SIGUSR2')
    return all.find((e) => e.type === 'report' && e.kind === 'pair')
  })
  await finishService(s)
  assert.ok(report, `no pair's report: ${snapshotsText(events(s.log))}`)
  assertPairDiffedAside(t, s, cgroup, report)
  assert.equal(cgroup.oomKills(), 0)
})

test('a 1 GB heap in a cgroup too small for a forked child: no OOM kill, the census names the holder and the report says why there is no pair', { skip, timeout: 15 * MINUTE }, async (t) => {
  const started = await startInCgroup(t, 'pair-no-room', SMALL_CGROUP_BYTES)
  if (started === null) return
  const { s, cgroup } = started
  const leak = await waitFor(s, s.loadStartedAt + LEAK_WITHIN_MS, (all) => all.find((e) => e.type === 'leak' && e.kind === 'heap'))
  assert.ok(leak, `no leak within ${LEAK_WITHIN_MS / 1000} s`)
  const report = await waitFor(s, leak.time + CENSUS_WITHIN_MS, (all) => all.find((e) => e.type === 'report'))
  await finishService(s)
  const all = events(s.log)
  const { longest } = longestStop(s)
  t.diagnostic(`no room: ${timelineText(s)}`)
  t.diagnostic(`no room: snapshots ${snapshotsText(all)}; report ${pairText(report)}; cgroup peak ${((cgroupPeak(cgroup) ?? NaN) / GB).toFixed(2)} GB; longest stop ${longest[1]} ms, ${longest[2]}'s`)
  assert.equal(cgroup.oomKills(), 0, 'no process of the service\'s cgroup was killed')
  assert.ok(report, 'a report')
  assert.equal(report.evidence, 'census')
  assert.match(report.suspects[0].holder.description, /^recentSearches \(Array\)/, pairText(report))
  assert.equal(report.heapSnapshot?.why, 'memory', `the report says why there is no pair: ${pairText(report)}`)
  assert.match(report.heapSnapshot.detail, /memory needed/)
  assert.deepEqual(all.filter((e) => e.type === 'snapshot'), [], 'no snapshot written')
  assert.deepEqual(stopsOverLimit(s), [], 'stops of leakproof\'s over the limit ([endedAt, ms])')
})
