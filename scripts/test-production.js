'use strict'

/**
 * `npm run test:production [-- FILES...]`: the tests at production timings (__test__/production/),
 * in two phases. First every file but the time-compressed ones, two at a time: their services
 * wait on the wall (a leak growing for minutes, a restart's turn), each on a fraction of a core,
 * and each judges its own service's stops, which two at a time on two cores keep within
 * bounds. Then the time-compressed ones (`ALONE`), one at a time with nothing beside them:
 * a service whose day lasts six minutes takes a starved minute for four production hours, and
 * a healthy one then reads as a leak. Given FILES (paths), runs those only, in the same
 * phases. Exits with the first phase's failure, else the second's.
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const DIR = path.join('__test__', 'production')
/** Files whose services compress time (slow-leaks.test.js: c = 10 to 250): run with nothing beside them. */
const ALONE = new Set(['slow-leaks.test.js'])

const named = process.argv.slice(2)
const files = named.length > 0 ? named : fs.readdirSync(path.join(ROOT, DIR)).filter((name) => name.endsWith('.test.js')).sort().map((name) => path.join(DIR, name))
const alone = files.filter((file) => ALONE.has(path.basename(file)))
const together = files.filter((file) => !ALONE.has(path.basename(file)))

/** Runs Node's test runner over `list`, `concurrency` files at a time; its exit status. */
function run(list, concurrency) {
  if (list.length === 0) return 0
  const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...list], { cwd: ROOT, stdio: 'inherit' })
  if (result.error) throw result.error
  return result.status ?? 1
}

const first = run(together, 2)
const second = run(alone, 1)
process.exitCode = first || second
