'use strict'

/**
 * Where a position of built code (tsc's output, a bundle, a transpiler's) was written in the
 * source, by the source map that comes with the file: inline (`data:` URL) or in a `.map`
 * file named by the file's `//# sourceMappingURL=` comment; for code compiled in memory (tsx,
 * a loader hook), the map Node keeps (`module.findSourceMap`, with source maps enabled); else
 * a `<file>.map` beside it (esbuild's `--sourcemap=external` names none).
 *
 * A file compiled in memory from its own text (tsx and ts-node run `src/store.ts` so: V8 names
 * the script by the file, whose text is the TypeScript it was compiled from) holds where its
 * variables were written, not the code V8 ran: a declaration found in it is the source's
 * position already, as in any TypeScript file (type stripping keeps every position). Node keeps its map when source maps are enabled (tsx enables them); when
 * it does not (ts-node), a position V8 gives in it cannot be mapped, and says so.
 *
 * Read for a report, on a running service: files are read asynchronously, and a map's fields
 * are found without `JSON.parse` of the whole map (a bundle's map is mostly `sourcesContent`,
 * 5.8 MB for a 3.9 MB bundle here, and Node's own `SourceMap` parses all of it in one stop of
 * 160 ms). Its `mappings` are decoded lazily, from the nearest checkpoint to the line asked
 * for, in slices that yield to the event loop (and a turn every LOOKUPS_PER_TURN lookups);
 * nothing but the mappings text and one checkpoint per CHECKPOINT_LINES lines is kept, for the
 * MAPS_KEPT maps used last.
 */
const fs = require('node:fs/promises')
const path = require('node:path')
const { fileURLToPath } = require('node:url')
const { setImmediate: nextTurn } = require('node:timers/promises')

/** Built files read at most, and maps: larger ones are left unmapped, and said so. */
const MAX_FILE_BYTES = 64 * 1024 * 1024
const MAX_MAP_BYTES = 128 * 1024 * 1024
/** Bytes of a script's end read for its map comment first. */
const TAIL_BYTES = 64 * 1024
/** Characters of `mappings` decoded between two turns of the event loop (about 2 ms here). */
const SLICE_CHARS = 32 * 1024
/** A checkpoint of the decoder's state every so many generated lines. */
const CHECKPOINT_LINES = 32
/** Lookups answered between two turns of the event loop (a report's are awaited together). */
const LOOKUPS_PER_TURN = 64
/** Maps kept decoded (their mappings text and checkpoints), the most recently used. */
const MAPS_KEPT = 16
/** Files whose outcome (no map, or why not) is kept. */
const FILES_KNOWN = 10_000

/** TypeScript files: their text is what was written, whatever ran it. */
const TYPESCRIPT = /\.[cm]?tsx?$/
/** Why a position in a file compiled in memory, whose map Node does not keep, stays as V8 gave it. */
const NO_MAP_KEPT = 'compiled in memory from this file, and Node keeps no source map of it: start Node with --enable-source-maps'
/** The files found compiled in memory from their own text (noteCompiledInMemory), at most FILES_KNOWN. */
const compiledInMemory = new Set()

/**
 * Notes that the script V8 names `file` was compiled in memory from the file's text (the
 * census found its functions' words there, not their source: tsx, ts-node).
 */
function noteCompiledInMemory(file) {
  if (compiledInMemory.size < FILES_KNOWN) compiledInMemory.add(file)
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const BASE64_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i
const COMMA = 44

/**
 * The path of a script as V8 names it (a path, or a `file://` URL for an ES module); null for
 * what is no file (`node:internal/…`, `evalmachine`, a `data:` module).
 */
function scriptPath(url) {
  if (typeof url !== 'string' || url === '') return null
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url)
    } catch {
      return null
    }
  }
  return path.isAbsolute(url) ? url : null
}

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

/**
 * The fields of a map's JSON that decoding needs, found in its bytes without decoding or
 * parsing the rest (its `sourcesContent`): `{ version, sources, sourceRoot, mappings,
 * sections }`. A key matched where its quotes are unescaped and a colon follows can only be
 * one of the object's keys (inside a string every quote is escaped); UTF-8 never puts an
 * ASCII byte inside another character, so bytes are searched as characters.
 */
