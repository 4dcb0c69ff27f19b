'use strict'

/**
 * A source map's `mappings`, decoded lazily for a running service (source-maps.js reads the
 * maps): a lookup decodes from the nearest checkpoint to the line asked for, in slices that
 * yield to the event loop (and a turn every LOOKUPS_PER_TURN lookups); nothing but the
 * mappings text and one checkpoint per CHECKPOINT_LINES lines is kept.
 */
const { setImmediate: nextTurn } = require('node:timers/promises')

/** Characters of `mappings` decoded between two turns of the event loop (about 2 ms here). */
const SLICE_CHARS = 32 * 1024
/** A checkpoint of the decoder's state every so many generated lines. */
const CHECKPOINT_LINES = 32
/** Lookups answered between two turns of the event loop (a report's are awaited together). */
const LOOKUPS_PER_TURN = 64

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const BASE64_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i
const COMMA = 44

/** A map's decoder: its mappings, sources, and the state at every CHECKPOINT_LINES lines. */
class DecodedMap {
  #mappings
  #sources
  // checkpoints[k]: the state at the start of generated line k * CHECKPOINT_LINES.
  #checkpoints = [{ at: 0, source: 0, line: 0, column: 0 }]
  /** @type {Promise<unknown>} one lookup at a time: each may add checkpoints, across turns */
  #lookups = Promise.resolve()
  #answered = 0
  #sinceTurn = 0 // characters decoded since the last turn of the event loop

  /**
   * @param {string} mappings the map's `mappings` text, not yet decoded.
   * @param {Array<string | null>} sources its sources' paths (or names), in the map's order.
   */
  constructor(mappings, sources) {
    this.#mappings = mappings
    this.#sources = sources
  }

  /** The sources' paths (or names), in the map's order. */
  get sources() {
    return this.#sources
  }

  /**
   * The source position of 0-based generated `line` and `column`: the last mapping of that
   * line at or before `column` (V8 places a function at its parameters, which a map may not
   * list), else the line's first. Null for a line the map does not cover.
   * @returns {Promise<{ source: string, line: number, column: number } | null>} 1-based.
   */
  find(line, column) {
    const found = this.#lookups.then(() => this.#find(line, column))
    this.#lookups = found.catch(() => {})
    return found
  }

  async #find(line, column) {
    if (++this.#answered % LOOKUPS_PER_TURN === 0) await nextTurn()
    const state = await this.#stateAtLine(line)
    if (state === null) return null
    const segments = this.#lineSegments(state)
    let chosen = null
    for (const segment of segments) {
      if (segment.generatedColumn > column && chosen !== null) break
      chosen = segment
    }
    if (chosen === null || this.#sources[chosen.source] === undefined) return null
    return { source: this.#sources[chosen.source], line: chosen.line + 1, column: chosen.column + 1 }
  }

  /** The decoder's state at the start of generated `line`, or null past the last line. */
  async #stateAtLine(line) {
    const wanted = Math.floor(line / CHECKPOINT_LINES)
    while (this.#checkpoints.length <= wanted) {
      const last = this.#checkpoints.at(-1)
      if (last.at >= this.#mappings.length) return null
      this.#checkpoints.push(await this.#skipLines(last, CHECKPOINT_LINES))
    }
    const from = this.#checkpoints[wanted]
    const state = await this.#skipLines(from, line - wanted * CHECKPOINT_LINES)
    return state.at > this.#mappings.length ? null : state
  }

  /** The state `count` lines after `from`, decoding in slices of SLICE_CHARS. */
  async #skipLines(from, count) {
    const state = { ...from }
    let left = count
    const text = this.#mappings
    while (left > 0) {
      if (state.at >= text.length) {
        state.at = text.length + 1
        return state
      }
      const end = text.indexOf(';', state.at)
      const lineEnd = end === -1 ? text.length : end
      if (lineEnd > state.at) this.#lineSegments(state, lineEnd)
      this.#sinceTurn += lineEnd + 1 - state.at
      state.at = lineEnd + 1
      left--
      if (this.#sinceTurn > SLICE_CHARS) {
        await nextTurn()
        this.#sinceTurn = 0
      }
    }
    return state
  }

  /**
   * Decodes the segments of the line starting at `state.at` (up to `end`, or its `;`),
   * advancing `state`'s source, line and column; returns them.
   */
  #lineSegments(state, end = this.#lineEnd(state.at)) {
    const text = this.#mappings
    const segments = []
    let generatedColumn = 0
    let at = state.at
    while (at < end) {
      const fields = []
      while (at < end && text.charCodeAt(at) !== COMMA) {
        const [value, next] = vlq(text, at)
        fields.push(value)
        at = next
      }
      at++
      if (fields.length === 0) continue
      generatedColumn += fields[0]
      if (fields.length < 4) continue
      state.source += fields[1]
      state.line += fields[2]
      state.column += fields[3]
      segments.push({ generatedColumn, source: state.source, line: state.line, column: state.column })
    }
    return segments
  }

  #lineEnd(at) {
    const end = this.#mappings.indexOf(';', at)
    return end === -1 ? this.#mappings.length : end
  }
}

/** One Base64 VLQ value of `text` at `at`: `[value, index after it]`. Malformed input throws. */
function vlq(text, at) {
  let result = 0
  let shift = 0
  for (;;) {
    const code = text.charCodeAt(at++)
    const digit = code < 128 ? BASE64_VALUE[code] : -1
    if (digit < 0) throw new Error(`not a Base64 VLQ character at ${at - 1} of mappings`)
    result += (digit & 31) * 2 ** shift
    shift += 5
    if ((digit & 32) === 0) break
    if (shift > 50) throw new Error(`a VLQ value too long at ${at} of mappings`)
  }
  return [result % 2 === 1 ? -(result - 1) / 2 : result / 2, at]
}

module.exports = { DecodedMap }
