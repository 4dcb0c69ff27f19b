'use strict'

// The files of a service's modules (lib/diagnose/census/module-files.js), where the census
// looks for an ES module's function: no registry lists ES modules, so they are reached from the
// entry through the specifiers of `import`, `export … from` and `import()`, resolved as Node
// resolves them (relative paths, packages by `exports` with their conditions and subpath
// patterns, `main`, a folder without a package.json, `#imports`), the entry first, the app's
// files before the packages'. A specifier that names no file is passed over.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ModuleFiles } = require('../../lib/diagnose/census/module-files')

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-module-files-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Writes `files` (path under `dir` -> text, or an object written as JSON). */
function writeTree(files) {
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), typeof content === 'string' ? content : JSON.stringify(content))
  }
}

/** The files the crawl yields, relative to `dir`, in order. */
async function crawled(options) {
  const files = []
  for await (const { file } of new ModuleFiles(options).files(100)) files.push(path.relative(dir, file))
  return files
}

writeTree({
  'package.json': { type: 'module', imports: { '#db': './src/db.js' } },
  'server.js': [
    "import { route } from './src/routes.js'",
    "import pLimit from 'limit'",
    "import { fancy } from 'dual/feature/fancy'",
    "export * from '@acme/kit'",
    "import legacy from 'legacy'",
    "import 'node:http'",
    "// import gone from './src/gone.js' (a file that is not there)",
    "const later = () => import('./src/later.js')",
  ].join('\n'),
  'src/routes.js': "import db from '#db'\nexport function route() {}",
  'src/db.js': 'export default {}',
  'src/later.js': 'export const later = 1',
  'node_modules/limit/package.json': { name: 'limit', type: 'module', exports: './index.js' },
  'node_modules/limit/index.js': "import Queue from 'queue-lib'\nexport default function pLimit() {}",
  'node_modules/queue-lib/package.json': { name: 'queue-lib', type: 'module', exports: { '.': { types: './index.d.ts', import: './index.js', require: './index.cjs' } } },
  'node_modules/queue-lib/index.js': 'export default class Queue {}',
  'node_modules/queue-lib/index.cjs': 'module.exports = class Queue {}',
  'node_modules/queue-lib/index.d.ts': 'export default class Queue {}',
  'node_modules/dual/package.json': { name: 'dual', exports: { '.': './main.js', './feature/*': { import: './features/*.mjs' } } },
  'node_modules/dual/features/fancy.mjs': 'export const fancy = 1',
  'node_modules/@acme/kit/package.json': { name: '@acme/kit', main: 'lib/kit.js' },
  'node_modules/@acme/kit/lib/kit.js': 'exports.kit = 1',
  'node_modules/legacy/index.js': 'module.exports = 1',
  'old/tool.cjs': "'use strict'\nmodule.exports = () => import('../node_modules/limit/index.js')",
})

test('The crawl reaches the ES modules an entry imports: relative, packages by exports, conditions and patterns, main, #imports, import()', async () => {
  const files = await crawled({ known: [], entries: [path.join(dir, 'server.js')], cjsFiles: [] })
  assert.deepEqual(files.slice(0, 4), ['server.js', 'src/routes.js', 'src/later.js', 'src/db.js'], 'the entry, then the app\'s files in the order reached')
  assert.deepEqual(new Set(files.slice(4)), new Set([
    'node_modules/limit/index.js',
    'node_modules/dual/features/fancy.mjs',
    'node_modules/@acme/kit/lib/kit.js',
    'node_modules/legacy/index.js',
    'node_modules/queue-lib/index.js',
    'node_modules/queue-lib/index.cjs',
  ]))
  assert.equal(files.length, 10, 'each file once, none for node:http or a specifier in a comment that names no file')
})

test('The crawl reads the CommonJS modules and follows their import(); known files are read for their imports only', async () => {
  const files = await crawled({ known: [path.join(dir, 'server.js'), 'node:internal/main'], entries: [], cjsFiles: [path.join(dir, 'old/tool.cjs')] })
  assert.equal(files[0], 'old/tool.cjs')
  assert.ok(!files.includes('server.js'), 'a known file is not yielded')
  assert.ok(files.includes('src/routes.js') && files.includes('node_modules/limit/index.js'), JSON.stringify(files))
})

test('The crawl stops at its reads: at most maxFiles files read', async () => {
  const files = []
  for await (const { file } of new ModuleFiles({ known: [], entries: [path.join(dir, 'server.js')], cjsFiles: [] }).files(3)) files.push(file)
  assert.equal(files.length, 3)
})

test('The crawl reaches TypeScript files as a TypeScript loader resolves them: ./store.js is store.ts where no store.js is', async () => {
  writeTree({
    'typed/package.json': { type: 'module' },
    'typed/server.ts': ["import { remember } from './store.js'", "import { limit } from './lib'", "import { Kind } from './kinds.mjs'", "import './built.js'"].join('\n'),
    'typed/store.ts': 'export const remember = () => {}',
    'typed/lib/index.ts': 'export const limit = 1',
    'typed/kinds.mts': 'export enum Kind { A }',
    'typed/built.js': 'export {}',
    'typed/built.ts': 'export {}',
  })
  const files = await crawled({ known: [], entries: [path.join(dir, 'typed', 'server.ts')], cjsFiles: [] })
  assert.deepEqual(files, ['typed/server.ts', 'typed/store.ts', 'typed/lib/index.ts', 'typed/kinds.mts', 'typed/built.js'], 'a .js file that is there is the one imported')
})