function mapFields(bytes) {
  const fields = {}
  for (const key of ['version', 'sources', 'sourceRoot', 'mappings', 'sections']) {
    const at = valueStart(bytes, key)
    if (at !== -1) fields[key] = JSON.parse(bytes.toString('utf8', at, valueEnd(bytes, at)))
  }
  return fields
}

const BACKSLASH = 0x5c
const QUOTE = 0x22
const COLON = 0x3a

/** Where the value of the top-level `key` starts in `bytes`, or -1. */
function valueStart(bytes, key) {
  const quoted = `"${key}"`
  for (let at = bytes.indexOf(quoted); at !== -1; at = bytes.indexOf(quoted, at + 1)) {
    if (at > 0 && bytes[at - 1] === BACKSLASH) continue
    let next = skipSpace(bytes, at + quoted.length)
    if (bytes[next] !== COLON) continue
    return skipSpace(bytes, next + 1)
  }
  return -1
}

function skipSpace(bytes, at) {
  while (at < bytes.length && (bytes[at] === 0x20 || bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x09)) at++
  return at
}

/** The index after the JSON value (a string, a number or an array of them) starting at `at`. */
function valueEnd(bytes, at) {
  if (bytes[at] === QUOTE) {
    // A string (`mappings`, megabytes): to its first quote not escaped.
    for (let quote = bytes.indexOf(QUOTE, at + 1); quote !== -1; quote = bytes.indexOf(QUOTE, quote + 1)) {
      let slashes = 0
      while (bytes[quote - 1 - slashes] === BACKSLASH) slashes++
      if (slashes % 2 === 0) return quote + 1
    }
    return bytes.length
  }
  let depth = 0
  let inString = false
  for (let i = at; i < bytes.length; i++) {
    const c = bytes[i]
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) {
        inString = false
        if (depth === 0) return i + 1
      }
    } else if (c === QUOTE) inString = true
    else if (c === 0x5b || c === 0x7b) depth++
    else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) return i
      if (--depth === 0) return i + 1
    } else if (c === 0x2c && depth === 0) return i
  }
  return bytes.length
}

/** A file's text, or throws with why (too large, unreadable). */
async function readText(file, maxBytes) {
  return (await readBytes(file, maxBytes)).toString('utf8')
}

/** A file's bytes, or throws with why (not a regular file, too large, unreadable). */
async function readBytes(file, maxBytes) {
  const handle = await fs.open(file, 'r')
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new Error('not a regular file')
    const { size } = stat
    if (size > maxBytes) throw new Error(`${size} bytes, over the ${maxBytes} read at most`)
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

/** Whether `file` is a regular file. */
async function isFile(file) {
  try {
    return (await fs.stat(file)).isFile()
  } catch {
    return false
  }
}

/**
 * The end of a script, where its map comment is: its last TAIL_BYTES, or all of it (up to
 * MAX_FILE_BYTES) when its last line starts before them (an inline map, a minified bundle).
 */
async function readEnd(file) {
  const handle = await fs.open(file, 'r')
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new Error('not a regular file')
    const start = Math.max(0, stat.size - TAIL_BYTES)
    const tail = Buffer.alloc(stat.size - start)
    await handle.read(tail, 0, tail.length, start)
    const text = tail.toString('utf8')
    if (start === 0 || text.trimEnd().includes('\n')) return text
  } finally {
    await handle.close()
  }
  return readText(file, MAX_FILE_BYTES)
}

