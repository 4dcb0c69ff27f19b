// Compiled by `tsc` in `npm run lint`: an ESM service imports every part by name from the
// package, as `import { … } from 'leakproof'` does at run time.
import { BoundedMap, RingBuffer, watch, analyzeSnapshot, diffSnapshots, systemMemory, liveSites } from 'leakproof'
import type { Watcher, SnapshotSummary } from 'leakproof'

const cache = new BoundedMap<string, number>({ max: 10 })
cache.set('a', 1)
const recent = new RingBuffer<string>(5)
recent.push('x')
const watcher: Watcher = watch({ intervalMs: 1000 })
watcher.stop()
const summary: Promise<SnapshotSummary> = analyzeSnapshot('app.heapsnapshot')
void diffSnapshots('a.heapsnapshot', 'b.heapsnapshot')
const rss: number | null = systemMemory().rss
void [summary, rss, liveSites()]
