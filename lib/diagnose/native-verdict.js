'use strict'

const { setTimeout: sleep } = require('node:timers/promises')
const { systemMemory } = require('../detect/system-memory')
const { readMappings, compareMappings, nativeAdvice } = require('./native-memory')
const { SYSTEM_CLOCK } = require('../shared/clock')

/**
 * Below this share of a native leak's growth held by JS objects (the native memory under
 * the entries a collection gained in a snapshot pair), or with no collection over native
 * handles grown in the census, the report says no JS object holds it: the rest is in an
 * addon's or a C library's own memory.
 */
const HELD_SHARE = 0.25

/**
 * What is known of native memory at the start of a comparison, both read asynchronously
 * and awaited by `nativeVerdict`: the resident bytes by kind of mapping (/proc/self/smaps)
 * and the bytes glibc's malloc has handed out (null where not glibc).
 * @param {import('../shared/clock').Clock} [clock] the time of the start
 * @returns {{ at: number, mappings: Promise<object | null>, mallocInUse: Promise<number | null> }}
 */
function nativeStart(clock = SYSTEM_CLOCK) {
  return { at: clock.now(), mappings: readMappings(clock), mallocInUse: mallocInUse() }
}

/**
 * Whether JS objects hold a native leak's memory, and, when they do not, where it is and
 * what to run next. `growthBytes`: the native floors' growth over the comparison;
 * `heldBytes`: what JS objects were seen to hold of it (null when only their count is known);
 * `holders`: how many holders over native handles were found (null: nobody looked, the
 * verdict is `'not judged'`); `start` and `end`: `nativeStart()`'s readings at both ends
 * (`end` read now when not given).
 * @returns {Promise<object>} `{ growthBytes, heldByJsBytes, verdict, mallocGrowthBytes,
 *   mappings, addons }`, with `explanation` and `next` when no JS object holds it.
 */
async function nativeVerdict({ growthBytes, heldBytes, holders = null, start, end = nativeStart() }) {
  const [before, after, mallocBefore, mallocNow] = await Promise.all([start.mappings, end.mappings, start.mallocInUse, end.mallocInUse])
  const mallocGrowthBytes = mallocBefore === null || mallocNow === null ? null : mallocNow - mallocBefore
  const grownKinds = before === null || after === null ? [] : compareMappings(before, after)
  const addons = after?.addons ?? []
  const held = heldBytes === null ? holders > 0 : growthBytes > 0 && heldBytes >= HELD_SHARE * growthBytes
  const judged = heldBytes !== null || holders !== null
  const verdict = {
    growthBytes,
    heldByJsBytes: heldBytes,
    verdict: !judged ? 'not judged' : held ? 'held by JS objects' : 'no JS object holds it',
    mallocGrowthBytes,
    mappings: grownKinds,
    addons,
  }
  if (held || !judged) return verdict
  const advice = nativeAdvice({ growthBytes, mallocGrowthBytes, grownKinds, addons, platform: process.platform })
  return { ...verdict, explanation: advice.explanation, next: advice.next }
}

/**
 * Tries at counting malloc's memory for a comparison: the count is spaced out process-wide
 * (the monitor thread counts too, and each count holds malloc's locks), so a try
 * may be deferred; a later one, MALLOC_RETRY_MS on, usually is not.
 */
const MALLOC_TRIES = 10
const MALLOC_RETRY_MS = 100

/** glibc malloc's bytes in use now, or null (not glibc, another allocator, or every try deferred). */
async function mallocInUse() {
  for (let attempt = 0; attempt < MALLOC_TRIES; attempt++) {
    if (attempt > 0) await sleep(MALLOC_RETRY_MS, undefined, { ref: false })
    try {
      const bytes = systemMemory().mallocInUse
      if (bytes !== null) return bytes
    } catch {
      return null
    }
  }
  return null
}

module.exports = { nativeStart, nativeVerdict }