/** The URL of the last `sourceMappingURL` comment of a script's end, or null. */
function mappingUrlOf(text) {
  const comments = [...text.matchAll(/\/\/[#@]\s*sourceMappingURL=(\S+)\s*$/gm)]
  return comments.length === 0 ? null : comments.at(-1)[1]
}

/** The bytes of a `data:` URL's payload. */
function dataUrlBytes(url) {
  const comma = url.indexOf(',')
  if (comma === -1) throw new Error('a data: URL without a comma')
  const payload = url.slice(comma + 1)
  return url.slice(0, comma).endsWith(';base64') ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload))
}

/**
 * The source maps of built files: `original(url, line, column)` finds where a position was
 * written. One instance per process is enough (`sourceMaps`); its cache is bounded.
 */
class SourceMaps {
  #loaded = new Map() // script path -> Promise<{ map, mapFile, why }>
  #decoded = new Set() // the paths whose maps are kept decoded, least recently used first

  /**
   * Where 1-based `line` and `column` of the script at `url` (a path or a `file://` URL) were
   * written: `{ file, line, column }` (the source's path, or its name as the map gives it
   * when it is no file, such as `webpack://app/./src/a.ts`), 1-based; `{ why }` when the
   * script names a map that cannot be read (missing, too large, malformed); null when it has
   * none, or the map does not cover the position.
   * @returns {Promise<{ file: string, line: number, column: number } | { why: string } | null>}
   */
  async original(url, line, column) {
    const file = scriptPath(url)
    if (file === null || !(line >= 1)) return null
    const { map, why } = await this.#load(file)
    if (why !== null) return { why }
    if (map === null) return compiledInMemory.has(file) ? { why: NO_MAP_KEPT } : null
    try {
      const found = await map.find(line - 1, Math.max(0, (column ?? 1) - 1))
      return found === null ? null : { file: found.source, line: found.line, column: found.column }
    } catch (err) {
      return { why: `its source map does not decode: ${err.message}` }
    }
  }

  /**
   * The 1-based position of the top-level declaration of `name` (`var`, `let`, `const`,
   * `function`, `class`, or `exports.name =`, tsc's export, not the `exports.name = void 0`
   * tsc writes first) in the script at `url`, a line's first such declaration without
   * indentation preferred (a bundle puts its modules' top-level code at the left); null when
   * none is found or the file cannot be read. In a TypeScript file, or another compiled in
   * memory from its own text, that is where the declaration was written (`written: true`): no
   * map is to be asked.
   * @returns {Promise<{ line: number, column: number, written?: true } | null>}
   */
  async declaration(url, name) {
    const file = scriptPath(url)
    if (file === null || !/^[A-Za-z_$][\w$]*$/.test(name)) return null
    let text
    try {
      text = await readText(file, MAX_FILE_BYTES)
    } catch {
      return null
    }
    const declaring = new RegExp(`^([ \\t]*)(?:(?:export\\s+)?(?:var|let|const)\\s+|(?:export\\s+)?(?:async\\s+)?function\\s*\\*?\\s*|class\\s+|(?:module\\.)?exports\\.)(${name.replaceAll('$', '\\$')})(?![\\w$])(?!\\s*=\\s*void 0\\b)`, 'gm')
    let best = null
    for (const match of text.matchAll(declaring)) {
      if (best === null || (best[1].length > 0 && match[1].length === 0)) best = match
      if (match[1].length === 0) break
    }
    if (best === null) return null
    const at = best.index + best[0].length - name.length
    const before = text.slice(0, at)
    const lineStart = before.lastIndexOf('\n') + 1
    const place = { line: before.split('\n').length, column: at - lineStart + 1 }
    return TYPESCRIPT.test(file) || (await this.#compiledFromItself(file)) ? { ...place, written: true } : place
  }

  /**
   * Whether the script V8 names `file` was compiled in memory from the file's own text: the
   * census found so, or the map Node keeps for it names the file as its source.
   */
  async #compiledFromItself(file) {
    if (compiledInMemory.has(file)) return true
    const { map } = await this.#load(file)
    return map?.kept === true && map.sources.includes(file)
  }

  /**
   * The one source of the script at `url` when its map has a single one (tsc's, a
   * transpiler's: one file built from one), as `{ file }`; `{ why }` for a map that cannot be
   * read; null otherwise.
   * @returns {Promise<{ file: string } | { why: string } | null>}
   */
  async soleSource(url) {
    const file = scriptPath(url)
    if (file === null) return null
    const { map, why } = await this.#load(file)
    if (why !== null) return { why }
    const sources = map?.sources ?? []
    return sources.length === 1 && sources[0] !== null ? { file: sources[0] } : null
  }

  /**
   * The map of `file`, read once: every file's outcome is kept (most have no map), the
   * decoders of the MAPS_KEPT files used last only.
   */
  #load(file) {
    const known = this.#loaded.get(file)
    if (known !== undefined) {
      if (this.#decoded.delete(file)) this.#decoded.add(file)
      return known
    }
    const loading = loadMap(file).then((loaded) => {
      if (loaded.map !== null) this.#keepDecoded(file)
      return loaded
    })
    this.#loaded.set(file, loading)
    if (this.#loaded.size > FILES_KNOWN) this.#forget(this.#loaded.keys().next().value)
    return loading
  }

  #keepDecoded(file) {
    this.#decoded.add(file)
    if (this.#decoded.size > MAPS_KEPT) this.#forget(this.#decoded.values().next().value)
  }

  #forget(file) {
    this.#loaded.delete(file)
    this.#decoded.delete(file)
  }
}

/** `{ map, mapFile, why }`: the decoder of `file`'s map, null without one, or why it cannot be had. */
async function loadMap(file) {
  let url
  try {
    url = mappingUrlOf(await readEnd(file))
  } catch {
    // Gone or unreadable (a redeploy, a file over MAX_FILE_BYTES): the position stays as V8 gave it.
    return { map: null, mapFile: null, why: null }
  }
  if (url === null) {
    const kept = nodeKept(file)
    if (kept !== null || !(await isFile(`${file}.map`))) return { map: kept, mapFile: null, why: null }
    // A map beside the file that names none (esbuild's `--sourcemap=external`, a map kept for an error tracker).
    url = `${path.basename(file)}.map`
  }
  const inline = url.startsWith('data:')
  const mapFile = inline ? null : scriptPath(url) ?? path.resolve(path.dirname(file), decodeURIComponent(url.split(/[?#]/)[0]))
  try {
    const fields = mapFields(inline ? dataUrlBytes(url) : await readBytes(mapFile, MAX_MAP_BYTES))
    if (fields.sections !== undefined) {
      const kept = nodeKept(file)
      return { map: kept, mapFile, why: kept === null ? 'its source map is an index map (sections), which only Node reads: start Node with --enable-source-maps' : null }
    }
    if (fields.version !== 3 || typeof fields.mappings !== 'string' || !Array.isArray(fields.sources)) throw new Error('not a version 3 source map with mappings and sources')
    const base = path.dirname(mapFile ?? file)
    const sources = fields.sources.map((source) => sourcePath(base, fields.sourceRoot, source))
    return { map: new DecodedMap(fields.mappings, sources), mapFile, why: null }
  } catch (err) {
    const where = inline ? 'its inline source map' : `its source map ${mapFile}`
    return { map: null, mapFile, why: `${where} could not be read: ${err.message}` }
  }
}

/** A source of a map as a path (relative ones resolved against the map's folder), or its name when it is no file. */
function sourcePath(base, root, source) {
  if (typeof source !== 'string') return null
  const joined = typeof root === 'string' && root !== '' ? `${root.replace(/\/?$/, '/')}${source}` : source
  if (joined.startsWith('file://')) return scriptPath(joined) ?? joined
  if (/^[a-z][\w+.-]*:/i.test(joined)) return joined
  return path.resolve(base, joined)
}

/**
 * The map Node keeps for `file` (code compiled in memory, source maps enabled), wrapped as a
 * decoder; null when Node has none.
 */
function nodeKept(file) {
  const { findSourceMap } = require('node:module')
  let map
  try {
    map = findSourceMap(file)
  } catch {
    return null
  }
  if (map === undefined || typeof map?.findEntry !== 'function') return null
  return {
    kept: true,
    sources: (map.payload?.sources ?? []).map((source) => scriptPath(source) ?? source),
    async find(line, column) {
      const entry = /** @type {{ originalSource?: string, originalLine: number, originalColumn: number }} */ (map.findEntry(line, column))
      if (entry?.originalSource === undefined) return null
      const source = scriptPath(entry.originalSource) ?? entry.originalSource
      return { source, line: entry.originalLine + 1, column: entry.originalColumn + 1 }
    },
  }
}

/** The process' source maps. */
const sourceMaps = new SourceMaps()

module.exports = { SourceMaps, sourceMaps, scriptPath, noteCompiledInMemory, TYPESCRIPT }
