'use strict'

/**
 * How often keys were asked for lately, approximately and in little memory: TinyLFU's
 * count-min sketch (Einziger et al., "TinyLFU: A Highly Efficient Cache Admission Policy").
 * Four rows of 4-bit counters, two to a byte; a key counts in one counter of each row, and
 * its frequency is the least of its four (a collision can only raise it). After
 * `SAMPLE_FACTOR` × entries additions every counter is halved, so old popularity fades.
 *
 * Keys come in as 32-bit hashes (key-hash.js); each row takes its counter from its own
 * remix of the hash.
 */

/** Counters per entry the sketch is sized for, over its four rows (4 bits each: 4 bytes an entry). */
const COUNTERS_PER_ENTRY = 8
/** Additions between two halvings, per entry. */
const SAMPLE_FACTOR = 10
/** Odd multipliers that give each row its own index from one hash. */
const ROW_SEEDS = [0x9e3779b1, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f]
/** A counter's largest value. */
const MAX_COUNT = 15

class FrequencySketch {
  #table // Uint8Array: row r's counter i is nibble (r * width + i) of the table
  #mask // width - 1; width, counters a row, is a power of two
  #width
  #additions = 0
  #sampleSize

  /**
   * @param {number} entries the entries the sketch counts for (the map's bound, or an estimate).
   * @param {number} [countersPerEntry] counters per entry over the four rows.
   */
  constructor(entries, countersPerEntry = COUNTERS_PER_ENTRY) {
    const wanted = Math.max(16, Math.ceil((entries * countersPerEntry) / 4))
    this.#width = 2 ** Math.ceil(Math.log2(wanted))
    this.#mask = this.#width - 1
    this.#table = new Uint8Array((4 * this.#width) / 2)
    this.#sampleSize = SAMPLE_FACTOR * Math.max(1, entries)
  }

  /** Counts one more request for the key of `hash`. */
  increment(hash) {
    let added = false
    for (let row = 0; row < 4; row++) {
      const counter = this.#counterOf(hash, row)
      const byte = counter >>> 1
      const shift = (counter & 1) << 2
      const value = (this.#table[byte] >>> shift) & MAX_COUNT
      if (value === MAX_COUNT) continue
      this.#table[byte] += 1 << shift
      added = true
    }
    if (added && ++this.#additions >= this.#sampleSize) this.#halve()
  }

  /** The key of `hash`'s estimated requests since the counts were last halved (0–15). */
  frequency(hash) {
    let least = MAX_COUNT
    for (let row = 0; row < 4; row++) {
      const counter = this.#counterOf(hash, row)
      const value = (this.#table[counter >>> 1] >>> ((counter & 1) << 2)) & MAX_COUNT
      if (value < least) least = value
    }
    return least
  }

  /** The index, over the whole table, of `hash`'s counter in `row`. */
  #counterOf(hash, row) {
    let h = Math.imul(hash, ROW_SEEDS[row])
    h ^= h >>> 15
    return row * this.#width + (h & this.#mask)
  }

  /** Halves every counter (each nibble of each byte), and the additions with them. */
  #halve() {
    const table = this.#table
    for (let i = 0; i < table.length; i++) table[i] = (table[i] >>> 1) & 0x77
    this.#additions = Math.floor(this.#additions / 2)
  }
}

module.exports = { FrequencySketch, COUNTERS_PER_ENTRY, SAMPLE_FACTOR }
