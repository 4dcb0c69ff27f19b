'use strict'

/**
 * `node scripts/layers.js` (part of `npm run lint`): every import between lib/'s parts points
 * down the layers below, and no module imports one that imports it back. A part may import
 * from its own folder and from any lower layer; two parts on one layer stay apart. The same
 * for the Rust of src/: no file imports one that imports it back (see `rustImportsOf`).
 * Prints each import that points up or sideways and each cycle, and the counts; exits 1 if
 * there is any.
 */
const fs = require('node:fs')
const path = require('node:path')

const LIB = path.join(__dirname, '..', 'lib')

/** The parts of lib/, lowest first: a part imports only from the layers before its own. */
const LAYERS = [['shared'], ['cache', 'track'], ['detect'], ['sites'], ['diagnose'], ['capture'], ['mitigate'], ['watch'], ['page'], ['operate', 'leak-test', 'attach'], ['mcp']]
const LAYER_OF = new Map(LAYERS.flatMap((parts, layer) => parts.map((part) => [part, layer])))

/** Every file under `dir` whose name ends with `extension`. */
function filesUnder(dir, extension) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return filesUnder(file, extension)
    return entry.name.endsWith(extension) ? [file] : []
  })
}

/** The part of lib/ that `file` belongs to (its first folder). */
const partOf = (file) => path.relative(LIB, file).split(path.sep)[0]

/** The files of lib/ that `file` requires by a relative path. */
function importsOf(file) {
  const text = fs.readFileSync(file, 'utf8')
  const found = []
  for (const [, spec] of text.matchAll(/require\('(\.{1,2}\/[^']+)'\)/g)) {
    const target = require.resolve(path.resolve(path.dirname(file), spec))
    if (target.startsWith(LIB + path.sep) && target.endsWith('.js')) found.push(target)
  }
  return found
}

const files = filesUnder(LIB, '.js')
const graph = new Map(files.map((file) => [file, importsOf(file)]))
const problems = []

for (const part of new Set(files.map(partOf))) {
  if (!LAYER_OF.has(part)) problems.push(`lib/${part}: not a part of any layer in scripts/layers.js`)
}
let against = 0
for (const [file, targets] of graph) {
  const from = partOf(file)
  for (const target of targets) {
    const to = partOf(target)
    if (to === from || LAYER_OF.get(to) < LAYER_OF.get(from)) continue
    against++
    problems.push(`${path.relative(LIB, file)} -> ${path.relative(LIB, target)}: ${from} may not import from ${to}`)
  }
}

/**
 * The cycles of `graph` (each file's imports): a depth-first walk, where a file met again while
 * it is still on the walk's path closes one. Each cycle is its files, the first again at the end.
 */
function cyclesOf(graph) {
  const cycles = []
  const state = new Map()
  function walk(file, trail) {
    state.set(file, 'open')
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') cycles.push([...trail.slice(trail.indexOf(target)), target])
      else if (!state.has(target)) walk(target, [...trail, target])
    }
    state.set(file, 'done')
  }
  for (const file of graph.keys()) if (!state.has(file)) walk(file, [file])
  return cycles
}

const cycles = cyclesOf(graph)
for (const cycle of cycles) problems.push(`cycle: ${cycle.map((f) => path.relative(LIB, f)).join(' -> ')}`)

// The Rust of src/: no file imports one that imports it back.

const ROOT = path.join(__dirname, '..')
const SRC = path.join(ROOT, 'src')

/**
 * The module a file of src/ holds, as its path from the crate's root: `src/lib.rs` is the
 * crate itself (`[]`), `<a>.rs` and `<a>/mod.rs` under src/ are `['a']`, `<a>/<b>.rs` is `['a', 'b']`.
 */
function moduleOf(file) {
  const names = path.relative(SRC, file).replace(/\.rs$/, '').split(path.sep)
  if (names.at(-1) === 'mod' || names.join('/') === 'lib') names.pop()
  return names
}

/**
 * `text` without its comments, string literals and character literals: what is left is code,
 * where a path is a path (doc comments link to modules a file does not use). Lifetimes stay.
 */
