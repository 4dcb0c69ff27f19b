'use strict'

/**
 * What writing a heap snapshot takes from the machine's (or the container's) memory beyond
 * what the service holds already, predicted before it is written and learned from the
 * forked children this process has run. Measured on Node 24 (docs/benchmarks/capture.md,
 * "What a child costs a service's cgroup"):
 *
 * - V8 builds the snapshot's whole graph in native memory before it writes a byte (a node per
 *   object, an edge per reference, an id and a name for each): 4.6 times the file it then
 *   writes at 1 GB, the file being a proxy for the object and reference count;
 * - a forked child also holds the originals of the pages the service writes while the child
 *   runs, and the copies its own garbage collection makes: at most the live heap and its
 *   young generation, whatever the file (`COPY_ON_WRITE_PER_HEAP_BYTE`);
 * - the file's page cache is not counted: the watchdog drops each written step of it
 *   (src/core/capture/fork/page_cache.rs), and the kernel reclaims it before it kills.
 *
 * With the file kept out of the page cache, a child's peak private memory is the growth of
 * the service's memory cgroup (every page a child writes, or keeps as the service copies it,
 * is charged once), so each child's measured peak corrects the next prediction.
 *
 * What is free to meet that need is `availableMemoryBytes()`; a snapshot that does not fit is
 * told in words by `memoryDetail`.
 */
const os = require('node:os')
const { processMemory } = require('../detect/system-memory')
const { bytesText } = require('../shared/bytes-text')

/**
 * V8's snapshot graph and the child's own copies, per byte of the predicted file. Measured on
 * Node 24, the growth of a service's cgroup less the live heap was 5.1–6.5 times the file
 * snapshot-cost.js predicts for a catalog service (Maps of products with short strings,
 * arrays and closures, 0.1–2 GB), 8.7–10.2 for a heap of nothing but the smallest objects
 * (three fields each); an in-process snapshot's graph is 5.1–5.4. 6.5 asks a catalog
 * service's child 1.03–1.24 times what its cgroup grew by, and the smallest objects' first child about
 * 0.8 times (its oom_score_adj of 1000 makes a child the first to go, never the service);
 * each child measured corrects it.
 */
const GRAPH_PER_FILE_BYTE = 6.5

/**
 * V8's graph per byte of the predicted file for a snapshot written in-process: the most any
 * heap measured took (the smallest objects' 8.7–10.2, above), since nothing is learned there
 * and no child can be killed in the service's place: a graph under-predicted in a container
 * would have the kernel kill the service itself.
 */
const IN_PROCESS_GRAPH_PER_FILE_BYTE = 10.5

/**
 * The pages a child may hold beside its graph, per byte of live heap: the service rewrites up
 * to its whole heap while the child runs (measured under load: 1.0–1.2 GB of a 1 GB heap in
 * 70–90 s, 2.1 GB of a 2 GB one), its own full GC sweeping and compacting what it touches.
 */
const COPY_ON_WRITE_PER_HEAP_BYTE = 1

/** What a process of its own costs beside any heap: its stacks, malloc's arenas, V8's tables. */
const FIXED_BYTES = 64 * 1024 * 1024

/**
 * The bounds of a learned ratio of peak private memory to the file: one odd child (killed
 * early, a file of huge strings) must not rule.
 */
const MIN_LEARNED_PER_FILE_BYTE = 2
const MAX_LEARNED_PER_FILE_BYTE = 30

/**
 * Predicts the memory a snapshot needs: `need()`, by the model above until a child has been
 * measured, then by that child's peak private memory per byte of its file. With `factor`
 * (the `snapshotMemoryFactor` option), that multiple of the predicted file replaces both.
 */
class SnapshotMemory {
  #factor
  #learnedPerFileByte = null

  /** @param {{ factor?: number }} [options] `factor`: memory per byte of the predicted file, fixed (`snapshotMemoryFactor`). */
  constructor({ factor } = {}) {
    this.#factor = factor === undefined || factor === null ? null : factor
  }

