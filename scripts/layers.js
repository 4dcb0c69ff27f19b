'use strict'

/**
 * `node scripts/layers.js` (part of `npm run lint`): every import between lib/'s parts points
 * down the layers below, and no module imports one that imports it back. A part may import
 * from its own folder and from any lower layer; two parts on one layer stay apart. Prints each
 * import that points up or sideways and each cycle, and the counts; exits 1 if there is any.
 */
const fs = require('node:fs')
const path = require('node:path')

const LIB = path.join(__dirname, '..', 'lib')

/** The parts of lib/, lowest first: a part imports only from the layers before its own. */
const LAYERS = [['shared'], ['cache', 'track'], ['detect'], ['sites'], ['diagnose'], ['capture'], ['mitigate'], ['watch'], ['page'], ['operate', 'leak-test', 'attach'], ['mcp']]
const LAYER_OF = new Map(LAYERS.flatMap((parts, layer) => parts.map((part) => [part, layer])))

/** Every .js file under `dir`. */
function jsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return jsFiles(file)
    return entry.name.endsWith('.js') ? [file] : []
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

const files = jsFiles(LIB)
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

// Cycles: a depth-first walk, a module met again while still on the path closes one.
let cycles = 0
const state = new Map()
function walk(file, trail) {
  state.set(file, 'open')
  for (const target of graph.get(file) ?? []) {
    if (state.get(target) === 'open') {
      cycles++
      problems.push(`cycle: ${[...trail.slice(trail.indexOf(target)), target].map((f) => path.relative(LIB, f)).join(' -> ')}`)
    } else if (!state.has(target)) walk(target, [...trail, target])
  }
  state.set(file, 'done')
}
for (const file of files) if (!state.has(file)) walk(file, [file])

for (const problem of problems) console.error(problem)
console.log(`layers: ${files.length} modules, ${[...graph.values()].flat().length} imports, ${against} against the layers, ${cycles} cycles`)
process.exitCode = problems.length === 0 ? 0 : 1
