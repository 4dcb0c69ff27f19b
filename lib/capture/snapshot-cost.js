'use strict'

const v8 = require('node:v8')

/** Bytes in a mebibyte. */
const MiB = 1024 * 1024

/**
 * File bytes per byte of live heap outside the large-object space and above Node's own: every
 * object is a node (type, name, id, size, edge count…) and every reference an edge, written
 * as decimal text, but a string's text only up to 1 KiB. Measured (docs/benchmarks/capture.md, "Heap
 * snapshots: predicted and real cost"): 1.4–2.1 for heaps of small objects, Maps, closures and
 * boxed numbers, 0.9–1.0 for a service-like blend with 0.2–2 KB strings, 0.01–0.12 for 100 KB
 * strings. 1.45 keeps the first two within 1.45× either way; big strings are overestimated
 * until a snapshot has been learned from.
 */
const FILE_PER_HEAP_BYTE = 1.45

/**
 * File bytes per byte of the large-object space (objects over 128 KiB): big arrays write an
 * edge per element and their elements' nodes; big strings at most 1 KiB, big double arrays
 * hardly anything. Fitted with the factor above on arrays of 20,000 boxed and unboxed doubles.
 */
const FILE_PER_LARGE_OBJECT_BYTE = 1.75

/** The heap every Node process has before the application's (builtins, Node's own modules). */
const NODE_OWN_HEAP_BYTES = 5e6

/** What a snapshot of Node's own heap writes, whatever the application: meta data, builtins, Node's objects. */
const FILE_OVERHEAD_BYTES = 5 * MiB

/**
 * The pause, in ms, for a file of `mb` MiB, by V8 generation: `floorMs + scale · mb^exponent`.
 * V8 collects garbage and walks the heap first (the floor: 0.15–0.3 s of CPU for a file of a
 * few MiB, whatever the heap), then builds the graph and writes it from the main thread, so
 * the pause grows a little faster than the file. Fitted on the CPU time of the snapshots on
 * this project's reference machine (2-core Xeon), which is the pause of an idle machine:
 * Node 20 and 22 are slower than Node 24 and later. Sharing the cores makes the pause longer.
 */
const PAUSE_MODELS = [
  { fromMajor: 24, floorMs: 120, scale: 8.9, exponent: 1.25 },
  { fromMajor: 0, floorMs: 120, scale: 22, exponent: 1.15 },
]

/**
 * The most a learned correction moves the model, either way: one odd snapshot must not rule.
 * Wide enough for heaps of big strings, whose files are 1/70 of the model's at 300 MB.
 */
const MAX_CORRECTION = 128

/**
 * Predicts what a heap snapshot of this process will cost — its file size and how long it
 * stops the event loop — from the heap's statistics, and learns from the snapshots this
 * process has written: each real snapshot corrects the model by the ratio of what it cost to
 * what was predicted (the newest ratio rules; the heap's shape and the machine's speed rarely
 * change within a process).
 */
class SnapshotCost {
  #nodeMajor
  #fileCorrection = 1
  #pauseCorrection = 1
  #learnedFrom = 0

  /** @param {number} [nodeMajor] the Node major the model is for (this one's by default). */
  constructor(nodeMajor = Number(process.versions.node.split('.')[0])) {
    this.#nodeMajor = nodeMajor
  }

  /**
   * The cost of a snapshot of a live heap of `liveHeapBytes` (a floor: snapshots collect
   * garbage first). The large-object space's share is read from V8's space statistics now.
   * @param {number} liveHeapBytes
   * @returns {{ bytes: number, pauseMs: number, basis: 'model' | 'learned' }}
   */
  predict(liveHeapBytes) {
    const bytes = this.#fileCorrection * modelFileBytes(liveHeapBytes, largeObjectShare())
    const pauseMs = this.#pauseCorrection * modelPauseMs(bytes, this.#nodeMajor)
    return { bytes: Math.round(bytes), pauseMs: Math.round(pauseMs), basis: this.#learnedFrom > 0 ? 'learned' : 'model' }
  }

  /**
   * A snapshot was written: what it really cost corrects later predictions.
   * @param {{ bytes: number, pauseMs: number }} predicted what `predict()` said for it.
   * @param {{ bytes: number, durationMs: number }} real its file size and pause.
   */
  learn(predicted, real) {
    if (!(real.bytes > 0 && real.durationMs > 0 && predicted.bytes > 0 && predicted.pauseMs > 0)) return
    this.#fileCorrection = clampCorrection((this.#fileCorrection * real.bytes) / predicted.bytes)
    // The pause is corrected against the model at the real size: a wrong size estimate is
    // the file correction's to fix, not the machine's speed.
    const modelPause = modelPauseMs(real.bytes, this.#nodeMajor)
    this.#pauseCorrection = clampCorrection(real.durationMs / modelPause)
    this.#learnedFrom++
  }
}

/** The file size the model gives for a live heap, `largeShare` of it in the large-object space. */
function modelFileBytes(liveHeapBytes, largeShare) {
  const large = liveHeapBytes * largeShare
  const applicationSmall = Math.max(0, liveHeapBytes - large - NODE_OWN_HEAP_BYTES)
  return FILE_PER_HEAP_BYTE * applicationSmall + FILE_PER_LARGE_OBJECT_BYTE * large + FILE_OVERHEAD_BYTES
}

/** The pause the model gives for writing a file of `bytes` on Node `major`. */
function modelPauseMs(bytes, major) {
  const { floorMs, scale, exponent } = PAUSE_MODELS.find((m) => major >= m.fromMajor) ?? PAUSE_MODELS[PAUSE_MODELS.length - 1]
  return floorMs + scale * (bytes / MiB) ** exponent
}

/** The share of the used heap in the large-object space now (0 when V8 does not say). */
function largeObjectShare() {
  let used = 0
  let large = 0
  for (const space of v8.getHeapSpaceStatistics()) {
    used += space.space_used_size
    if (space.space_name === 'large_object_space') large += space.space_used_size
  }
  return used > 0 ? large / used : 0
}

function clampCorrection(ratio) {
  return Math.min(MAX_CORRECTION, Math.max(1 / MAX_CORRECTION, ratio))
}

module.exports = { SnapshotCost, modelFileBytes, modelPauseMs, largeObjectShare }