function codeOf(text) {
  const notCode = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|\bb?r(#*)"[\s\S]*?"\1|"(?:\\[\s\S]|[^"\\])*"|'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'/g
  return text.replace(notCode, ' ')
}

/**
 * The leaf paths of a `use` tree, each as its names: `a::{b, c::{self, D}}` is `a::b`, `a::c`
 * and `a::c::D`; a glob (`a::*`) is the module `a`.
 */
function useTreePaths(tree) {
  const text = tree.replace(/\s+as\s+\w+/g, '').replace(/\s+/g, '')
  const paths = []
  let i = 0
  function read(prefix) {
    const names = [...prefix]
    for (;;) {
      if (text[i] === '{') {
        i++
        while (i < text.length && text[i] !== '}') {
          read(names)
          if (text[i] === ',') i++
        }
        i++
        return
      }
      if (text[i] === '*') {
        i++
        paths.push(names)
        return
      }
      const name = /^\w+/.exec(text.slice(i))?.[0]
      if (!name) throw new Error(`use ${tree}: a use tree layers.js cannot read`)
      i += name.length
      if (name !== 'self') names.push(name)
      if (!text.startsWith('::', i)) {
        paths.push(names)
        return
      }
      i += 2
    }
  }
  while (i < text.length) {
    read([])
    if (text[i] === ',') i++
  }
  return paths
}

const rustFiles = filesUnder(SRC, '.rs')
/** Each module that is a file of its own, by its path (`core::detect::detector`). */
const FILE_OF_MODULE = new Map(rustFiles.map((file) => [moduleOf(file).join('::'), file]))

/**
 * The file that holds the item or module `names` names, from module `here` (its names, inline
 * modules such as `mod tests { ... }` among them) whose file declares the child modules
 * `children`; `undefined` for another crate's (`std::`, `napi::`) or an item in scope. The
 * file is the one of the longest leading part of the path that is a module with a file:
 * the item itself may be one its file re-exports.
 */
function fileNamed(names, here, children) {
  let at
  let rest
  if (names[0] === 'crate') [at, rest] = [[], names.slice(1)]
  else if (names[0] === 'super' || names[0] === 'self') {
    at = [...here]
    rest = [...names]
    while (rest[0] === 'super' || rest[0] === 'self') if (rest.shift() === 'super') at.pop()
  } else if (children.has(names[0])) [at, rest] = [here, names]
  else return undefined
  const full = [...at, ...rest]
  for (let n = full.length; n >= 0; n--) {
    const file = FILE_OF_MODULE.get(full.slice(0, n).join('::'))
    if (file) return file
  }
  return undefined
}

/**
 * The files of src/ that `file` imports: those its `use` declarations (`pub use` among them)
 * and the paths in its code (`super::grown::new_bytes_of(...)`) name, through `crate::`,
 * `super::`, `self::` or the name of a child module it declares. A `mod` declaration imports
 * nothing: a parent may use its child or the child its parent (a `tests.rs` with
 * `use super::*`), not both. `super` inside an inline module (`mod tests { use super::*; }`)
 * is the file's own module, which is no import.
 */
function rustImportsOf(file) {
  const code = codeOf(fs.readFileSync(file, 'utf8'))
  const children = new Set([...code.matchAll(/\bmod\s+(\w+)\s*;/g)].map((m) => m[1]))
  const found = new Set()
  // The braces open around the current point: an inline module's name, or null for any other.
  const scopes = []
  // A visibility (`pub(in crate::a)`) names a module but imports nothing: matched to be skipped.
  const tokens = /\bpub\s*\(\s*in\s[^)]*\)|\bmod\s+(\w+)\s*\{|\buse\s+([^;]+);|\b((?:crate|super|self|[a-z_]\w*)(?:\s*::\s*\w+)+)|[{}]/g
  for (const [token, inlineModule, useTree, codePath] of code.matchAll(tokens)) {
    if (token.startsWith('pub')) continue
    if (inlineModule) scopes.push(inlineModule)
    else if (token === '{') scopes.push(null)
    else if (token === '}') scopes.pop()
    else {
      const inline = scopes.filter(Boolean)
      const here = [...moduleOf(file), ...inline]
      const paths = useTree ? useTreePaths(useTree) : [codePath.split(/\s*::\s*/)]
      // A child's name is a path from the file's own module only, not from an inline one.
      const childNames = inline.length === 0 ? children : new Set()
      for (const names of paths) {
        const target = fileNamed(names, here, childNames)
        if (target && target !== file) found.add(target)
      }
    }
  }
  return [...found]
}

const rustGraph = new Map(rustFiles.map((file) => [file, rustImportsOf(file)]))
const rustCycles = cyclesOf(rustGraph)
for (const cycle of rustCycles) problems.push(`cycle: ${cycle.map((f) => path.relative(ROOT, f)).join(' -> ')}`)

for (const problem of problems) console.error(problem)
console.log(`layers: ${files.length} modules, ${[...graph.values()].flat().length} imports, ${against} against the layers, ${cycles.length} cycles`)
console.log(`layers: src/ ${rustFiles.length} Rust files, ${[...rustGraph.values()].flat().length} imports, ${rustCycles.length} cycles`)
process.exitCode = problems.length === 0 ? 0 : 1
