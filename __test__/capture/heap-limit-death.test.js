'use strict'

// Issue 54, item 5: a real service dying at a small heap limit (64 MB), watched at the defaults
// (`node -r leakproof/register`, only LEAKPROOF_DIR set), leaves no heap snapshot outside `dir`.
// V8's near-limit writer, which writes into Node's diagnostic directory (the working directory
// by default), is not armed there; leakproof's own snapshot, once the heap is projected near its
// limit, goes into `dir`, as may nothing when the process dies first. With --diagnostic-dir
// pointing into `dir`, V8's writer is armed and its file lands in `dir`. The same at the
// defaults in a 1 GiB memory cgroup. The three services run at once; CI runs this file on every
// supported Node.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tempDir } = require('../support/temp-dir')
const { dieAtHeapLimit, assertEvidenceOnlyInDir } = require('../support/heap-limit-death')
const { memoryCgroup } = require('../support/cgroup')
const { endsAsCompleteJson } = require('../../lib/capture/snapshot-file')

const NODE_SNAPSHOT = /^Heap\.\d{8}\.\d{6}\.\d+\.\d+\.\d+\.heapsnapshot$/

/** A fresh working directory for the service, and its `dir`, both under one root. */
function places(t) {
  const root = tempDir(t, 'heap-death')
  const cwd = path.join(root, 'app')
  fs.mkdirSync(cwd)
  return { root, cwd, dir: path.join(root, 'snapshots') }
}

/** The service's snapshot events, in a line each, for the test's diagnostics. */
function tell(t, died) {
  t.diagnostic(`nearHeapLimit: ${JSON.stringify(died.nearHeapLimit)}`)
  for (const event of died.events) t.diagnostic(JSON.stringify(event))
}

/** At the defaults: leakproof's own writer, said in `watcher.nearHeapLimit`; nothing outside `dir`, and what is in it private. */
async function diesLeavingNothingOutside(t, wrap) {
  const { root, cwd, dir } = places(t)
  const died = await dieAtHeapLimit({ cwd, dir, rate: 2, wrap })
  tell(t, died)
  const inDir = assertEvidenceOnlyInDir(root, dir, died)
  assert.deepEqual(fs.readdirSync(cwd), [])
  const { armed, writer, reason } = died.nearHeapLimit
  assert.deepEqual([armed, writer, died.nearHeapLimit.dir], [false, 'leakproof', fs.realpathSync(cwd)])
  assert.match(reason, /outside dir.*--diagnostic-dir=/)
  assert.ok(reason.includes(`--diagnostic-dir=${dir}`), reason)
  t.diagnostic(`in dir: ${inDir.map((file) => path.basename(file)).join(', ') || 'nothing'}`)
}

describe('a service dying at a 64 MB heap limit', { concurrency: true }, () => {
  it('at the defaults leaves no snapshot outside dir, and what it left in dir is private', (t) => diesLeavingNothingOutside(t))

  it('at the defaults in a 1 GiB memory cgroup, the same', async (t) => {
    const cgroup = memoryCgroup(`leakproof-heap-death-${process.pid}`, 1024 ** 3)
    if (cgroup.missing !== undefined) return t.skip(cgroup.missing)
    try {
      await diesLeavingNothingOutside(t, cgroup.command)
      assert.equal(cgroup.oomKills(), 0, 'killed by the cgroup, not by its heap')
    } finally {
      cgroup.remove()
    }
  })

  it('with --diagnostic-dir pointing into dir, V8 writes its near-limit snapshot there, whole and private', async (t) => {
    const { root, cwd, dir } = places(t)
    const died = await dieAtHeapLimit({ cwd, dir, rate: 8, nodeArgs: [`--diagnostic-dir=${dir}`] })
    tell(t, died)
    const inDir = assertEvidenceOnlyInDir(root, dir, died)
    const written = inDir.filter((file) => NODE_SNAPSHOT.test(path.basename(file)))
    assert.equal(written.length, 1, inDir.join(', '))
    assert.ok(endsAsCompleteJson(written[0], fs.statSync(written[0]).size), `${written[0]} is cut short`)
    const { armed, writer } = died.nearHeapLimit
    assert.deepEqual([armed, writer, died.nearHeapLimit.dir], [true, 'v8', dir])
  })
})
