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
 * 160 ms: json-fields.js). Its `mappings` are decoded lazily, in slices that yield to the
 * event loop (decoded-map.js), for the MAPS_KEPT maps used last.
 */
const fs = require('node:fs/promises')
const path = require('node:path')
const { scriptPath } = require('./script-path')
const { jsonFields } = require('./json-fields')
const { DecodedMap } = require('./decoded-map')

/** Built files read at most, and maps: larger ones are left unmapped, and said so. */
const MAX_FILE_BYTES = 64 * 1024 * 1024
const MAX_MAP_BYTES = 128 * 1024 * 1024
/** Bytes of a script's end read for its map comment first. */
const TAIL_BYTES = 64 * 1024
/** Maps kept decoded (their mappings text and checkpoints), the most recently used. */
const MAPS_KEPT = 16
/** Files whose outcome (no map, or why not) is kept. */
const FILES_KNOWN = 10_000
/** The fields of a map's JSON that decoding needs, found without parsing the rest (json-fields.js). */
const MAP_FIELDS = ['version', 'sources', 'sourceRoot', 'mappings', 'sections']

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
    const fields = jsonFields(inline ? dataUrlBytes(url) : await readBytes(mapFile, MAX_MAP_BYTES), MAP_FIELDS)
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

module.exports = { SourceMaps, sourceMaps, noteCompiledInMemory, TYPESCRIPT }
