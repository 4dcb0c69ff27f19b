'use strict'

const zlib = require('node:zlib')
const { promisify } = require('node:util')
const { siteCharger, isOwnCharge, NO_FRAME } = require('./own-work')

const gzip = promisify(zlib.gzip)

/**
 * V8's sampling heap profile (`HeapProfiler.getSamplingProfile`'s `profile`, the JSON of a
 * DevTools `.heapprofile`) as pprof: `profile.proto` (github.com/google/pprof, proto/
 * profile.proto), gzipped, as `go tool pprof`, Pyroscope, Datadog and Cloud Profiler read it.
 *
 * Written here rather than with a package: the encoder is one small protobuf writer and six
 * message types, the watcher only ever encodes, and leakproof takes no runtime dependency.
 * Tests read the result with a real pprof reader.
 */

/** profile.proto's field numbers, by message. */
const PROFILE = { sampleType: 1, sample: 2, location: 4, function: 5, stringTable: 6, timeNanos: 9, durationNanos: 10, periodType: 11, period: 12, defaultSampleType: 14 }
const VALUE_TYPE = { type: 1, unit: 2 }
const SAMPLE = { locationId: 1, value: 2 }
const LOCATION = { id: 1, line: 4 }
const LINE = { functionId: 1, line: 2, column: 3 }
const FUNCTION = { id: 1, name: 2, systemName: 3, filename: 4, startLine: 5 }

/** Protobuf wire types. */
const VARINT = 0
const LENGTH_DELIMITED = 2

/**
 * Bytes a message starts with room for. Most are a few bytes (a sample, a location, a
 * function), and a profile has thousands: small enough for Node's shared Buffer pool
 * rather than an allocation of their own each. Room doubles as a message grows.
 */
const FIRST_CHUNK_BYTES = 64

/** A protobuf message being written: fields appended in order, `finish()` at the end. */
class ProtoWriter {
  #chunks = []
  #buffer = Buffer.allocUnsafe(FIRST_CHUNK_BYTES)
  #at = 0

  /** Makes room for `n` more bytes. */
  #reserve(n) {
    if (this.#at + n <= this.#buffer.length) return
    this.#chunks.push(this.#buffer.subarray(0, this.#at))
    this.#buffer = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, n))
    this.#at = 0
  }

  /** A varint of a non-negative integer up to 2^53 (every count, size and id here). */
  #varint(value) {
    this.#reserve(10)
    let v = value
    while (v >= 0x80) {
      this.#buffer[this.#at++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.#buffer[this.#at++] = v
  }

