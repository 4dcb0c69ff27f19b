'use strict'

/**
 * A report's positions in the words the user wrote. V8 places code in the file it ran: a
 * bundle's line 24,652, tsc's `dist/store.js`. Where that file has a source map,
 * `withSourcePositions(report)` rewrites, in place, every position the report holds:
 *
 * - a holder (an object with `description` and `file`: the analyzer's, the census'): its
 *   `file`, `line`, `column` become the source's, the place it had goes to `generated`
 *   beside them, and its description names `src/store.ts:3:7 (built: dist/server.js:24652:5)`;
 *   its path starts from what the user imported, not the alias a compiler gave the module
 *   (`container.audit`, not `container_1.container.audit`: compiler-names.js).
 *   A module-level variable, which V8 places by file only, is placed at its declaration
 *   in the built file first (in a bundle every module's variables share the bundle's scope,
 *   so the file alone says nothing); in a file compiled in memory from its own text (tsx,
 *   ts-node: source-maps.js), at its declaration there, with no built position;
 * - a place (`{ url | file, line, column }`: allocation sites, `madeAt`, `appFrame`): the same,
 *   `generated` holding the built one;
 * - any other text with a position (`function handle at dist/x.js:12:5`, a listener's site):
 *   the source's position, the built one after it in brackets.
 *
 * A map that cannot be read leaves the built position and says why (`sourceMapError`, and
 * the text). A holder in an ES module is named by its file's path, as the census names it,
 * not by the `file://` URL a snapshot gives. Applying it again changes nothing.
 */
const { sourceMaps: processMaps } = require('./source-maps')
const { scriptPath } = require('./script-path')
const { withoutImportAlias } = require('./compiler-names')

