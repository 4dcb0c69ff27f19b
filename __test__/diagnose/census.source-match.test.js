'use strict'

// Whether a TypeScript file holds a function compiled from it in memory (tsx, ts-node), by its
// words (lib/diagnose/census/source-match.js): the functions of real tsc and esbuild output,
// against their own source, another file of the same service, and too few words to tell.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const vm = require('node:vm')
const ts = require('typescript')
const esbuild = require('esbuild')
const { compiledWords, fileWords, compiledFrom } = require('../../lib/diagnose/census/source-match')

const STORE_TS = `import type { Payment } from './types.ts'

const responses = new Map<string, Payment>()

export function remember(payment: Payment): void {
  responses.set(payment.idempotencyKey, payment)
}

export function replay(idempotencyKey: string): Payment | undefined {
  return responses.get(idempotencyKey)
}

export function priced(payment: Payment, rate: number = 1_000): number {
  const cents: number = payment.amountCents as number
  return Math.round((cents * rate) / 1_000) + (payment.tip?.cents ?? 0)
}
`
const CATALOG_TS = `import type { Product } from './types.ts'

const products: Product[] = []

export function randomProduct(): Product {
  return products[Math.floor(Math.random() * products.length)] ?? { sku: 'sku-gift', name: 'gift card', priceCents: 2500, tags: [] }
}
`

/** The module's functions as V8 gives their sources: the code evaluated, each function's text. */
function compiledFunctions(code) {
  const module = { exports: {} }
  vm.runInThisContext(`(function (exports, require, module) {${code}\n})`)(module.exports, () => ({}), module)
  return Object.fromEntries(['remember', 'replay', 'priced'].map((name) => [name, Object.getOwnPropertyDescriptor(module.exports, name).get?.() ?? module.exports[name]]))
}

const tsc = compiledFunctions(ts.transpileModule(STORE_TS, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText)
const esbuilt = compiledFunctions(esbuild.transformSync(STORE_TS, { loader: 'ts', format: 'cjs', minifyWhitespace: true, keepNames: true }).code)

/** The words of a function's source as script-files.js gives them. */
const wordsOf = (fn) => compiledWords({ source: fn.toString().slice(0, 400), length: fn.toString().length })

test("tsc's and esbuild's (tsx's, whitespace minified) functions are found in the .ts file they were compiled from", () => {
  const store = fileWords(STORE_TS)
  for (const [compiler, functions] of Object.entries({ tsc, esbuild: esbuilt })) {
    for (const [name, fn] of Object.entries(functions)) {
      const words = wordsOf(fn)
      assert.ok(words !== null, `${compiler} ${name}: ${fn}`)
      assert.equal(compiledFrom(store, words), true, `${compiler} ${name}: ${fn} in store.ts`)
    }
  }
})

test('a function is not found in another file of the service, nor in its file with a word changed', () => {
  const catalog = fileWords(CATALOG_TS)
  for (const fn of [...Object.values(tsc), ...Object.values(esbuilt)]) assert.equal(compiledFrom(catalog, wordsOf(fn)), false, `${fn} in catalog.ts`)
  const renamed = fileWords(STORE_TS.replace('responses.set(', 'answers.set('))
  assert.equal(compiledFrom(renamed, wordsOf(tsc.remember)), false, 'a short function needs every word')
})

test('too few words to tell a file: a getter a compiler adds, a one-line arrow', () => {
  assert.equal(compiledWords({ source: '()=>from[key]', length: 13 }), null)
  assert.equal(compiledWords({ source: '(a) => a.id', length: 11 }), null)
  // The words a compiler adds are not counted: (0, store_1.remember)(x) is one word of the user's and x.
  assert.deepEqual(compiledWords({ source: 'function f(x) { return (0, store_1.remember)(x, void 0) }', length: 58 }), ['function', 'f', 'x', 'return', 'remember', 'x'])
})
