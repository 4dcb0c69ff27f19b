'use strict'

// The README's first line ends in `npm run demo`: run as written, at its own timings (a real
// http service under the demo's own load, the watcher on), it exits 0, names the holder of
// its leak (`sessions`, the Map its login handler fills), the bounded phase's heap floor stays
// flat, and the page it says it wrote is there. .ci/run also runs it as the README does.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')

const ROOT = path.join(__dirname, '..', '..')
/** The demo waits for a snapshot pair under way at most 90 s past its 75 s; with the bounded phase and the page, well within. */
const DEMO_TIMEOUT_MS = 6 * 60_000
/** Growth of the bounded phase's heap floor over its second half that still reads as flat: the map is full by then. */
const FLAT_BYTES = 5e6

/** `npm run demo` in the repository: `{ code, signal, out }`, killed past DEMO_TIMEOUT_MS. */
function runDemo() {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'demo'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    child.stdout.on('data', (chunk) => out.push(chunk))
    child.stderr.on('data', (chunk) => out.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out: Buffer.concat(out).toString() })
    })
  })
}

test('npm run demo exits 0, names the sessions Map as the holder, keeps the bounded floor flat and writes the page', { timeout: DEMO_TIMEOUT_MS + 30_000 }, async (t) => {
  const { code, signal, out } = await runDemo()
  t.diagnostic(out)
  assert.equal(code, 0, `the demo exited ${code ?? signal}`)

  const holder = /^holder: (.*)$/m.exec(out)
  assert.ok(holder, 'the demo prints the holder line')
  assert.match(holder[1], /^sessions \(Map\), a variable .*demo\/index\.js/, 'the holder named first is the sessions Map of demo/index.js')
  assert.match(out, /^named by: /m, 'it says which evidence named the holder')

  const bounded = /^bounded: (\d+) leak report\(s\); heap floor grew (-?[\d.]+) MB over the second half$/m.exec(out)
  assert.ok(bounded, "the summary's bounded line")
  assert.equal(Number(bounded[1]), 0, 'the bounded phase raises no leak')
  assert.ok(Number(bounded[2]) * 1e6 < FLAT_BYTES, `the bounded phase's floor grew ${bounded[2]} MB`)

  const page = /the page ==\n.*\n(.*\.html)$/m.exec(out)
  assert.ok(page, 'the demo prints the page it wrote')
  const html = fs.readFileSync(page[1], 'utf8')
  assert.match(html, /^<!doctype html>/i)
  assert.match(html, /sessions/, 'the page shows the holder')
  fs.rmSync(path.dirname(page[1]), { recursive: true, force: true })
})
