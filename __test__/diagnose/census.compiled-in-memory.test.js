'use strict'

// The census names a holder in a TypeScript file that a loader compiled in memory: tsx (`node
// --import tsx`, and its CLI with the preload in NODE_OPTIONS) and a require hook that compiles
// as ts-node does (fixtures/census/compiled-hook.js). V8 names the script by the .ts file, whose
// text is not the code it runs, so the census finds the file by the words of the module's
// functions (source-match.js); tsx runs the module's code in an anonymous function inside the
// CommonJS wrapper, whose variables are still the module's. The service is the payments service
// of production/source-words.test.js, whose leak is the module-level Map `responses` of
// src/store.ts; the holder is checked as a report gives it: at its declaration in the .ts file.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const ts = require('typescript')

const ROOT = path.join(__dirname, '..', '..')
const TYPED = path.join(ROOT, '__test__', 'production', 'fixtures', 'typed')
const SERVER_TS = path.join(TYPED, 'src', 'server.ts')
const STORE_TS = path.join(TYPED, 'src', 'store.ts')
const PRELOAD = path.join(__dirname, 'fixtures', 'census', 'service-census.js')
const HOOK = path.join(__dirname, 'fixtures', 'census', 'compiled-hook.js')
const TSX_CLI = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'cli.mjs')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-compiled-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Where `responses` is declared in store.ts: 1-based line and column. */
function declaration() {
  const lines = fs.readFileSync(STORE_TS, 'utf8').split('\n')
  const line = lines.findIndex((l) => l.startsWith('const responses = new Map'))
  return { line: line + 1, column: lines[line].indexOf('responses') + 1 }
}

/**
 * The service's .ts files as ts-node compiles them (TypeScript's transpileModule, CommonJS, an
 * inline map), in a JSON file for compiled-hook.js: its path.
 */
function compiledAsTsNode() {
  const code = {}
  for (const name of fs.readdirSync(path.dirname(STORE_TS))) {
    const fileName = path.join(path.dirname(STORE_TS), name)
    const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, inlineSourceMap: true, inlineSources: true }
    code[fileName] = ts.transpileModule(fs.readFileSync(fileName, 'utf8'), { compilerOptions, fileName }).outputText
  }
  const file = path.join(dir, 'compiled.json')
  fs.writeFileSync(file, JSON.stringify(code))
  return file
}

/** Runs the service (`argv` after this Node; `env` added) with the census preload; resolves with its census line. */
function censusOf(argv, env = {}) {
  return new Promise((resolve, reject) => {
    const options = { cwd: TYPED, env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }
    execFile(process.execPath, [...argv, '1000'], options, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{"type":"census"'))
      if (line === undefined) return reject(new Error(`no census (${err?.code ?? err?.signal ?? 'exit 0'}): ${stdout}\n${stderr}`))
      resolve(JSON.parse(line))
    })
  })
}

/** The first holder is `responses`, a module-level variable of store.ts, at its declaration there. */
function assertNamedInStore(result) {
  const [first] = result.holders
  const seen = JSON.stringify(result.holders.map((h) => h.holder))
  assert.ok(first, `no holder: ${seen}`)
  const { line, column } = declaration()
  assert.deepEqual(
    [first.holder.name, first.holder.className, first.holder.kind, first.holder.file, first.holder.line, first.holder.column],
    ['responses', 'Map', 'module', STORE_TS, line, column],
    seen,
  )
  assert.equal(first.holder.description, `responses (Map), a module-level variable of ${STORE_TS}:${line}:${column}`)
  assert.equal(first.holder.generated, undefined, 'compiled in memory: no built file to name')
  assert.equal(result.debuggerMs, 0, 'named from the file: no Debugger round')
}

test('tsx (node --import tsx): the holder named at its declaration in the .ts file', async () => {
  assertNamedInStore(await censusOf(['-r', PRELOAD, '--import', 'tsx', SERVER_TS]))
})

test("tsx's CLI, the preload in NODE_OPTIONS: the holder named at its declaration in the .ts file", async () => {
  assertNamedInStore(await censusOf([TSX_CLI, SERVER_TS], { NODE_OPTIONS: `-r ${PRELOAD}` }))
})

test("a require hook compiling as ts-node does, its map not kept: the holder named at its declaration in the .ts file", async () => {
  assertNamedInStore(await censusOf(['-r', PRELOAD, '-r', HOOK, SERVER_TS], { COMPILED: compiledAsTsNode() }))
})
