// Compiled by `tsc` in `npm run lint`: the declarations must type-check and describe a Map.
import { BoundedMap, RingBuffer, namedMaps, systemMemory, watch } from '..'

const cache = new BoundedMap<string, { id: number }>({ max: 100, ttl: 1000, policy: 's3-fifo' })
const asMap: Map<string, { id: number }> = cache
asMap.set('a', { id: 1 })
cache.set('b', { id: 2 }, { ttl: Infinity })
const hit: { id: number } | undefined = cache.get('a')
for (const [key, value] of cache) console.log(key.length, value.id)
const bytes = new BoundedMap<string, Buffer>({ maxBytes: 1 << 20, onEvict: (v, k, reason) => console.log(v.length, k, reason) })
bytes.stats().hitRatio.toFixed(2)
const ring = new RingBuffer<string>(10, { onDrop: (s) => s.toUpperCase() })
ring.push('a', 'b')
const first: string | undefined = ring.at(0)
const rss: number | undefined = systemMemory().rss
namedMaps().map((m) => m.name)
console.log(hit, first, rss)
const watcher = watch({ intervalMs: 5000, dir: '/tmp/snaps', beforeSnapshot: async ({ reason }) => reason })
watcher.on('leak', (e) => console.log(e.kind, e.slopeBytesPerSec.toFixed(0), e.projectedLimitAt))
watcher.on('sites', (e) => e.sites.map((s) => `${s.url}:${s.line}`))
watcher.stop()

// The analyzer's declarations.
import { analyzeSnapshot, diffSnapshots } from '..'
async function analyzerTypes(): Promise<void> {
  const summary = await analyzeSnapshot('a.heapsnapshot', { top: 5, onProgress: (p) => console.log(p.phase, p.done / p.total) })
  summary.classes.map((c) => c.retainedSize.toFixed(0))
  const diff = await diffSnapshots('a.heapsnapshot', 'b.heapsnapshot', { stillAliveIn: 'c.heapsnapshot' })
  const path: string[] = diff.suspects[0].retainerPath
  console.log(path.join(' → '), diff.grownCollections[0]?.after)
}
void analyzerTypes
