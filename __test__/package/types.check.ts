// Compiled by `tsc` in `npm run lint`: the declarations must type-check and describe a Map.
import { BoundedMap, RingBuffer, namedMaps, systemMemory, watch } from '../..'
import {
  trackEmitter, untrackEmitter, listenerSites, trackListeners, trackListenersFromEnv, listenerLeaks,
  trackTimers, trackPromises, liveSites, compareLiveSites, census, compareCensus, topGrowingSites, type ListenerLeak,
  type LiveSites, type Census,
} from '../..'
import { EventEmitter } from 'node:events'

const cache = new BoundedMap<string, { id: number }>({ max: 100, ttl: 1000, policy: 's3-fifo' })
const asMap: Map<string, { id: number }> = cache
asMap.set('a', { id: 1 })
cache.set('b', { id: 2 }, { ttl: Infinity })
const hit: { id: number } | undefined = cache.get('a')
const made: { id: number } = cache.getOrInsertComputed('c', (key: string) => ({ id: key.length }))
console.log(made.id, cache.getOrInsert('d', { id: 4 }).id)
for (const [key, value] of cache) console.log(key.length, value.id)
const bytes = new BoundedMap<string, Buffer>({ maxBytes: 1 << 20, onEvict: (v, k, reason) => console.log(v.length, k, reason) })
bytes.stats().hitRatio.toFixed(2)
const ring = new RingBuffer<string>(10, { onDrop: (s) => s.toUpperCase() })
ring.push('a', 'b')
const first: string | undefined = ring.at(0)
const rss: number | null = systemMemory().rss
namedMaps().map((m) => m.name)
console.log(hit, first, rss)
const watcher = watch({ intervalMs: 5000, dir: '/tmp/snaps', beforeSnapshot: async ({ reason }) => reason })
watcher.on('leak', (e) => console.log(e.kind, e.slopeBytesPerSec.toFixed(0), e.projectedLimitAt))
watcher.on('sites', (e) => e.sites.map((s) => `${s.url}:${s.line} ${s.package ?? ''} ${s.appFrame?.url ?? ''}:${s.appFrame?.line ?? ''}`))
const heapTrend = watcher.status().memory.find((m) => m.kind === 'heap')
const written: number = watcher.status().snapshots.counts.written
console.log(heapTrend?.slopeBytesPerSec, written, watcher.latestReport()?.kind)
const request = watcher.snapshot('api')
void request.done.then((e) => console.log(request.id, request.role, e && 'path' in e ? e.path : e?.skipped))
watcher.stop()
watch({ dir: '/tmp/snaps', snapshotSignal: 'SIGUSR2', afterSnapshot: async ({ path }) => path })

// The report page.
import { writeReportPage, writeReport } from '../..'
void writeReportPage('/tmp/snaps', { out: '/tmp/report.html' }).then((r) => console.log(r.path, r.bytes, r.notes.join('\n')))
// The former name, deprecated, still types.
void writeReport(['/tmp/a', '/tmp/b'], { out: '/tmp/fleet.html' }).then((r) => console.log(r.processes))

// The analyzer's declarations.
import { analyzeSnapshot, diffSnapshots } from '../..'
async function analyzerTypes(): Promise<void> {
  const summary = await analyzeSnapshot('a.heapsnapshot', { top: 5, onProgress: (p) => console.log(p.phase, p.done / p.total) })
  summary.classes.map((c) => c.retainedSize.toFixed(0))
  const diff = await diffSnapshots('a.heapsnapshot', 'b.heapsnapshot', { stillAliveIn: 'c.heapsnapshot' })
  const path: string[] = diff.suspects[0].retainerPath
  console.log(path.join(' → '), diff.grownCollections[0]?.after)
  const byPaths = await diffSnapshots('a.heapsnapshot', 'b.heapsnapshot', { match: 'paths' })
  const matchedBy: 'ids' | 'paths' = byPaths.matchedBy
  // @ts-expect-error: not a way to match
  await diffSnapshots('a.heapsnapshot', 'b.heapsnapshot', { match: 'fuzzy' })
  console.log(matchedBy)
}
void analyzerTypes

const bus: EventEmitter = trackEmitter(new EventEmitter(), { name: 'bus', threshold: 20, captureFrom: 2, sites: 'growth' })
const signal: AbortSignal = trackEmitter(new AbortController().signal)
listenerSites(bus).forEach((s) => console.log(String(s.event), s.site.length, s.count))
untrackEmitter(signal)
listenerLeaks.on('listener-leak', (leak: ListenerLeak) => console.log(leak.emitter, leak.site, leak.count, leak.growth))
const tracker = trackListeners({ threshold: 10 })
const fromEnv = trackListenersFromEnv(process.env)
const stops = [trackTimers(), trackPromises(), tracker, fromEnv]
const taken: LiveSites = liveSites()
const growth = compareLiveSites(taken, liveSites()).map((g) => `${g.kind} ${g.site} +${g.growth}`)
// The former names, deprecated, still type.
const former: Census = census()
console.log(compareCensus(former, taken).length)
topGrowingSites(5).forEach((g) => console.log(g.event, g.before, g.after))
console.log(taken.intervals[0]?.kind, taken.listeners[0]?.emitters, growth, tracker.captureFrom, tracker.sites)
for (const stop of stops) stop?.untrack()
