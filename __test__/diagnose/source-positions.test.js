'use strict'

// Source maps (lib/shared/source-maps.js, source-positions.js): a position of built code
// placed where it was written, on real output of tsc (one file per module, `.map` beside)
// and esbuild (one bundle, its map external or inline), checked against Node's own
// `module.SourceMap`; a module-level variable placed by its declaration; a report's holders,
// places and texts rewritten once, the built position kept beside; a map kept only in
// memory (`module.findSourceMap`); broken, hostile and missing maps leaving the built
// position and saying why; and a large map decoded in slices that let the event loop turn.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { SourceMap } = require('node:module')
const ts = require('typescript')
const esbuild = require('esbuild')
const { SourceMaps, noteCompiledInMemory } = require('../../lib/shared/source-maps')
const { withSourcePositions } = require('../../lib/shared/source-positions')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-source-maps-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** The service's sources: a store declaring the leaking Map, a handler in another module. */
const STORE_TS = [
  'export interface Payment { id: string; amount: number; lines: string[] }',
  '',
  '/** Responses kept for idempotent retries; never evicted. */',
  'const responses = new Map<string, Payment>()',
  '',
  'export function remember(id: string, payment: Payment): void {',
  '  responses.set(id, payment)',
  '}',
  '',
].join('\n')
const HANDLER_TS = [
  "import { remember, type Payment } from './store'",
  '',
  'export function handle(id: string): Payment {',
  "  const payment: Payment = { id, amount: 12.5, lines: ['a', 'b'] }",
  '  remember(id, payment)',
  '  return payment',
  '}',
  '',
].join('\n')
const SRC = path.join(dir, 'src')
fs.mkdirSync(SRC)
fs.writeFileSync(path.join(SRC, 'store.ts'), STORE_TS)
fs.writeFileSync(path.join(SRC, 'handler.ts'), HANDLER_TS)

/** 1-based line and column of `text` in `source` (its first occurrence). */
function positionIn(source, text) {
  const at = source.indexOf(text)
  assert.ok(at >= 0, `${text} is in the source`)
  const before = source.slice(0, at)
  return { line: before.split('\n').length, column: at - before.lastIndexOf('\n') }
}

/**
 * tsc's output of the sources into `out`: `.js` with a `.js.map` beside each (module by module,
 * as `tsc` emits them; the types are not checked, which takes seconds and changes no output).
 */
function compileWithTsc(out) {
  fs.mkdirSync(out)
  for (const name of ['store', 'handler']) {
    const fileName = path.join(SRC, `${name}.ts`)
    const compilerOptions = { sourceMap: true, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, outDir: out, rootDir: SRC }
    const { outputText, sourceMapText } = ts.transpileModule(fs.readFileSync(fileName, 'utf8'), { compilerOptions, fileName })
    const map = JSON.parse(sourceMapText)
    map.sources = [path.relative(out, fileName)]
    fs.writeFileSync(path.join(out, `${name}.js`), outputText)
    fs.writeFileSync(path.join(out, `${name}.js.map`), JSON.stringify(map))
  }
  return out
}

/**
 * esbuild's bundle of the sources: one file, its map `linked` (a `.map` its comment names),
 * `external` (a `.map` beside, no comment) or `inline`.
 */
function bundleWithEsbuild(outfile, sourcemap) {
  esbuild.buildSync({ entryPoints: [path.join(SRC, 'handler.ts')], bundle: true, platform: 'node', format: 'cjs', sourcemap, outfile, logLevel: 'silent' })
  return outfile
}

