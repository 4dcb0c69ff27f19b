'use strict'

// V8's snapshot near the heap limit: armed only where Node's diagnostic directory is inside `dir`
// (links resolved) and it fits; one that an older version or another setup left in the working
// directory is moved into `dir` by the next life's watcher (private, named as the watcher's
// files); a partial one is deleted, a live process's left alone; in a 1 GiB container it is not
// armed, and nothing is left anywhere. Where it is not armed, leakproof's own snapshot is taken
// once the heap is projected near its limit (LimitProjection, below; the real deaths at the
// limit are in heap-limit-death.test.js).

const test = require('node:test')
const { describe, it } = test
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { tempDir } = require('../support/temp-dir')
const { memoryCgroup } = require('../support/cgroup')
const { LimitProjection } = require('../../lib/capture/near-heap-limit')

const LIFE = path.join(__dirname, 'fixtures', 'heap-limit-life.js')
const NODE_SNAPSHOT = /^Heap\.\d{8}\.\d{6}\.\d+\.\d+\.\d+\.heapsnapshot$/

/** A process of an older version, or another setup, that had V8 write its snapshot near the heap limit into its working directory. */
const OLD_LIFE = ['--heapsnapshot-near-heap-limit=1', '--max-old-space-size=48', '-e', 'const kept = []; for (;;) kept.push(new Array(1000).fill(kept.length))']

/**
 * Runs one life (`mode`: 'die' or 'start', see the fixture) in working directory `cwd`, with
 * snapshots into `dir` and watch() `options` besides; resolves with its exit, pid and printed lines.
 */
function life(mode, { cwd, dir, nodeArgs = [], env = process.env, options = {}, wrap = (argv) => argv }) {
  const [command, ...args] = wrap([process.execPath, ...nodeArgs, LIFE, dir, mode, JSON.stringify(options)])
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve) => child.on('exit', (code, signal) => {
    resolve({ code, signal, pid: child.pid, stderr, lines: stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) })
  }))
}

/** Where the test's lives run (the working directory) and keep their snapshots (`dir`). */
function places(t) {
  const root = tempDir(t, 'near-limit')
  const cwd = path.join(root, 'app')
  const dir = path.join(root, 'snapshots')
  fs.mkdirSync(cwd)
  return { cwd, dir }
}

test('V8\'s snapshot an older version or another setup left in the working directory: the next life moves it into dir, private, named as its own', async (t) => {
  const { cwd, dir } = places(t)
  const died = spawnSync(process.execPath, OLD_LIFE, { cwd, encoding: 'utf8' })
  assert.notEqual(died.status, 0, died.stderr.slice(-500))
  const [written] = fs.readdirSync(cwd)
  assert.match(written, NODE_SNAPSHOT)
  const bytes = fs.statSync(path.join(cwd, written)).size

  const next = await life('start', { cwd, dir })
  const { nearHeapLimit, events } = next.lines[0]
  assert.deepEqual(fs.readdirSync(cwd), [], 'nothing left in the working directory')
  const [moved] = nearHeapLimit.adopted
  assert.deepEqual([moved.from, moved.bytes, moved.writerPid], [path.join(fs.realpathSync(cwd), written), bytes, died.pid])
  assert.equal(path.dirname(moved.path), dir)
  assert.match(path.basename(moved.path), new RegExp(`^leakproof-.+Z-${died.pid}-0-near-heap-limit\\.heapsnapshot$`))
  assert.equal(fs.statSync(moved.path).mode & 0o777, 0o600)
  assert.equal(fs.statSync(moved.path).size, bytes)
  assert.deepEqual(events.map((e) => [e.type, e.path, e.removed]), [['heap-limit-snapshot', moved.path, null]])
})

test('a partial near-limit snapshot of a writer gone is deleted and told; a live process\'s is left alone', async (t) => {
  const { cwd, dir } = places(t)
  const gone = spawnSync(process.execPath, ['-e', '0']).pid
  const partial = `Heap.20261125.080000.${gone}.0.001.heapsnapshot`
  const live = `Heap.20261125.080000.${process.pid}.0.001.heapsnapshot`
  fs.writeFileSync(path.join(cwd, partial), '{"snapshot":{"meta":{"node_fields":["type"')
  fs.writeFileSync(path.join(cwd, live), '{"snapshot":{}}')
  const { nearHeapLimit, events } = (await life('start', { cwd, dir })).lines[0]
  assert.deepEqual(fs.readdirSync(cwd), [live])
  const from = path.join(fs.realpathSync(cwd), partial)
  assert.deepEqual(nearHeapLimit.removed, [{ from, why: 'partial: its writer died while writing it' }])
  assert.deepEqual(nearHeapLimit.adopted, [])
  assert.deepEqual(events.map((e) => [e.type, e.path, e.from, e.removed]), [['heap-limit-snapshot', null, from, 'partial: its writer died while writing it']])
  assert.equal(fs.existsSync(dir) && fs.readdirSync(dir).some((name) => name.endsWith('.heapsnapshot')), false)
})

