'use strict'

/**
 * Byte sizes of BoundedMap's entries: `SlotSizes` for a map with `maxBytes` (a column of
 * sizes and their total, measured by `sizeOf` or `defaultSizeOf`), and `NO_SIZES`, which
 * stands in for it in every map without `maxBytes` so that hot paths never ask.
 */
const errors = require('../shared/errors')
const { widen } = require('./columns')

/** The default `sizeOf` of a string: a header of this many bytes... */
const STRING_HEADER_BYTES = 16
/** ...and at most this many bytes per UTF-16 code unit. */
const STRING_CHAR_BYTES = 2

/**
 * The default `sizeOf`: exact for Buffers, typed arrays, DataViews and ArrayBuffers;
 * `16 + 2 × length` for strings (V8 stores a string in one or two bytes per character
 * behind a header, so this is an upper-bound estimate). Other values have no default.
 */
function defaultSizeOf(value) {
  if (typeof value === 'string') return STRING_HEADER_BYTES + STRING_CHAR_BYTES * value.length
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength
  return undefined
}

/** The byte size of each slot and their total, for a map with `maxBytes`. */
class SlotSizes {
  column = new Float64Array(0)
  total = 0

  /** @param {Function | null} sizeOf the `sizeOf` option, or null for `defaultSizeOf`. */
  constructor(sizeOf) {
    this.sizeOf = sizeOf ?? defaultSizeOf
  }

  /** The size of `value` by `sizeOf`, checked. */
  measure(value, key) {
    const size = this.sizeOf(value, key)
    if (size === undefined && this.sizeOf === defaultSizeOf) {
      throw errors.codedError(
        TypeError,
        errors.CODES.SIZEOF_REQUIRED,
        `BoundedMap: with options.maxBytes it cannot size ${errors.describe(value)} values: pass options.sizeOf`,
      )
    }
    if (typeof size !== 'number') {
      throw errors.codedError(
        TypeError,
        errors.CODES.INVALID_SIZE,
        `BoundedMap: options.sizeOf must return a number of bytes; got ${errors.describe(size)}`,
      )
    }
    if (!(size >= 0) || size === Infinity) {
      throw errors.codedError(
        RangeError,
        errors.CODES.INVALID_SIZE,
        `BoundedMap: options.sizeOf must return a finite number >= 0; got ${errors.describe(size)}`,
      )
    }
    return size
  }

  /** The size stored for `slot`. */
  get(slot) {
    return this.column[slot]
  }

  /** Stores the size of a new entry. */
  store(slot, size) {
    this.column[slot] = size
    this.total += size
  }

  /** Stores a new size for an entry; returns the change. */
  change(slot, size) {
    const delta = size - this.column[slot]
    this.column[slot] = size
    this.total += delta
    return delta
  }

  /** Forgets the size of an entry that leaves; returns it. */
  release(slot) {
    const size = this.column[slot]
    this.total -= size
    this.column[slot] = 0
    return size
  }

  /** Widens the column to `capacity` slots. */
  grow(capacity) {
    this.column = widen(this.column, capacity)
  }

  /** Forgets every size. */
  clear() {
    this.column = new Float64Array(0)
    this.total = 0
  }
}

/** Stands in for `SlotSizes` in a map without `maxBytes`: every value is 0 bytes. */
class NoSizes {
  total = 0
  /** Not measured. */
  measure() {
    return 0
  }
  /** Nothing stored. */
  get() {
    return 0
  }
  /** Nothing to store. */
  store() {}
  /** No change. */
  change() {
    return 0
  }
  /** Nothing stored. */
  release() {
    return 0
  }
  /** No column. */
  grow() {}
  /** Nothing held. */
  clear() {}
}

/** The one `NoSizes`: it holds nothing, so every map without `maxBytes` shares it. */
const NO_SIZES = new NoSizes()

module.exports = { SlotSizes, NoSizes, NO_SIZES, defaultSizeOf }
