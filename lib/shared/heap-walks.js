'use strict'

/**
 * leakproof's own walks of this thread's heap (the census' passes, lib/diagnose/census/) kept
 * apart from the snapshots of it (lib/capture/). A pass under way holds the objects it has yet
 * to visit (its frontier): a snapshot written meanwhile shows them held by leakproof's
 * `CensusPass`, which the pair's diff then names as the leak's holder. So a snapshot waits for
 * the passes under way to end, and no pass begins while a snapshot waits or is being taken
 * (until its heap is fixed: a child forked, an in-process write done). A pass is bounded in
 * objects and ends at its next slice once its census stops, so the wait is too.
 *
 * Per thread: each thread loads its own copy of this module, and walks only its own heap.
 */
class HeapWalks {
  #walking = 0
  #snapshots = 0
  #waiting = []

  /**
   * Resolves once no snapshot waits or is being taken, with the function that ends the walk
   * (a second call does nothing); until then, snapshots wait.
   */
  async beginWalk() {
    while (this.#snapshots > 0) await this.#turnChange()
    this.#walking++
    return this.#ender(() => this.#walking--)
  }

  /**
   * Resolves once no walk is under way, with the function that lets walks begin again, to be
   * called once the snapshot's heap is fixed (a second call does nothing). Walks asked for
   * from the call on wait, so that a snapshot is never put off by one begun after it: a
   * snapshot that waits a while before it is written (a forked child's settling) calls this
   * first, and awaits it after.
   */
  async quietForSnapshot() {
    this.#snapshots++
    while (this.#walking > 0) await this.#turnChange()
    return this.#ender(() => this.#snapshots--)
  }

  #turnChange() {
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  #ender(count) {
    let ended = false
    return () => {
      if (ended) return
      ended = true
      count()
      const waiting = this.#waiting
      this.#waiting = []
      for (const resolve of waiting) resolve()
    }
  }
}

/** This thread's walks and snapshots. */
const heapWalks = new HeapWalks()

module.exports = { HeapWalks, heapWalks }