test('in a 1 GiB memory cgroup it is not armed (the snapshot of a full heap would not fit), and dying at the limit leaves no file anywhere', async (t) => {
  const cgroup = memoryCgroup(`leakproof-near-limit-${process.pid}`, 1024 ** 3)
  if (cgroup.missing !== undefined) return t.skip(cgroup.missing)
  try {
    const { cwd, dir } = places(t)
    const died = await life('die', { cwd, dir, nodeArgs: [`--diagnostic-dir=${dir}`], wrap: cgroup.command })
    assert.notEqual(died.code, 0, died.stderr.slice(-500))
    const [armed] = died.lines
    assert.deepEqual([armed.armed, armed.writer], [false, 'leakproof'])
    assert.match(armed.reason, /^memory: a snapshot at the heap limit \(.+\) needs about .+ beside the heap; the container leaves .+$/)
    assert.deepEqual(fs.readdirSync(cwd), [])
    // Whatever the watcher wrote in dir meanwhile is whole: no temporary file, no partial snapshot.
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      assert.ok(!name.endsWith('.tmp'), name)
      if (name.endsWith('.heapsnapshot')) assert.match(fs.readFileSync(path.join(dir, name), 'latin1').slice(-64), /\}\s*$/, name)
    }
  } finally {
    cgroup.remove()
  }
})

test('V8\'s writer is armed only where Node\'s diagnostic directory resolves inside dir, links resolved; a folder it needs is made private', async (t) => {
  const { cwd, dir } = places(t)
  const root = path.dirname(dir)
  const outside = path.join(root, 'elsewhere')
  fs.mkdirSync(dir)
  fs.mkdirSync(outside)
  fs.symlinkSync(dir, path.join(root, 'link-to-dir'))
  fs.symlinkSync(outside, path.join(dir, 'link-out'))
  const heap = '--max-old-space-size=48' // a snapshot at this limit fits in memory here
  const cases = [
    { args: [`--diagnostic-dir=${path.join(dir, 'v8', 'near-limit')}`], armed: true },
    { args: [`--diagnostic-dir=${path.join(root, 'link-to-dir')}`], armed: true },
    { env: { ...process.env, NODE_OPTIONS: `--diagnostic-dir=${dir}` }, armed: true },
    { args: [], armed: false },
    { args: [`--diagnostic-dir=${path.join(dir, 'link-out')}`], armed: false },
    { args: [`--diagnostic-dir=${dir}-other`], armed: false },
  ]
  for (const { args = [], env, armed } of cases) {
    const { nearHeapLimit } = (await life('start', { cwd, dir, nodeArgs: [heap, ...args], env })).lines[0]
    const said = JSON.stringify({ args, env: env?.NODE_OPTIONS, nearHeapLimit })
    assert.deepEqual([nearHeapLimit.armed, nearHeapLimit.writer], armed ? [true, 'v8'] : [false, 'leakproof'], said)
    if (!armed) assert.match(nearHeapLimit.reason, new RegExp(`outside dir, into ${nearHeapLimit.dir}.*--diagnostic-dir=${dir}`), said)
  }
  assert.equal(fs.statSync(path.join(dir, 'v8', 'near-limit')).mode & 0o777, 0o700)
  assert.deepEqual(fs.readdirSync(outside), [])
})

test('with nearHeapLimit off, neither writer is used', async (t) => {
  const { cwd, dir } = places(t)
  const { nearHeapLimit } = (await life('start', { cwd, dir, nodeArgs: [`--diagnostic-dir=${dir}`], options: { nearHeapLimit: false } })).lines[0]
  assert.deepEqual([nearHeapLimit.armed, nearHeapLimit.writer, nearHeapLimit.reason], [false, null, 'nearHeapLimit: false'])
})

describe('LimitProjection: leakproof\'s own snapshot near the heap limit', () => {
  const MB = 1024 * 1024
  const LIMIT = 100 * MB
  /** A projection with heapThreshold 0.85 whose snapshots take `snapshotMs`; `feed` notes readings `[seconds, MB]` and returns what each said. */
  const projection = (snapshotMs = 1000) => {
    const p = new LimitProjection({ share: 0.85, snapshotMs: () => snapshotMs })
    return (readings) => readings.map(([s, mb]) => p.note(s * 1000, mb * MB, LIMIT))
  }

  it('says so once the heap is projected to pass heapThreshold within three times a snapshot\'s time, and when it will reach its limit', () => {
    // 10 MB/s from 40 MB: the threshold (85 MB) is 3 s (three 1 s snapshots) away at 55 MB.
    const said = projection()([[0, 40], [0.5, 45], [1, 50], [1.5, 55], [2, 60], [2.5, 65]])
    assert.deepEqual(said.slice(0, 3), [null, null, null])
    assert.deepEqual(said[3], { projectedLimitAt: 6000, heapUsed: 55 * MB })
    assert.deepEqual(said.slice(4), [null, null], 'said once')
  })

  it('says nothing below half the limit, nor for a heap that is level or falls, nor over less than a second', () => {
    const feed = projection(60_000)
    assert.deepEqual(feed([[0, 10], [1, 30], [2, 49]]), [null, null, null])
    assert.deepEqual(projection(60_000)([[0, 80], [1, 80], [2, 79.5], [3, 79]]), [null, null, null, null])
    assert.deepEqual(projection(60_000)([[0, 60], [0.4, 70], [0.8, 80]]), [null, null, null])
  })

  it('reads the slope over the last 10 s only: an older rise does not count', () => {
    // From 50 MB at 0 s, 81 MB at 13 s would be 2.4 MB/s, the threshold 1.7 s away; over the
    // last 10 s it is 1 MB/s, and 4 s away.
    assert.deepEqual(projection(1000)([[0, 50], [1, 51], [12, 80], [13, 81]]), [null, null, null, null])
  })

  it('says it again only after the heap fell back under half its limit', () => {
    const said = projection()([[0, 50], [1, 60], [2, 70], [3, 40], [4, 70], [5, 75]])
    assert.deepEqual(said.map((s) => s !== null), [false, true, false, false, true, false])
  })
})
