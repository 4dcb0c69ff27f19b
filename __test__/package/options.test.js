'use strict'

// Each API's options are written once, as a table (lib/shared/options-table.js): these tests hold
// its .d.ts, its docs table and, for watch(), the preload's variables to that table, as
// errors.test.js does for error codes.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { OPTIONS: WATCH_OPTIONS, DEFAULTS, resolveOptions } = require('../../lib/watch/options')
const { OPTIONS: MAP_OPTIONS } = require('../../lib/cache/map-options')
const { OPTIONS: LEAK_TEST_OPTIONS } = require('../../lib/leak-test/options')
const { OPTIONS: ADMIN_OPTIONS } = require('../../lib/operate/http-options')
const { OPTIONS: ANALYZE_OPTIONS } = require('../../lib/diagnose/analyze')
const { EMITTER_OPTIONS, LISTENERS_OPTIONS } = require('../../lib/track/tracking-options')
const { ENV, OTHER_VARIABLES, configFromEnv } = require('../../lib/watch/env-config')
const { OPTIONS: RESTART_OPTIONS } = require('../../lib/mitigate/restart-options')
const { READINESS_OPTIONS } = require('../../lib/operate/http-options')

const ROOT = path.join(__dirname, '..', '..')
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8')

/**
 * Every API with options: its table, the interface that types them and the docs section
 * whose table lists them.
 */
const APIS = [
  { api: 'watch()', rows: WATCH_OPTIONS.ROWS, types: ['lib/watch/types.d.ts', 'WatchOptions'], docs: ['docs/watch.md', '## Options'] },
  { api: 'new BoundedMap()', rows: MAP_OPTIONS.ROWS, types: ['lib/cache/types.d.ts', 'BoundedMapOptions'], docs: ['docs/cache.md', '## Options'] },
  { api: 'assertNoLeak()', rows: LEAK_TEST_OPTIONS.ROWS, types: ['lib/leak-test/index.d.ts', 'LeakTestOptions'], docs: ['docs/testing.md', '## Options'] },
  { api: 'adminHandler()', rows: ADMIN_OPTIONS.ROWS, types: ['lib/operate/http.d.ts', 'AdminHandlerOptions'], docs: ['docs/admin-http.md', '# The admin handler: `leakproof/http`'] },
  { api: 'diffSnapshots()', rows: ANALYZE_OPTIONS.ROWS, types: ['lib/diagnose/types.d.ts', 'AnalyzeSnapshotOptions', 'DiffSnapshotsOptions'], docs: ['docs/analyze.md', '## Options'] },
  { api: 'trackEmitter()', rows: EMITTER_OPTIONS.ROWS, types: ['lib/track/types.d.ts', 'TrackEmitterOptions'], docs: ['docs/listeners.md', '## Options'] },
  { api: 'watch({ restart })', rows: RESTART_OPTIONS.ROWS, types: ['lib/mitigate/types.d.ts', 'RestartOptions'], docs: ['docs/mitigate.md', '## Options'] },
  { api: 'readinessHandler()', rows: READINESS_OPTIONS.ROWS, types: ['lib/operate/http.d.ts', 'ReadinessHandlerOptions'], docs: ['docs/mitigate.md', '### readinessHandler() options'] },
  // One docs table shows both tracking APIs, under trackEmitter() above.
  { api: 'trackListeners()', rows: LISTENERS_OPTIONS.ROWS, types: ['lib/track/types.d.ts', 'TrackListenersOptions'], docs: null },
]

/** The body of `export interface <name>... { ... }` in a .d.ts text. */
function interfaceBody(text, name) {
  const start = text.search(new RegExp(`export interface ${name}\\b[^{]*\\{`))
  assert.ok(start >= 0, `${name} is declared`)
  return text.slice(start, text.indexOf('\n}', start))
}

