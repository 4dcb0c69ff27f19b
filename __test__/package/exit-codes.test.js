'use strict'

/**
 * The exit codes' one table (lib/shared/exit-codes.js) against what depends on it: the numbers
 * scripts and CI jobs test, which never change; `--help`, which prints it; and the docs, whose
 * tables of exit codes (a table headed `| exit code | meaning |`) list exactly their command's
 * codes, and whose errors' table gives each error the exit status its command has for it.
 */
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { EXIT_CODES, COMMANDS, FILE_COMMANDS, exitCodesOf, exitCodesHelp } = require('../../lib/shared/exit-codes')
const { RUN_EXIT } = require('../../lib/leak-test/run')

const ROOT = path.join(__dirname, '..', '..')
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8')

/** Every command's codes by name, as scripts and CI jobs know them: a change here breaks them. */
const PUBLISHED = {
  analyze: { OK: 0, UNREADABLE: 1, USAGE: 2, NATIVE_UNAVAILABLE: 3, INTERNAL: 70 },
  diff: { OK: 0, UNREADABLE: 1, USAGE: 2, NATIVE_UNAVAILABLE: 3, INTERNAL: 70 },
  report: { OK: 0, UNREADABLE: 1, USAGE: 2, INTERNAL: 70 },
  sites: { OK: 0, UNREADABLE: 1, USAGE: 2, INTERNAL: 70 },
  run: { CLEAN: 0, LEAK: 1, USAGE: 2, NO_VERDICT: 4, INTERNAL: 70 },
  attach: { OK: 0, FAILED: 1, USAGE: 2, REFUSED: 5, NOT_ATTACHED: 6, INTERNAL: 70 },
  mcp: { OK: 0, NO_SDK: 1, USAGE: 2, INTERNAL: 70 },
}

/** The docs with a table of exit codes, and the commands whose codes it lists. */
const DOCS_TABLES = {
  'docs/analyze.md': FILE_COMMANDS,
  'docs/report.md': ['report'],
  'docs/testing.md': ['run'],
  'docs/attach.md': ['attach'],
  'docs/agents.md': ['mcp'],
}

/** The codes a command (or several, as one list) exits with, lowest first. */
const codesOf = (commands) => Object.values(exitCodesOf(...commands)).map((c) => c.code)

/** The codes in the first column of each table of exit codes in `text`, one list per table. */
function exitCodeTables(text) {
  const tables = []
  let rows = null
  for (const line of text.split('\n')) {
    if (/^\|\s*exit code\s*\|/.test(line)) tables.push(rows = [])
    else if (rows !== null && /^\|\s*\d+\s*\|/.test(line)) rows.push(Number(/\d+/.exec(line)[0]))
    else if (rows !== null && !/^\|[-|\s]+\|$/.test(line)) rows = null
  }
  return tables
}

test('every command exits with the codes it always has, each code listed once', () => {
  assert.deepEqual(Object.keys(PUBLISHED), [...COMMANDS])
  for (const command of COMMANDS) {
    const byName = Object.fromEntries(Object.entries(exitCodesOf(command)).map(([name, { code }]) => [name, code]))
    assert.deepEqual(byName, PUBLISHED[command], command)
  }
  const codes = EXIT_CODES.map((row) => row.code)
  assert.deepEqual(codes, [...new Set(codes)].sort((a, b) => a - b), 'each code once, lowest first')
  for (const { code, meanings } of EXIT_CODES) {
    const commands = meanings.flatMap((m) => m.commands)
    assert.deepEqual(commands.filter((c, i) => commands.indexOf(c) !== i), [], `a command with two meanings of ${code}`)
  }
  assert.deepEqual(RUN_EXIT, exitCodesOf('run'))
})

test('--help prints the table', () => {
  const help = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'leakproof.js'), '--help'], { encoding: 'utf8' })
  assert.equal(help.status, 0, help.stderr)
  assert.ok(help.stdout.endsWith(`\n${exitCodesHelp()}\n`), help.stdout)
})

test('each table of exit codes in the docs lists its command\'s codes', () => {
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)
  for (const file of [...docs, 'README.md']) {
    const tables = exitCodeTables(read(file))
    if (!(file in DOCS_TABLES)) {
      assert.equal(tables.length, 0, `${file} has a table of exit codes: add it to DOCS_TABLES with its command`)
      continue
    }
    assert.equal(tables.length, 1, `${file}: one table of exit codes`)
    assert.deepEqual(tables[0], codesOf(DOCS_TABLES[file]), `${file}: the codes of ${DOCS_TABLES[file].join(', ')}`)
  }
})

test('docs/errors.md gives each error an exit status its command exits with', () => {
  const statuses = [...read('docs/errors.md').matchAll(/`npx leakproof( [a-z]+)?[^`]*` \(exit status (\d+)\)/g)]
  assert.ok(statuses.length > 0, 'no "(exit status N)" in docs/errors.md: has its form changed?')
  for (const [text, command, status] of statuses) {
    const commands = command === undefined ? FILE_COMMANDS : [command.trim()]
    assert.ok(codesOf(commands).includes(Number(status)), text)
  }
})
