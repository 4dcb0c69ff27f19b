'use strict'

// Looked up at each call (not destructured), as the tests replace it.
const native = require('../shared/native')

/**
 * RSS and container memory, read by the native addon. Every field is there, `null` where the
 * platform does not say (the addon leaves those out). The one reader of the addon's figures,
 * for the public `systemMemory()` and for the watcher's snapshot checks alike.
 * @returns {{ rss: number | null, containerLimit: number | null, containerUsage: number | null, mallocInUse: number | null }}
 */
function systemMemory() {
  return fromAddon(native.nativeBinding().systemMemory(true))
}

/**
 * `systemMemory()` without `mallocInUse` (always null): what the watcher reads each interval
 * and before a snapshot. glibc counts malloc's memory by walking its free lists under its
 * locks, which costs far more than the rest, and only the Rust thread needs it.
 * @returns {ReturnType<typeof systemMemory>}
 */
function processMemory() {
  return fromAddon(native.nativeBinding().systemMemory(false))
}

/** The addon's figures with every field there, null where it left one out. */
function fromAddon(m) {
  return {
    rss: m.rss ?? null,
    containerLimit: m.containerLimit ?? null,
    containerUsage: m.containerUsage ?? null,
    mallocInUse: m.mallocInUse ?? null,
  }
}

module.exports = { systemMemory, processMemory }
