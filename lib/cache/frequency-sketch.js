'use strict'

/**
 * How often keys were asked for lately, approximately and in little memory: TinyLFU's
 * count-min sketch (Einziger et al., "TinyLFU: A Highly Efficient Cache Admission Policy").
 * 4-bit counters, eight to a 32-bit word; a key counts in four counters and its frequency is
 * the least of them (a collision can only raise it). After `SAMPLE_FACTOR` × entries
 * additions every counter is halved, so old popularity fades.
 *
 * Laid out as Caffeine's sketch is: the table is cut into blocks of 16 words (64 bytes, a
 * cache line), a key's four counters all lie in one block, one in each quarter of it (its
 * "rows"), so a count reads one line and not four. The block comes from the key's hash
 * (key-hash.js), the counter in each quarter from a remix of it: 5 bits a row.
 */

/** Counters per entry the sketch is sized for (4 bits each: 4 bytes an entry). */
const COUNTERS_PER_ENTRY = 8
/** Additions between two halvings, per entry. */
const SAMPLE_FACTOR = 10
/** Words in a block: four rows of four words. */
const BLOCK_WORDS = 16
/** A counter's largest value. */
const MAX_COUNT = 15

class FrequencySketch {
  #table // Int32Array of blocks; a word holds 8 counters (Int32: V8 keeps them small integers)
  #blockMask // blocks - 1, a power of two
  #additions = 0
  #sampleSize

  /**
   * @param {number} entries the entries the sketch counts for (the map's bound, or an estimate).
   * @param {number} [countersPerEntry] counters per entry.
   */
  constructor(entries, countersPerEntry = COUNTERS_PER_ENTRY) {
    const words = Math.max(BLOCK_WORDS, Math.ceil((entries * countersPerEntry) / 8))
    const blocks = 2 ** Math.ceil(Math.log2(words / BLOCK_WORDS))
    this.#table = new Int32Array(blocks * BLOCK_WORDS)
    this.#blockMask = blocks - 1
    this.#sampleSize = SAMPLE_FACTOR * Math.max(1, entries)
  }

  /** Counts one more request for the key of `hash`. */
  increment(hash) {
    const table = this.#table
    const block = (hash & this.#blockMask) * BLOCK_WORDS
    const spots = spread(hash)
    // Unrolled: one row a line, each in its own quarter of the block.
    const added =
      bump(table, block + (spots & 3), (spots >>> 2) & 7) |
      bump(table, block + 4 + ((spots >>> 8) & 3), (spots >>> 10) & 7) |
      bump(table, block + 8 + ((spots >>> 16) & 3), (spots >>> 18) & 7) |
      bump(table, block + 12 + ((spots >>> 24) & 3), (spots >>> 26) & 7)
    if (added !== 0 && ++this.#additions >= this.#sampleSize) this.#halve()
  }

  /** The key of `hash`'s estimated requests since the counts were last halved (0–15). */
  frequency(hash) {
    const table = this.#table
    const block = (hash & this.#blockMask) * BLOCK_WORDS
    const spots = spread(hash)
    const a = (table[block + (spots & 3)] >>> (((spots >>> 2) & 7) << 2)) & MAX_COUNT
    const b = (table[block + 4 + ((spots >>> 8) & 3)] >>> (((spots >>> 10) & 7) << 2)) & MAX_COUNT
    const c = (table[block + 8 + ((spots >>> 16) & 3)] >>> (((spots >>> 18) & 7) << 2)) & MAX_COUNT
    const d = (table[block + 12 + ((spots >>> 24) & 3)] >>> (((spots >>> 26) & 7) << 2)) & MAX_COUNT
    return least(least(a, b), least(c, d))
  }

  /** Halves every counter (each nibble of each word), and the additions with them. */
  #halve() {
    const table = this.#table
    for (let i = 0; i < table.length; i++) table[i] = (table[i] >>> 1) & 0x77777777
    this.#additions = Math.floor(this.#additions / 2)
  }
}

/** A remix of `hash`, independent of its low bits (the block): a byte a row, 2 bits for the word and 3 for the counter. */
function spread(hash) {
  const h = Math.imul(hash ^ (hash >>> 16), 0x45d9f3b)
  return h ^ (h >>> 15)
}

/** The lesser of two counters, without a branch (counts are random: a branch would be mispredicted half the time). */
function least(a, b) {
  const d = a - b
  return b + (d & (d >> 31))
}

/** Adds one to counter `nibble` of `table[word]` unless it is at MAX_COUNT; returns 1 if it did, else 0. */
function bump(table, word, nibble) {
  const shift = nibble << 2
  if (((table[word] >>> shift) & MAX_COUNT) === MAX_COUNT) return 0
  table[word] = (table[word] + (1 << shift)) | 0
  return 1
}

module.exports = { FrequencySketch, COUNTERS_PER_ENTRY, SAMPLE_FACTOR }