/** Each property of an interface body (two-space indented) with the `@default` of its doc comment (or null). */
function declaredProperties(body) {
  const found = []
  for (const m of body.matchAll(/(\/\*\*(?:(?!\*\/)[\s\S])*\*\/)?\s*\n {2}(\w+)\??[:(]/g)) {
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

/**
 * The rows of the options tables in a docs section, by option: the group line above its
 * table (`Detection:`), its default and its meaning. A row may name several options
 * (`` `a`, `b` ``) and an option its arguments (`` `sizeOf(value, key)` ``).
 */
function documentedRows(lines) {
  const rows = []
  let group
  let columns = null
  for (const line of lines) {
    if (/^[A-Z][^|]*:$/.test(line)) group = line.slice(0, -1)
    if (!line.startsWith('|')) {
      columns = null
      continue
    }
    const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim())
    if (columns === null) {
      columns = { name: cells.indexOf('option'), default: cells.indexOf('default'), meaning: cells.findIndex((c) => c === 'meaning' || c === 'what') }
      continue
    }
    if (cells[0].startsWith('---') || columns.name === -1) continue
    const named = /^(?:`\w+(?:\([^)]*\))?`(?:, )?)+/.exec(cells[columns.name])?.[0] ?? ''
    for (const [, name] of named.matchAll(/`(\w+)(?:\([^)]*\))?`/g)) {
      rows.push({ name, group, default: cells[columns.default], meaning: cells[columns.meaning] })
    }
  }
  return rows
}

/** What a .d.ts may write as an option's `@default`: the docs' text, or the value as code. */
function defaultTexts(row) {
  const texts = [row.doc.default.replaceAll('`', '')]
  if (typeof row.default === 'string') texts.push(`'${row.default}'`)
  else if (['number', 'boolean'].includes(typeof row.default)) texts.push(String(row.default))
  return texts
}

for (const { api, rows, types: [typesFile, ...typesNames], docs } of APIS) {
  test(`${api}: ${typesFile} declares every option of its table, with the same defaults`, () => {
    const declared = typesNames.flatMap((name) => declaredProperties(interfaceBody(read(typesFile), name)))
    assert.deepEqual(declared.map((p) => p.name).sort(), rows.map((o) => o.name).sort())
    for (const { name, default: shown } of declared) {
      const row = rows.find((o) => o.name === name)
      if (shown === null || row.default === undefined || typeof row.default === 'function') continue
      assert.ok(defaultTexts(row).some((text) => shown === text || shown.startsWith(`${text} `)), `@default of ${name}: ${shown}`)
    }
  })

  if (docs === null) continue
  const [docsFile, heading] = docs
  test(`${api}: ${docsFile}'s table lists every option, in order, with the table's default and meaning`, () => {
    const documented = documentedRows(section(read(docsFile), heading))
    assert.deepEqual(documented.map((r) => r.name), rows.map((o) => o.name))
    for (const row of rows) {
      const shown = documented.find((r) => r.name === row.name)
      assert.deepEqual({ default: shown.default, meaning: shown.meaning }, { default: row.doc.default, meaning: row.doc.meaning }, row.name)
      if (row.doc.group !== undefined) assert.equal(shown.group, row.doc.group, `${row.name}'s group`)
    }
  })
}

test("the preload reads a variable for each option that has one, and the docs' list of variables agrees", () => {
  assert.deepEqual(Object.entries(ENV).map(([variable, [name]]) => [variable, name]), [
    ...WATCH_OPTIONS.ROWS.filter((o) => o.env !== null).map((o) => [o.env, o.name]),
    ...RESTART_OPTIONS.ROWS.filter((o) => o.env !== null).map((o) => [o.env, `restart.${o.name}`]),
  ])
  const documented = new Set(section(read('docs/watch.md'), '## The register preload').join('\n').match(/LEAKPROOF_[A-Z_]+/g))
  for (const variable of [...Object.keys(ENV), ...OTHER_VARIABLES]) assert.ok(documented.has(variable), `${variable} is documented`)
  for (const variable of documented) assert.ok(variable in ENV || OTHER_VARIABLES.includes(variable), `${variable} is read`)
  // A variable's text reads as its option's type: each one set to its own default round-trips.
  const env = {}
  for (const o of WATCH_OPTIONS.ROWS) if (o.env !== null && o.default !== undefined) env[o.env] = String(o.default)
  env.LEAKPROOF_RESTART = '1'
  for (const o of RESTART_OPTIONS.ROWS) if (o.env !== null && o.default !== undefined) env[o.env] = String(o.default)
  const { options, problems } = configFromEnv(env)
  assert.deepEqual(problems, [])
  const { restart, ...watchOptions } = options
  for (const [name, value] of Object.entries(watchOptions)) assert.equal(value, DEFAULTS[name], name)
  for (const [name, value] of Object.entries(restart)) assert.equal(value, RESTART_OPTIONS.DEFAULTS[name], `restart.${name}`)
})

test('every option refuses a value of the wrong kind with a coded error naming it, and its default passes', () => {
  const settings = resolveOptions({})
  for (const option of WATCH_OPTIONS.ROWS) {
    if (option.default !== undefined) assert.equal(settings[option.name], option.default, option.name)
    assert.throws(
      () => resolveOptions({ [option.name]: Symbol('wrong') }),
      (err) => err.code === 'ERR_LEAKPROOF_INVALID_OPTION' && err.message.includes(`options.${option.name}`),
      option.name,
    )
  }
  assert.equal(settings.sitesWindowMs, 2 * settings.intervalMs, 'sitesWindowMs follows intervalMs')
})