  /**
   * The memory a snapshot of `fileBytes` (predicted), of a live heap of `liveHeapBytes`,
   * needs free before it starts: written by a forked child (`child`), which may also hold up
   * to the live heap in pages copied on write, or in-process. Inputs that are not numbers
   * ≥ 0 give Infinity: nothing is known to fit.
   * @param {{ fileBytes: number, liveHeapBytes: number, child: boolean }} snapshot
   * @returns {{ bytes: number, graphBytes: number, copiedBytes: number, basis: 'model' | 'learned' | 'snapshotMemoryFactor' }}
   */
  need({ fileBytes, liveHeapBytes, child }) {
    const basis = this.#factor !== null ? 'snapshotMemoryFactor' : this.#learnedPerFileByte !== null ? 'learned' : 'model'
    if (!(isByteCount(fileBytes) && isByteCount(liveHeapBytes))) return { bytes: Infinity, graphBytes: Infinity, copiedBytes: Infinity, basis }
    const copiedBytes = child ? COPY_ON_WRITE_PER_HEAP_BYTE * liveHeapBytes : 0
    if (basis === 'snapshotMemoryFactor') {
      const graphBytes = this.#factor * fileBytes
      return { bytes: graphBytes + copiedBytes, graphBytes, copiedBytes, basis }
    }
    const perFileByte = child ? (this.#learnedPerFileByte ?? GRAPH_PER_FILE_BYTE) : IN_PROCESS_GRAPH_PER_FILE_BYTE
    const graphBytes = perFileByte * fileBytes + FIXED_BYTES
    return { bytes: graphBytes + copiedBytes, graphBytes, copiedBytes, basis }
  }

  /**
   * A child wrote a file of `fileBytes`, its private memory peaking at `peakPrivateBytes`:
   * the next prediction asks that much per byte of file (the copies it held included, and
   * the live heap added again for the next: a service that did not copy its heap this time
   * may the next). Readings that are not positive numbers are ignored.
   * @param {{ fileBytes: number, peakPrivateBytes: number }} measured
   */
  learn({ fileBytes, peakPrivateBytes }) {
    if (!(fileBytes > 0 && peakPrivateBytes > 0 && Number.isFinite(fileBytes) && Number.isFinite(peakPrivateBytes))) return
    this.#learnedPerFileByte = Math.min(MAX_LEARNED_PER_FILE_BYTE, Math.max(MIN_LEARNED_PER_FILE_BYTE, peakPrivateBytes / fileBytes))
  }
}

/** Memory the process can still use: the machine's available memory, or the container's headroom. */
function availableMemoryBytes() {
  let available = os.freemem()
  const { containerLimit, containerUsage } = processMemory()
  if (containerLimit !== null && containerUsage !== null) {
    available = Math.min(available, containerLimit - containerUsage)
  }
  return available
}

/**
 * Why a snapshot does not fit in memory: what it needs, of what, and what is available.
 * @param {ReturnType<SnapshotMemory['need']>} needed what `need()` said.
 * @param {{ bytes: number }} predicted the snapshot's predicted file.
 * @param {number} heapUsed the live heap.
 * @param {number} freeMemory what `availableMemoryBytes()` said.
 */
function memoryDetail(needed, predicted, heapUsed, freeMemory) {
  const basis = { model: 'predicted', learned: "learned from this process's last child", snapshotMemoryFactor: 'snapshotMemoryFactor' }[needed.basis]
  const parts = [`${bytesText(needed.graphBytes)} for V8's snapshot graph of a file of about ${bytesText(predicted.bytes)} (${basis})`]
  if (needed.copiedBytes > 0) parts.push(`${bytesText(needed.copiedBytes)} for the pages of the ${bytesText(heapUsed)} heap the service may copy while the child writes`)
  return `about ${Math.round(needed.bytes)} bytes of memory needed (${bytesText(needed.bytes)}: ${parts.join(', ')}), ${Math.round(freeMemory)} available (${bytesText(freeMemory)})`
}

/** A number ≥ 0 (Infinity too: a need of Infinity fits nowhere). */
function isByteCount(value) {
  return typeof value === 'number' && value >= 0
}

module.exports = { SnapshotMemory, availableMemoryBytes, memoryDetail, GRAPH_PER_FILE_BYTE, IN_PROCESS_GRAPH_PER_FILE_BYTE, COPY_ON_WRITE_PER_HEAP_BYTE, FIXED_BYTES }
