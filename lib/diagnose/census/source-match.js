'use strict'

/**
 * Whether a file holds a function V8 runs, from the function's source text (as
 * `Function.prototype.toString` gives it) and its place (script-files.js). Three ways, by
 * what the file is to the code V8 ran:
 *
 * - the code itself (a `.js` file, a bundle): the source text is in the file, around the
 *   function's line and column (`holdsAt`);
 * - a TypeScript file Node ran by stripping its types: the file's text with each type blanked,
 *   positions kept (`holdsStripped`);
 * - a TypeScript file compiled in memory (tsx, ts-node, a loader hook) into code that is in no
 *   file: neither its text nor its positions are the file's, but its words are, in order, with
 *   the types between them (`compiledFrom`).
 */

/** TypeScript files, which Node's type stripping runs with their types blanked, and which loaders compile in memory. */
const { TYPESCRIPT } = require('../../shared/source-maps')
/** How far before its place a function's source may start (its name, modifiers, decorators). */
const SOURCE_LEAD = 2000

/**
 * The words of code: identifiers and keywords, and numbers (by their value: `1_000` is `1e3`
 * as a minifier prints it). Punctuation, quotes and spacing are left out: compilers rewrite them.
 */
const WORD = /[A-Za-z_$][\w$]*|0[xXbBoO][\da-fA-F_]+n?|\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?n?/g
/**
 * Words a compiler adds to a function that its source does not have: the variables it gives an
 * imported module (`store_1`, `import_store`, `_store__WEBPACK_IMPORTED_MODULE_0__`), its
 * helpers (`__name`, `__async`) and the `(0, f)()` and `void 0` it calls and reads with.
 */
const COMPILER_WORDS = /^(?:[\w$]+_\d+|import_[\w$]+|_?[\w$]*__WEBPACK_[\w$]*|__[\w$]+|0|void)$/
/** The fewest words of a function's source that tell its file: fewer match anywhere. */
const MIN_WORDS = 6
/**
 * Up to this many words all must be found; of a longer source, COMPILED_SHARE (the words a
 * compiler changed otherwise: a helper inlined, an enum's member, a lowered `?.`).
 */
const ALL_WORDS_UP_TO = 12
const COMPILED_SHARE = 0.85
/** Words of the file looked past for a function's next word: a type annotation's, a comment's. */
const LOOKAHEAD = 32
/** The first words of a function's source tried as where it starts in the file. */
const ANCHORS = 3
/** Places of one anchor word tried in a file at most. */
const MAX_STARTS = 2000

/**
 * Whether `text` holds the function at 1-based `line` and `column`: its source text is in the
 * file, around that place. (V8 places a function where its parameters start, its source text
 * begins at `function`, `async` or its name.)
 */
function holdsAt(text, { line, column, source, length }) {
  let at = text.indexOf(source)
  if (at === -1) return false
  const place = offsetOf(text, line, column)
  for (; at !== -1 && at <= place; at = text.indexOf(source, at + 1)) {
    if (place < at + length) return true
  }
  return false
}

/**
 * `holdsAt` for a TypeScript file Node ran by stripping its types: V8's source of the function
 * is the file's text with each type replaced by as many spaces (positions kept), so it starts
 * before the function's place, and each of its characters but the spaces is the file's.
 */
function holdsStripped(text, { line, column, source }) {
  const place = offsetOf(text, line, column)
  if (place < 0) return false
  const kept = source.replace(/\s/g, '').length
  if (kept < 8) return false
  for (let start = Math.max(0, place - SOURCE_LEAD); start <= place; start++) {
    if (text.charCodeAt(start) !== source.charCodeAt(0)) continue
    let i = 1
    while (i < source.length && (source[i] === text[start + i] || source[i] === ' ')) i++
    if (i === source.length) return true
  }
  return false
}

/**
 * The words of a compiled function's source (`source`, its first characters; `length`, the
 * whole source's) that its TypeScript file must hold: the compiler's own left out, and a word
 * cut at the end of a source cut short. Null when too few are left to tell a file.
 */
function compiledWords({ source, length }) {
  const words = []
  for (const [word] of source.matchAll(WORD)) if (!COMPILER_WORDS.test(word)) words.push(normalWord(word))
  if (length > source.length && /[\w$]$/.test(source)) words.pop()
  return words.length >= MIN_WORDS ? words : null
}

/** A word as compared: a number by its value. */
function normalWord(word) {
  if (!/^\d/.test(word)) return word
  const value = Number(word.replaceAll('_', '').replace(/n$/, ''))
  return Number.isNaN(value) ? word : String(value)
}

/** A file's words, and where each word is: what `compiledFrom` searches, made once a file. */
function fileWords(text) {
  const words = Array.from(text.matchAll(WORD), ([word]) => normalWord(word))
  const at = new Map()
  words.forEach((word, i) => {
    const places = at.get(word)
    if (places === undefined) at.set(word, [i])
    else if (places.length < MAX_STARTS) places.push(i)
  })
  return { words, at }
}

/**
 * Whether the file whose words are `file` (fileWords) holds the source of a function compiled
 * from it, whose words are `words` (compiledWords): they are the file's in order, each within
 * LOOKAHEAD words of the one before (a type between them), starting from one of its first
 * ANCHORS words; all of them for a short function, COMPILED_SHARE of a longer one's.
 */
function compiledFrom(file, words) {
  const needed = words.length <= ALL_WORDS_UP_TO ? words.length : Math.ceil(COMPILED_SHARE * words.length)
  for (let anchor = 0; anchor < ANCHORS && words.length - anchor >= needed; anchor++) {
    for (const start of file.at.get(words[anchor]) ?? []) {
      let found = 1
      let next = start + 1
      for (let i = anchor + 1; i < words.length && found + words.length - i >= needed; i++) {
        const end = Math.min(file.words.length, next + LOOKAHEAD)
        for (let j = next; j < end; j++) {
          if (file.words[j] !== words[i]) continue
          found++
          next = j + 1
          break
        }
      }
      if (found >= needed) return true
    }
  }
  return false
}

/** The offset in `text` of 1-based `line` and `column`, or -1 past its end. */
function offsetOf(text, line, column) {
  let place = 0
  for (let l = 1; l < line; l++) {
    place = text.indexOf('\n', place)
    if (place === -1) return -1
    place++
  }
  return place + column - 1
}

module.exports = { TYPESCRIPT, holdsAt, holdsStripped, compiledWords, fileWords, compiledFrom }