test("tsc's output: every position of the built files is where Node's own SourceMap places it", async () => {
  const out = compileWithTsc(path.join(dir, 'tsc'))
  const maps = new SourceMaps()
  for (const name of ['store', 'handler']) {
    const file = path.join(out, `${name}.js`)
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    const mapText = fs.readFileSync(`${file}.map`, 'utf8')
    const nodeMap = new SourceMap(JSON.parse(mapText))
    let compared = 0
    for (let line = 1; line <= lines.length; line++) {
      for (let column = 1; column <= lines[line - 1].length; column += 3) {
        const ours = await maps.original(file, line, column)
        const entry = nodeMap.findEntry(line - 1, column - 1)
        if (entry.generatedLine !== line - 1) continue // Node then answers with an earlier line's mapping
        const node = { file: path.resolve(out, entry.originalSource), line: entry.originalLine + 1, column: entry.originalColumn + 1 }
        assert.deepStrictEqual(ours, node, `${name}.js:${line}:${column}`)
        compared++
      }
    }
    assert.ok(compared > 20, `${compared} positions of ${name}.js compared`)
  }
  // The declaration of `responses` in store.js is the one in store.ts.
  const store = path.join(out, 'store.js')
  const declared = await maps.declaration(store, 'responses')
  assert.deepStrictEqual(declared, positionIn(fs.readFileSync(store, 'utf8'), 'responses ='))
  assert.deepStrictEqual(await maps.original(store, declared.line, declared.column), { file: path.join(SRC, 'store.ts'), ...positionIn(STORE_TS, 'responses = new Map') })
})

test("esbuild's bundle, its map linked, external or inline: the module-level Map is the store module's, at its declaration", async () => {
  for (const sourcemap of ['linked', 'external', 'inline']) {
    const bundle = bundleWithEsbuild(path.join(dir, `bundle-${sourcemap}`, 'server.js'), sourcemap)
    const report = {
      path: path.join(dir, 'leakproof-2026-11-27T12:00:00.000Z-1.report.json'),
      suspects: [
        {
          holder: { name: 'responses', className: 'Map', kind: 'module', file: bundle, line: null, column: null, description: `responses (Map), a module-level variable of ${bundle}` },
          madeAt: null,
        },
      ],
    }
    await withSourcePositions(report, new SourceMaps())
    const { holder } = report.suspects[0]
    const declaredAt = positionIn(fs.readFileSync(bundle, 'utf8'), 'responses = ')
    assert.deepStrictEqual(holder.generated, { file: bundle, ...declaredAt })
    assert.equal(holder.file, path.join(SRC, 'store.ts'), sourcemap)
    assert.deepStrictEqual({ line: holder.line, column: holder.column }, positionIn(STORE_TS, 'responses = new Map'))
    assert.equal(holder.description, `responses (Map), a module-level variable of ${path.join(SRC, 'store.ts')}:${holder.line}:${holder.column} (built: ${bundle}:${declaredAt.line}:${declaredAt.column})`)
    assert.equal(report.path, path.join(dir, 'leakproof-2026-11-27T12:00:00.000Z-1.report.json'), "leakproof's own file names are left alone")
  }
})

test("a report's places, closures and texts are mapped once, the built position beside; a second pass changes nothing", async () => {
  const bundle = bundleWithEsbuild(path.join(dir, 'bundle-report', 'server.js'), 'linked')
  const built = fs.readFileSync(bundle, 'utf8')
  const setCall = positionIn(built, 'responses.set(')
  const handleAt = positionIn(built, 'function handle(')
  const report = {
    sites: { sites: [{ functionName: 'remember', url: `file://${bundle}`, line: setCall.line, column: setCall.column, appFrame: { functionName: 'handle', url: bundle, line: handleAt.line, column: handleAt.column } }] },
    growthRoots: [{ holder: { name: 'seen', kind: 'closure', file: bundle, line: handleAt.line, column: handleAt.column, description: `seen (Map), a variable of handle at ${bundle}:${handleAt.line}:${handleAt.column}` } }],
    newByClass: [{ className: `function remember at ${bundle}:${setCall.line}:${setCall.column}` }],
    unmapped: `/nowhere/app.js:3:4 and node:internal/timers:594:17`,
  }
  await withSourcePositions(report, new SourceMaps())
  const [site] = report.sites.sites
  const setSource = { line: positionIn(STORE_TS, 'responses.set(').line }
  assert.equal(site.url, path.join(SRC, 'store.ts'))
  assert.equal(site.line, setSource.line)
  assert.deepStrictEqual(site.generated, { url: `file://${bundle}`, line: setCall.line, column: setCall.column })
  assert.equal(site.appFrame.url, path.join(SRC, 'handler.ts'))
  assert.equal(site.appFrame.line, positionIn(HANDLER_TS, 'function handle(').line)
  const { holder } = report.growthRoots[0]
  assert.equal(holder.file, path.join(SRC, 'handler.ts'))
  assert.match(holder.description, new RegExp(`^seen \\(Map\\), a variable of handle at ${escape(path.join(SRC, 'handler.ts'))}:3:\\d+ \\(built: ${escape(bundle)}:${handleAt.line}:${handleAt.column}\\)$`))
  assert.match(report.newByClass[0].className, new RegExp(`^function remember at ${escape(path.join(SRC, 'store.ts'))}:${setSource.line}:\\d+ \\(built: ${escape(bundle)}:`))
  assert.equal(report.unmapped, `/nowhere/app.js:3:4 and node:internal/timers:594:17`)
  const once = JSON.stringify(report)
  await withSourcePositions(report, new SourceMaps())
  assert.equal(JSON.stringify(report), once)
})