/** An absolute path or `file://` URL with a line and maybe a column, in text. */
const POSITION_IN_TEXT = /((?:file:\/\/)?\/[^\s:()'"`,]+):(\d+)(?::(\d+))?/g
/** What follows a position already mapped, or one whose map was unreadable. */
const MAPPED_AFTER = /^ \((?:built: |its (?:inline )?source map)/
/** What precedes a built position kept beside its source. */
const BUILT_BEFORE = 'built: '
/** Keys whose text is a file of leakproof's own (snapshots, reports), never code. */
const FILE_KEYS = new Set(['path', 'baseline', 'followUp', 'stillAliveIn', 'dir', 'file', 'url'])
/** How deep a report is walked. */
const MAX_DEPTH = 12

/**
 * Maps every position in `value` (a report, a diff, a sites event: plain objects and arrays)
 * through the source maps of its files, in place; resolves with `value`.
 * @template T
 * @param {T} value
 * @param {import('./source-maps').SourceMaps} [maps]
 * @returns {Promise<T>}
 */
async function withSourcePositions(value, maps = processMaps) {
  const lookups = new Map() // `url\0line\0column` -> Promise of the original
  const original = (url, line, column) => {
    const key = `${url}\u0000${line}\u0000${column}`
    if (!lookups.has(key)) lookups.set(key, maps.original(url, line, column).catch(() => null))
    return lookups.get(key)
  }
  const edits = []
  visit(value, 0, (parent, key, node) => {
    if (typeof node === 'string') {
      // A holder's description is rewritten with its position (holderEdit).
      if (!FILE_KEYS.has(key) && !(key === 'description' && isHolder(parent))) edits.push(textEdit(parent, key, node, original))
    } else if (isHolder(node)) edits.push(holderEdit(node, original, maps))
    else if (isPlace(node)) edits.push(placeEdit(node, original))
  })
  await Promise.all(edits)
  return value
}

/** Calls `see(parent, key, node)` on every value under `value`'s objects and arrays. */
function visit(value, depth, see) {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return
  for (const key of Object.keys(value)) {
    // A built position kept beside its source is left as it is.
    if (key === 'generated') continue
    const node = value[key]
    see(value, key, node)
    visit(node, depth + 1, see)
  }
}

/** A holder the analyzer or the census named: a description and the file of its code. */
function isHolder(node) {
  return node !== null && typeof node === 'object' && typeof node.description === 'string' && typeof node.file === 'string' && node.generated === undefined
}

/** A place in code: a script's URL or file, and a line. */
function isPlace(node) {
  return node !== null && typeof node === 'object' && (typeof node.url === 'string' || typeof node.file === 'string') && Number.isInteger(node.line) && node.generated === undefined && node.description === undefined
}

/** `file:line:column`, or `file:line`, or `file`. */
function placeText(file, line, column) {
  return line == null ? file : column == null ? `${file}:${line}` : `${file}:${line}:${column}`
}

/** A mapped position as text: the source's, then the built one. */
function mappedText(source, built) {
  return `${placeText(source.file, source.line, source.column)} (built: ${placeText(built.file, built.line, built.column)})`
}

/**
 * Maps a holder: its position (its code's line, or a module-level variable's declaration),
 * then its description, where its file (and line and column) appear.
 */
async function holderEdit(holder, original, maps) {
  namedByPath(holder)
  const file = holder.file
  // A module-level variable is where it is declared (the census places it by a function of its module).
  let place = holder.kind === 'module' || holder.kind === 'exports' ? await maps.declaration(file, rootName(holder.name)) : null
  if (place?.written) return placeWritten(holder, place)
  if (place === null && Number.isInteger(holder.line)) place = { line: holder.line, column: holder.column ?? 1 }
  const source = place === null ? await maps.soleSource(file) : await original(file, place.line, place.column)
  if (source === null) return
  const written = [placeText(file, holder.line, holder.column), placeText(file, holder.line), file].find((text) => holder.description.includes(text))
  if (source.why !== undefined) {
    holder.sourceMapError = source.why
    if (written !== undefined) holder.description = holder.description.replace(written, `${written} (${source.why})`)
    return
  }
  const built = { file, line: place?.line ?? null, column: place?.column ?? null }
  holder.generated = built
  if (written !== undefined) holder.description = holder.description.replace(written, mappedText(source, built))
  Object.assign(holder, { file: source.file, line: source.line ?? holder.line, column: source.column ?? holder.column })
  inUserWords(holder)
}

/**
 * Places a holder at its declaration in its file, which is where it was written (a file
 * compiled in memory from its own text, as tsx and ts-node run it: source-maps.js): its
 * description names the position after the file, once; no built position (its code is in no file).
 */
function placeWritten(holder, { line, column }) {
  const at = placeText(holder.file, line, column)
  if (!holder.description.includes(at)) holder.description = holder.description.replace(holder.file, at)
  Object.assign(holder, { line, column })
}

/**
 * A built holder's path without the alias a compiler gave the module it imports
 * (compiler-names.js), in its name and at the head of its description; the built name kept in
 * `generated.name`.
 */
function inUserWords(holder) {
  const name = withoutImportAlias(holder.name)
  const [path] = holder.description.split(' ', 1)
  const words = withoutImportAlias(path)
  if (words !== path) holder.description = `${words}${holder.description.slice(path.length)}`
  if (name !== holder.name) {
    holder.generated.name = holder.name
    holder.name = name
  }
}

/**
 * An ES module's holder named by its file's path, as the census names it, not by the `file://`
 * URL a heap snapshot gives its script: one file, one name, in every report.
 */
function namedByPath(holder) {
  if (!holder.file.startsWith('file://')) return
  const file = scriptPath(holder.file)
  if (file === null) return
  holder.description = holder.description.replace(holder.file, file)
  holder.file = file
}

/**
 * The variable a holder's name starts from: `stats` of `stats.requests`, `cache` of
 * `cache[*]`, and of `module.exports.cache` (an export, which tsc writes `exports.cache =`).
 */
function rootName(name) {
  return typeof name === 'string' ? name.replace(/^(?:module\.)?exports\./, '').split(/[.[]/, 1)[0] : ''
}

/** Maps a place (`{ url | file, line, column }`), keeping the built one in `generated`. */
async function placeEdit(place, original) {
  const field = typeof place.url === 'string' ? 'url' : 'file'
  const source = await original(place[field], place.line, place.column)
  if (source === null) return
  if (source.why !== undefined) {
    place.sourceMapError = source.why
    return
  }
  place.generated = { [field]: place[field], line: place.line, column: place.column }
  Object.assign(place, { [field]: source.file, line: source.line, column: source.column })
}

/** Maps the positions written in `text` (`parent[key]`), each followed by the built one. */
async function textEdit(parent, key, text, original) {
  const found = []
  for (const match of text.matchAll(POSITION_IN_TEXT)) {
    const after = text.slice(match.index + match[0].length)
    if (MAPPED_AFTER.test(after) || text.slice(0, match.index).endsWith(BUILT_BEFORE)) continue
    const [, file, line, column] = match
    found.push({ match, source: original(file, Number(line), column === undefined ? 1 : Number(column)) })
  }
  if (found.length === 0) return
  let result = ''
  let from = 0
  for (const { match, source } of found) {
    const mapped = await source
    if (mapped === null) continue
    const [written, file, line, column] = match
    const replacement = mapped.why !== undefined ? `${written} (${mapped.why})` : mappedText({ ...mapped, column: column === undefined ? null : mapped.column }, { file, line, column })
    result += text.slice(from, match.index) + replacement
    from = match.index + written.length
  }
  parent[key] = result + text.slice(from)
}

module.exports = { withSourcePositions }
