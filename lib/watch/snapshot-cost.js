'use strict'

const v8 = require('node:v8')

/** Bytes in a mebibyte. */
const MiB = 1024 * 1024

/**
 * File bytes per byte of live heap outside the large-object space: every object is a node
 * (type, name, id, size, edge count…) and every reference an edge, written as decimal
 * text. Measured 1.8–2.2 for heaps of objects, closures and arrays (docs/benchmarks.md,
 * "Heap snapshots: predicted and real cost").
 */
const FILE_PER_HEAP_BYTE = 2.0

/**
 * File bytes per byte of the large-object space: big strings (V8 writes at most 1 KiB of a
 * string's text) and big arrays (one edge per element, about two bytes of file per byte of
 * array). A middle value: the first is overestimated, the second under.
 */
const FILE_PER_LARGE_OBJECT_BYTE = 1.0

/** What every snapshot holds whatever the heap: the meta data, the builtins, Node's own objects. */
const FILE_OVERHEAD_BYTES = 3 * MiB

/**
 * The pause, in ms, for a file of `mb` MiB, by V8 generation: `scale · mb^exponent`. V8
 * builds the graph and then writes it from the main thread, so the pause grows a little
 * faster than the file. Fitted on this project's reference machine (2-core Xeon):
 * Node 20 (V8 11.3) is slower than Node 22 and later.
 */
const PAUSE_MODELS = [
  { fromMajor: 22, scale: 8.9, exponent: 1.25 },
  { fromMajor: 0, scale: 22, exponent: 1.15 },
]

/** The most a learned correction moves the model, either way: one odd snapshot must not rule. */
const MAX_CORRECTION = 8

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
  return FILE_PER_HEAP_BYTE * (liveHeapBytes - large) + FILE_PER_LARGE_OBJECT_BYTE * large + FILE_OVERHEAD_BYTES
}

/** The pause the model gives for writing a file of `bytes` on Node `major`. */
function modelPauseMs(bytes, major) {
  const { scale, exponent } = PAUSE_MODELS.find((m) => major >= m.fromMajor) ?? PAUSE_MODELS[PAUSE_MODELS.length - 1]
  return scale * (bytes / MiB) ** exponent
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

module.exports = { SnapshotCost, modelFileBytes, modelPauseMs }