test("a map Node keeps in memory only (code compiled by a loader, as tsx does) is read through module.findSourceMap", () => {
  // The file on disk has no map comment; the code compiled from it carries an inline map,
  // which Node (source maps enabled, as tsx enables them) keeps.
  const result = ts.transpileModule(STORE_TS, { compilerOptions: { sourceMap: true, inlineSourceMap: true, module: ts.ModuleKind.CommonJS }, fileName: path.join(SRC, 'store.ts') })
  const child = path.join(dir, 'in-memory.js')
  fs.writeFileSync(
    child,
    [
      "const Module = require('node:module')",
      `const file = ${JSON.stringify(path.join(SRC, 'store.ts'))}`,
      `const compiled = new Module(file); compiled.filename = file; compiled._compile(${JSON.stringify(result.outputText)}, file)`,
      `const { withSourcePositions } = require(${JSON.stringify(require.resolve('../../lib/shared/source-positions'))})`,
      `const line = ${result.outputText.split('\n').findIndex((l) => l.includes('responses.set(')) + 1}`,
      "const site = { functionName: 'remember', url: file, line, column: 5 }",
      'withSourcePositions({ site }).then(() => console.log(JSON.stringify(site)))',
    ].join('\n'),
  )
  const site = JSON.parse(execFileSync(process.execPath, ['--enable-source-maps', child], { encoding: 'utf8' }))
  assert.equal(site.url, path.join(SRC, 'store.ts'))
  assert.equal(site.line, positionIn(STORE_TS, 'responses.set(').line)
  assert.equal(site.generated.line, result.outputText.split('\n').findIndex((l) => l.includes('responses.set(')) + 1)
})

test("a file compiled in memory from its own text (tsx, ts-node): a module-level holder is at its declaration there, no map asked", async () => {
  // tsx's way: Node keeps the map (source maps enabled), and it names the .ts file as its source.
  const fileName = path.join(SRC, 'store.ts')
  const result = ts.transpileModule(STORE_TS, { compilerOptions: { sourceMap: true, inlineSourceMap: true, module: ts.ModuleKind.CommonJS }, fileName })
  const child = path.join(dir, 'compiled-from-itself.js')
  const description = `responses (Map), a module-level variable of ${fileName}`
  fs.writeFileSync(
    child,
    [
      "const Module = require('node:module')",
      `const file = ${JSON.stringify(fileName)}`,
      `const compiled = new Module(file); compiled.filename = file; compiled._compile(${JSON.stringify(result.outputText)}, file)`,
      `const { withSourcePositions } = require(${JSON.stringify(require.resolve('../../lib/shared/source-positions'))})`,
      `const holder = { name: 'responses', className: 'Map', kind: 'module', file, line: 3, column: 18, description: ${JSON.stringify(description)} }`,
      'withSourcePositions({ holder }).then(() => withSourcePositions({ holder })).then(() => console.log(JSON.stringify(holder)))',
    ].join('\n'),
  )
  const declared = positionIn(STORE_TS, 'responses = new Map')
  const placed = { name: 'responses', className: 'Map', kind: 'module', file: fileName, ...declared, description: `${description}:${declared.line}:${declared.column}` }
  assert.deepStrictEqual(JSON.parse(execFileSync(process.execPath, ['--enable-source-maps', child], { encoding: 'utf8' })), placed, 'placed once, twice applied')
  // ts-node's way: no map kept; the census found the file by its functions' words and noted it.
  const maps = new SourceMaps()
  noteCompiledInMemory(fileName)
  const holder = { name: 'responses', className: 'Map', kind: 'module', file: fileName, line: 3, column: 18, description }
  await withSourcePositions({ holder }, maps)
  assert.deepStrictEqual(holder, placed)
  const site = { url: fileName, line: 7, column: 3 }
  await withSourcePositions({ site }, maps)
  assert.match(site.sourceMapError, /^compiled in memory from this file, and Node keeps no source map of it/, 'a position V8 gives there is not the file\'s, and says so')
  assert.equal(site.line, 7)
})

