'use strict'

// Looked up at each call (not destructured), as the tests replace it.
const native = require('./native')

/**
 * RSS and container memory, read by the native addon. Every field is there, `null` where the
 * platform does not say (the addon leaves those out). The one reader of the addon's figures,
 * for the public `systemMemory()` and for the watcher's snapshot checks alike.
 * @returns {{ rss: number | null, containerLimit: number | null, containerUsage: number | null, mallocInUse: number | null }}
 */
function systemMemory() {
  const m = native.nativeBinding().systemMemory()
  return {
    rss: m.rss ?? null,
    containerLimit: m.containerLimit ?? null,
    containerUsage: m.containerUsage ?? null,
    mallocInUse: m.mallocInUse ?? null,
  }
}

module.exports = { systemMemory }