  /** The key of field `field` with wire type `wireType`. */
  #key(field, wireType) {
    this.#varint(field * 8 + wireType)
  }

  /** An integer field; 0 is the default and is left out, as protobuf encoders do. */
  int(field, value) {
    if (value === 0) return this
    this.#key(field, VARINT)
    this.#varint(value)
    return this
  }

  /** A packed repeated integer field. */
  packed(field, values) {
    if (values.length === 0) return this
    const inner = new ProtoWriter()
    for (const v of values) inner.#varint(v)
    return this.bytes(field, inner.finish())
  }

  /** A length-delimited field: raw bytes, a string or an embedded message's bytes. */
  bytes(field, data) {
    const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    this.#key(field, LENGTH_DELIMITED)
    this.#varint(buffer.length)
    this.#reserve(buffer.length)
    buffer.copy(this.#buffer, this.#at)
    this.#at += buffer.length
    return this
  }

  /** The message's bytes. */
  finish() {
    return Buffer.concat([...this.#chunks, this.#buffer.subarray(0, this.#at)])
  }
}

/** A string table: index 0 is '' (as profile.proto requires); each string once. */
class StringTable {
  #index = new Map([['', 0]])

  /** The index of `text`, added if new. */
  of(text) {
    let at = this.#index.get(text)
    if (at === undefined) this.#index.set(text, (at = this.#index.size))
    return at
  }

  /** The strings, in index order. */
  get strings() {
    return [...this.#index.keys()]
  }
}

/**
 * The number of objects a live sample of `size` bytes stands for, as V8 scales samples
 * (sampling-heap-profiler.cc, ScaleSample): an object of `size` is sampled with probability
 * 1 - exp(-size / interval). The profile's `selfSize` is already scaled this way.
 */
function objectsPerSample(size, samplingIntervalBytes) {
  if (!(size > 0)) return 1
  return 1 / (1 - Math.exp(-size / samplingIntervalBytes))
}

/**
 * The pprof message of a sampling heap profile, ungzipped, with values `objects/count` (live
 * samples, scaled as V8 scales them) and `space/bytes` (`selfSize`); `period` is the sampling
 * interval in bytes. A function is a call frame's name, URL and position (V8 gives the
 * function's line, not the allocation's), a location one per function.
 *
 * Stacks end at the allocation's site, by the rule the `sites` ranking charges with
 * (`siteCharger`, own-work.js): frames below the nearest frame of the application or a package
 * (V8's built-ins such as `String.prototype.repeat` or `Map.prototype.set`, Node's internals,
 * leakproof's own) are folded into it, so that `go tool pprof -top` ranks the lines someone
 * can change. A stack with no such frame keeps its frames with a script and folds V8's
 * built-ins into the nearest of them; one with no script at all keeps every frame.
 * leakproof's own work (its code or node:inspector's on the stack, with no function of the
 * app or of a package above it) is left out, as the ranking leaves it out: a census taken
 * while the profile samples keeps megabytes live, which `-top` would rank above the leak.
 * The `.heapprofile` keeps V8's tree, and every sampled byte, as it is.
 * @param {{ head: object, samples?: Array<{ size: number, nodeId: number }> }} profile
 * @param {{ samplingIntervalBytes: number, timeMs?: number, durationMs?: number }} info
 * @returns {Buffer}
 */
function encodeSamplingProfile(profile, { samplingIntervalBytes, timeMs = Date.now(), durationMs = 0 }) {
  const strings = new StringTable()
  const objectsAt = new Map() // node id -> scaled object count
  for (const { size, nodeId } of profile.samples ?? []) {
    objectsAt.set(nodeId, (objectsAt.get(nodeId) ?? 0) + objectsPerSample(size, samplingIntervalBytes))
  }
  const functionIds = new Map() // frame key -> function (= location) id
  const functions = []
  const functionId = ({ functionName, url, lineNumber, columnNumber }) => {
    const key = `${functionName}\u0000${url}\u0000${lineNumber}\u0000${columnNumber}`
    let id = functionIds.get(key)
    if (id === undefined) {
      id = functionIds.size + 1
      functionIds.set(key, id)
      functions.push({ id, name: functionName || '(anonymous)', url, line: lineNumber + 1, column: columnNumber + 1 })
    }
    return id
  }
  // A stack is its innermost location and its caller's stack, interned (equal stacks are one
  // object, a sample per stack), so that the walk copies no arrays however deep the tree.
  const stacks = new Map() // `${caller's index}:${location id}` -> { index, locationId, caller }
  const stackOf = (caller, locationId) => {
    const key = `${caller?.index ?? 0}:${locationId}`
    let stack = stacks.get(key)
    if (stack === undefined) stacks.set(key, (stack = { index: stacks.size + 1, locationId, caller }))
    return stack
  }
  const samples = new Map() // stack -> { objects, bytes }
  // Iterative walk (a deep profile must not overflow the stack); each entry: a node, its
  // callers' stack (null at the root), and the charging state of its path (own-work.js). A
  // frame is in the stack when it is the site its own bytes are charged to; a frame folded
  // into a site above it adds nothing.
  const chargeAt = siteCharger()
  const walk = profile.head.children.map((child) => [child, null, NO_FRAME])
  while (walk.length > 0) {
    const [node, callers, above] = walk.pop()
    const charge = chargeAt(above, node.callFrame)
    const here = charge.site === node.callFrame ? stackOf(callers, functionId(node.callFrame)) : callers
    if (node.selfSize > 0 && !isOwnCharge(charge)) {
      const sample = samples.get(here) ?? { objects: 0, bytes: 0 }
      sample.objects += objectsAt.get(node.id) ?? 0
      sample.bytes += node.selfSize
      samples.set(here, sample)
    }
    for (const child of node.children) walk.push([child, here, charge])
  }

  const message = new ProtoWriter()
  const valueType = (type, unit) => new ProtoWriter().int(VALUE_TYPE.type, strings.of(type)).int(VALUE_TYPE.unit, strings.of(unit)).finish()
  message.bytes(PROFILE.sampleType, valueType('objects', 'count'))
  message.bytes(PROFILE.sampleType, valueType('space', 'bytes'))
  for (const [stack, { objects, bytes }] of samples) {
    const locationIds = []
    for (let at = stack; at !== null; at = at.caller) locationIds.push(at.locationId) // the leaf first, as pprof wants
    const values = [Math.max(1, Math.round(objects)), bytes]
    message.bytes(PROFILE.sample, new ProtoWriter().packed(SAMPLE.locationId, locationIds).packed(SAMPLE.value, values).finish())
  }
  for (const { id, line, column } of functions) {
    const lineMessage = new ProtoWriter().int(LINE.functionId, id).int(LINE.line, line).int(LINE.column, column).finish()
    message.bytes(PROFILE.location, new ProtoWriter().int(LOCATION.id, id).bytes(LOCATION.line, lineMessage).finish())
  }
  for (const { id, name, url, line } of functions) {
    const fn = new ProtoWriter()
      .int(FUNCTION.id, id)
      .int(FUNCTION.name, strings.of(name))
      .int(FUNCTION.systemName, strings.of(name))
      .int(FUNCTION.filename, strings.of(url))
      .int(FUNCTION.startLine, line)
    message.bytes(PROFILE.function, fn.finish())
  }
  message.int(PROFILE.timeNanos, Math.round(timeMs) * 1e6)
  message.int(PROFILE.durationNanos, Math.round(durationMs) * 1e6)
  message.bytes(PROFILE.periodType, valueType('space', 'bytes'))
  message.int(PROFILE.period, samplingIntervalBytes)
  message.int(PROFILE.defaultSampleType, strings.of('space'))
  // The string table last: every string above is in it by now.
  for (const text of strings.strings) message.bytes(PROFILE.stringTable, text)
  return message.finish()
}

/** `encodeSamplingProfile`, gzipped (off the main thread), as pprof files and endpoints carry it. */
async function samplingProfileAsPprof(profile, info) {
  return gzip(encodeSamplingProfile(profile, info))
}

module.exports = { encodeSamplingProfile, samplingProfileAsPprof }