test('missing, malformed and hostile maps leave the built position and say why; a file without one is left alone', async () => {
  const cases = {
    missing: '//# sourceMappingURL=gone.js.map',
    'not json': '//# sourceMappingURL=data:application/json;base64,' + Buffer.from('{"version":3,').toString('base64'),
    'bad mappings': '//# sourceMappingURL=data:application/json,' + encodeURIComponent(JSON.stringify({ version: 3, sources: ['a.ts'], mappings: 'AAAA;!!!' })),
    'version 2': '//# sourceMappingURL=data:application/json,' + encodeURIComponent(JSON.stringify({ version: 2, sources: ['a.ts'], mappings: 'AAAA' })),
    'a device': '//# sourceMappingURL=/dev/zero',
    'a folder': `//# sourceMappingURL=${dir}`,
  }
  const maps = new SourceMaps()
  for (const [name, comment] of Object.entries(cases)) {
    const file = path.join(dir, `${name.replaceAll(' ', '-')}.js`)
    fs.writeFileSync(file, `let a = 1\nlet b = 2\n${comment}\n`)
    const found = await maps.original(file, 2, 1)
    assert.equal(typeof found?.why, 'string', `${name}: ${JSON.stringify(found)}`)
    const report = { text: `at ${file}:2:1`, site: { url: file, line: 2, column: 1 } }
    await withSourcePositions(report, maps)
    assert.equal(report.text, `at ${file}:2:1 (${found.why})`, name)
    assert.deepStrictEqual(report.site, { url: file, line: 2, column: 1, sourceMapError: found.why }, name)
  }
  const plain = path.join(dir, 'plain.js')
  fs.writeFileSync(plain, 'let a = 1\n')
  assert.equal(await maps.original(plain, 1, 1), null)
  assert.equal(await maps.original('node:internal/timers', 1, 1), null)
  assert.equal(await maps.original(path.join(dir, 'absent.js'), 1, 1), null)
})

test('a large map is decoded in slices: the event loop turns while a far line is looked up', async () => {
  // 200,000 generated lines, one segment each, all in one source.
  const lines = 200_000
  const file = path.join(dir, 'large.js')
  const mappings = ['AAAA', ...Array(lines - 1).fill('AACA')].join(';')
  fs.writeFileSync(`${file}.map`, JSON.stringify({ version: 3, sources: ['large.ts'], sourcesContent: ['x'.repeat(1000)], mappings }))
  fs.writeFileSync(file, `${'x\n'.repeat(10)}//# sourceMappingURL=large.js.map\n`)
  let turns = 0
  let turning = true
  const turn = () => {
    turns++
    if (turning) setImmediate(turn)
  }
  setImmediate(turn)
  const found = await new SourceMaps().original(file, lines, 1)
  turning = false
  assert.deepStrictEqual(found, { file: path.join(dir, 'large.ts'), line: lines, column: 1 })
  assert.ok(turns > 3, `the loop turned ${turns} times during the lookup`)
})

/** `text` as a literal in a RegExp. */
function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

test("an ES module's holder, which a snapshot names by file:// URL, is named by its path, as the census names it", async () => {
  const file = path.join(dir, 'a module.mjs')
  fs.writeFileSync(file, 'export const seen = new Map()\n')
  const url = require('node:url').pathToFileURL(file).href
  const holder = { name: 'seen', className: 'Map', kind: 'module', file: url, description: `seen (Map), a module-level variable of ${url}` }
  await withSourcePositions({ holder }, new SourceMaps())
  assert.deepStrictEqual(holder, { name: 'seen', className: 'Map', kind: 'module', file, description: `seen (Map), a module-level variable of ${file}` })
})
