'use strict'

// watch()'s options are written once, in lib/watch/options.js: these tests hold index.d.ts,
// docs/watch.md's tables and the preload's variables to that table, as errors.test.js does
// for error codes.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { WATCH_OPTIONS, DEFAULTS, resolveOptions } = require('../lib/watch/options')
const { ENV, OTHER_VARIABLES, configFromEnv } = require('../lib/watch/env-config')

const ROOT = path.join(__dirname, '..')
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8')

/** The body of `export interface <name> { ... }` in a .d.ts text. */
function interfaceBody(text, name) {
  const start = text.indexOf(`export interface ${name} {`)
  assert.ok(start >= 0, `${name} is declared`)
  return text.slice(start, text.indexOf('\n}', start))
}

/** Each property of an interface body with the `@default` of its doc comment (or null). */
function declaredProperties(body) {
  const found = []
  const re = /(\/\*\*[\s\S]*?\*\/)?\s*\n\s*(\w+)\?:/g
  for (const m of body.matchAll(re)) {
    const tag = m[1] && /@default\s+([^\n*]+?)\s*(\*\/|\n)/.exec(m[1])
    found.push({ name: m[2], default: tag ? tag[1].trim() : null })
  }
  return found
}

/** The lines of a markdown section, from its heading to the next heading of its level or above. */
function section(text, heading) {
  const lines = text.split('\n')
  const start = lines.indexOf(heading)
  assert.ok(start >= 0, `the docs have "${heading}"`)
  const level = heading.indexOf(' ')
  const end = lines.findIndex((line, i) => i > start && /^#+ /.test(line) && line.indexOf(' ') <= level)
  return lines.slice(start, end === -1 ? undefined : end)
}

test('index.d.ts declares every watch() option of the table, and the same defaults', () => {
  const declared = declaredProperties(interfaceBody(read('index.d.ts'), 'WatchOptions'))
  assert.deepEqual(declared.map((p) => p.name).sort(), WATCH_OPTIONS.map((o) => o.name).sort())
  for (const { name, default: shown } of declared) {
    if (shown === null) continue
    const option = WATCH_OPTIONS.find((o) => o.name === name)
    assert.equal(shown, option.doc.default.replaceAll('`', ''), `@default of ${name}`)
  }
})

test("docs/watch.md's options tables list every option, in its group, with the table's default and meaning", () => {
  const rows = []
  let group = null
  for (const line of section(read('docs/watch.md'), '## Options')) {
    if (/^[A-Z][^|]*:$/.test(line)) group = line.slice(0, -1)
    const cells = /^\| (`\w+`(?:, `\w+`)*) \| (.+?) \| (.+) \|$/.exec(line)
    if (!cells) continue
    for (const name of cells[1].match(/\w+/g)) rows.push({ name, group, default: cells[2], meaning: cells[3] })
  }
  assert.deepEqual(rows.map((r) => r.name), WATCH_OPTIONS.map((o) => o.name))
  for (const option of WATCH_OPTIONS) {
    const documented = rows.find((r) => r.name === option.name)
    assert.deepEqual({ group: documented.group, default: documented.default, meaning: documented.meaning }, option.doc, option.name)
  }
})

test("the preload reads a variable for each option that has one, and the docs' list of variables agrees", () => {
  assert.deepEqual(
    Object.entries(ENV).map(([variable, [name]]) => [variable, name]),
    WATCH_OPTIONS.filter((o) => o.env !== null).map((o) => [o.env, o.name]),
  )
  const documented = new Set(section(read('docs/watch.md'), '## The register preload').join('\n').match(/LEAKPROOF_[A-Z_]+/g))
  for (const variable of [...Object.keys(ENV), ...OTHER_VARIABLES]) assert.ok(documented.has(variable), `${variable} is documented`)
  for (const variable of documented) assert.ok(variable in ENV || OTHER_VARIABLES.includes(variable), `${variable} is read`)
  // A variable's text reads as its option's type: each one set to its own default round-trips.
  const env = {}
  for (const o of WATCH_OPTIONS) if (o.env !== null && o.default !== undefined) env[o.env] = String(o.default)
  const { options, problems } = configFromEnv(env)
  assert.deepEqual(problems, [])
  for (const [name, value] of Object.entries(options)) assert.equal(value, DEFAULTS[name], name)
})

test('every option refuses a value of the wrong kind with a coded error naming it, and its default passes', () => {
  const settings = resolveOptions({})
  for (const option of WATCH_OPTIONS) {
    if (option.default !== undefined) assert.equal(settings[option.name], option.default, option.name)
    assert.throws(
      () => resolveOptions({ [option.name]: Symbol('wrong') }),
      (err) => err.code === 'ERR_LEAKPROOF_INVALID_OPTION' && err.message.includes(`options.${option.name}`),
      option.name,
    )
  }
  assert.equal(settings.sitesWindowMs, 2 * settings.intervalMs, 'sitesWindowMs follows intervalMs')
})
