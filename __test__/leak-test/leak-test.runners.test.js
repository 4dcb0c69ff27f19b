'use strict'

// leakproof/test from the real Jest, Vitest and Mocha (devDependencies), each running a
// fixture with a leaking and a non-leaking function (fixtures/runners/). The
// fixtures assert the LeakError themselves: a runner that passes both tests is one where
// assertNoLeak both caught the leak and passed the clean code. The three run at once.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFile } = require('node:child_process')

const RUNNERS = path.join(__dirname, 'fixtures', 'runners')
const BIN = path.join(__dirname, '..', '..', 'node_modules', '.bin')

/** Runs `bin args` in the fixtures' folder; resolves to `{ code, output }`. */
function run(bin, args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(BIN, bin), ...args], { cwd: RUNNERS, timeout: 180_000, env: { ...process.env, CI: '1', NO_COLOR: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, output: `${stdout}\n${stderr}` })
    })
  })
}

const RUNS = {
  jest: () => run('jest', ['--rootDir', '.', '--testRegex', 'leak\\.jest\\.js$', '--ci']),
  vitest: () => run('vitest', ['run', '--root', '.']),
  mocha: () => run('mocha', ['leak.mocha.js']),
}

// Vitest 3 and Jest 30 run on Node 18+, Mocha 12 on 20.19+ (CI's Node 20 is 20.20).
let runs = null

/** The three runs, started together on first use. */
function allRuns() {
  runs ??= Object.fromEntries(Object.entries(RUNS).map(([name, start]) => [name, start()]))
  return runs
}

for (const name of Object.keys(RUNS)) {
  test(`${name} runs the fixture: the leak fails with a LeakError naming its Map, the clean code passes`, async () => {
    const { code, output } = await allRuns()[name]
    assert.equal(code, 0, output)
    assert.match(output, name === 'mocha' ? /2 passing/ : /Tests:?\s+2 passed/, output)
  })
}
