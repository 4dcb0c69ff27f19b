'use strict'

/**
 * A real service dying at a small heap limit, watched by the preload (`node -r
 * leakproof/register`) with only LEAKPROOF_DIR set, and where its evidence lands: for
 * __test__/capture/heap-limit-death.test.js, with room and in a memory cgroup, which CI runs on
 * every supported Node.
 */
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')

const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const SERVICE = path.join(__dirname, '..', 'capture', 'fixtures', 'leak-to-limit.js')

/** What V8 prints when it kills a process at its heap limit. */
const HEAP_DEATH = /heap out of memory|Reached heap limit/

/** A heap snapshot, finished or being written: V8's `Heap.….heapsnapshot`, leakproof's, their temporary files. */
const SNAPSHOT_FILE = /\.heapsnapshot(\.tmp)?$/

/** This environment with no LEAKPROOF_* variable and no NODE_OPTIONS, plus `extra`. */
function environment(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LEAKPROOF_') && name !== 'NODE_OPTIONS'))
  return { ...env, ...extra }
}

/**
 * Runs the leaking service (leak-to-limit.js, `rate` MB/s into a Map) in `cwd` with
 * `--max-old-space-size=heapMb` and `nodeArgs`, LEAKPROOF_DIR=`dir` and nothing else set, on
 * the Node binary `node`, its argv wrapped by `wrap` (a cgroup's command), until it dies.
 * Resolves with `{ code, signal, stderr, nearHeapLimit, events }`: `nearHeapLimit` the
 * watcher's, `events` its snapshot events as the service printed them.
 */
function dieAtHeapLimit({ cwd, dir, rate, heapMb = 64, nodeArgs = [], node = process.execPath, wrap = (argv) => argv, timeoutMs = 120_000 }) {
  const [command, ...args] = wrap([node, '-r', REGISTER, `--max-old-space-size=${heapMb}`, ...nodeArgs, SERVICE, String(rate)])
  const child = spawn(command, args, { cwd, env: environment({ LEAKPROOF_DIR: dir }), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer)
    const [first, ...events] = stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line))
    resolve({ code, signal, stderr, nearHeapLimit: first, events })
  }))
}

/** Every heap snapshot file under `root`, and its temporary files, as paths (links not followed). */
function snapshotsUnder(root) {
  const found = []
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name)
    if (entry.isDirectory()) found.push(...snapshotsUnder(full))
    else if (SNAPSHOT_FILE.test(entry.name)) found.push(full)
  }
  return found
}

/**
 * What every death at the limit must leave: the service died of its heap, no snapshot anywhere
 * under `root` but in `dir` (its working directory in `root` too), `dir` 0700 and each file in
 * it 0600. Returns the snapshots in `dir`.
 */
function assertEvidenceOnlyInDir(root, dir, died) {
  const said = `${JSON.stringify({ ...died, stderr: undefined })}\n${died.stderr.slice(-800)}`
  assert.ok(died.signal === 'SIGABRT' || died.code === 134, said)
  assert.match(died.stderr, HEAP_DEATH, said)
  const outside = snapshotsUnder(root).filter((file) => path.relative(dir, file).startsWith('..'))
  assert.deepEqual(outside, [], `snapshots outside dir: ${said}`)
  if (!fs.existsSync(dir)) return []
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
  for (const name of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, name)).mode & 0o777, 0o600, name)
  return snapshotsUnder(dir)
}

module.exports = { dieAtHeapLimit, snapshotsUnder, assertEvidenceOnlyInDir }
