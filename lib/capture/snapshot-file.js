'use strict'

/**
 * A snapshot's file while it is written: under a hidden temporary name (file-names.js'
 * `tempName`) that its writer makes and locks in one step (`makeTemp`) and holds until the file
 * is renamed into place or removed; checked to end as complete JSON; and, when its writer died
 * mid-write, removed by the next store on the directory (`removeDeadWritersTemps`).
 *
 * The lock is `flock(2)`'s (the addon's `tryLockFile`): held by the open file, so a forked child
 * that inherited it holds it too, and gone only once every holder has died. Every process of
 * the machine sees it, whatever its pid namespace: two containers sharing a volume see each
 * other's, where a pid names some other process or none. Without the addon, or on a file system
 * without such locks, the writer's pid in the name is all there is (lib/shared/leftovers.js).
 */
const fs = require('node:fs')
const path = require('node:path')
const { nativeBinding } = require('../shared/native')
const { writerGone } = require('../shared/leftovers')
const { tempSnapshotWriter } = require('../shared/file-names')

/** Bytes read from a snapshot's end to check that it ends as complete JSON. */
const TAIL_BYTES = 64

/**
 * An unlocked temporary file last written at least this many ms ago has no writer, whatever
 * process its pid names here: a writer locks its file in the step that makes it. The margin
 * covers that step, and some of the clocks' difference on a file system shared between machines.
 */
const UNLOCKED_MS = 2_000

/** The temporary files this thread writes now: removed if it exits meanwhile. */
const writing = new Set()
let removeOnExit = null

/** Whether the file ends the way a complete snapshot does: with the closing brace. */
function endsAsCompleteJson(file, bytes) {
  if (bytes < 2) return false
  const fd = fs.openSync(file, 'r')
  try {
    const tail = Buffer.alloc(Math.min(TAIL_BYTES, bytes))
    fs.readSync(fd, tail, 0, tail.length, bytes - tail.length)
    return /\}\s*$/.test(tail.toString('latin1'))
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Takes the exclusive lock on the file open as `fd`: true when taken, false when another open
 * of it holds it, null where it cannot be told (no addon, not Linux, a file system without locks).
 */
function tryLock(fd) {
  const native = nativeBinding()
  if (typeof native?.tryLockFile !== 'function') return null
  try {
    return native.tryLockFile(fd)
  } catch {
    return null
  }
}

/** Tries to lock a snapshot being made this many times, `LOCK_RETRY_MS` apart: a sweeping store holds it for µs. */
const LOCK_TRIES = 3
const LOCK_RETRY_MS = 2

/** Locks `fd` (see `tryLock`), trying again a moment later while a sweeping store holds it: false if it still does. */
function lockSoon(fd) {
  for (let tried = 1; ; tried++) {
    if (tryLock(fd) !== false) return true
    if (tried === LOCK_TRIES) return false
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOCK_RETRY_MS)
  }
}

/**
 * Makes `tempPath` (new, 0600) and locks it: `{ fd, close() }`, the lock held until `close()`
 * (or this thread's end, which removes the file too). Throws when the file exists, or when a
 * store sweeping the directory took it in the instant between its making and its lock.
 * @param {string} tempPath
 */
function makeTemp(tempPath) {
  const fd = fs.openSync(tempPath, 'wx', 0o600)
  const made = fs.fstatSync(fd)
  const isOurs = () => {
    const there = fs.lstatSync(tempPath, { throwIfNoEntry: false })
    return there !== undefined && there.ino === made.ino && there.dev === made.dev
  }
  try {
    if (!lockSoon(fd)) throw new Error(`${tempPath} was locked by another process as it was made`)
    if (!isOurs()) throw new Error(`${tempPath} was removed as it was made`)
  } catch (err) {
    if (isOurs()) fs.rmSync(tempPath, { force: true })
    fs.closeSync(fd)
    throw err
  }
  writing.add(tempPath)
  if (removeOnExit === null) {
    removeOnExit = () => {
      for (const file of writing) fs.rmSync(file, { force: true })
    }
    process.on('exit', removeOnExit)
  }
  let open = true
  return {
    fd,
    /** Lets go of the lock (the file stays, renamed or not); again, nothing. */
    close() {
      if (!open) return
      open = false
      writing.delete(tempPath)
      fs.closeSync(fd)
    },
  }
}

/**
 * Whether a writer holds `file`'s lock now: true, false, or null where it cannot be told. The
 * file is opened without following a link, and must still be `st`'s; it is judged under the
 * lock taken, so `whileLocked(held)` runs (and may remove it) before anyone else can take it.
 * @template T
 * @param {string} file
 * @param {fs.Stats} st
 * @param {(held: boolean | null) => T} whileLocked
 * @returns {T}
 */
function judgeLocked(file, st, whileLocked) {
  let fd
  try {
    fd = openNoFollow(file)
  } catch {
    return whileLocked(null)
  }
  try {
    const opened = fs.fstatSync(fd)
    if (opened.ino !== st.ino || opened.dev !== st.dev) return whileLocked(true) // replaced meanwhile: not judged now
    const taken = tryLock(fd)
    return whileLocked(taken === null ? null : !taken)
  } finally {
    fs.closeSync(fd)
  }
}

/** Opens `file` without following a link nor waiting on a FIFO: for writing where allowed (NFS locks want it), else for reading. */
function openNoFollow(file) {
  const { O_NOFOLLOW, O_NONBLOCK, O_RDWR, O_RDONLY } = fs.constants
  try {
    return fs.openSync(file, O_RDWR | O_NOFOLLOW | O_NONBLOCK)
  } catch (err) {
    if (err.code !== 'EACCES' && err.code !== 'EROFS' && err.code !== 'EPERM') throw err
    return fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
  }
}

/**
 * Whether process `pid` has the file `st` open (Linux: its descriptors, where this process may
 * read them); false where that cannot be read.
 * @param {number} pid
 * @param {fs.Stats} st
 */
function holdsOpen(pid, st) {
  let fds
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false
  }
  return fds.some((fd) => {
    try {
      const open = fs.statSync(`/proc/${pid}/fd/${fd}`)
      return open.ino === st.ino && open.dev === st.dev
    } catch {
      return false // closed meanwhile
    }
  })
}

/**
 * What became of the writer of the temporary file `st` (`writer`: the pid in its name; `held`:
 * whether its lock is held, null where that cannot be told): `'gone'`, `'live'`, or `'later'`
 * (not yet to be told: look again once it is `UNLOCKED_MS` old).
 * - its lock held: a live writer, in any process or pid namespace of the machine;
 * - this process's pid: live while written since it started (this process's, another
 *   thread's), gone when older (an earlier life with the same pid, a container's pid 1);
 *   never probed, where locks are emulated per process (NFS) closing the probe would release
 *   the writer's own;
 * - no process of that pid here, or one started after the file was last written: gone;
 * - else, the lock free: live if that process has the file open (a writer without the lock:
 *   leakproof without its addon), else gone once the file is `UNLOCKED_MS` old: the pid of
 *   another pid namespace names some other process here;
 * - else (no lock to tell): live.
 * @param {number} writer
 * @param {fs.Stats} st
 * @param {boolean | null} held
 * @param {number} now
 * @returns {'gone' | 'live' | 'later'}
 */
function writerState(writer, st, held, now) {
  if (held === true) return 'live'
  if (writerGone(writer, st.mtimeMs, now)) return 'gone'
  if (held === null || writer === process.pid || holdsOpen(writer, st)) return 'live'
  return now - st.mtimeMs >= UNLOCKED_MS ? 'gone' : 'later'
}

/**
 * Removes the temporary snapshot files in `dir` whose writer is gone (`writerState`): never
 * visible as snapshots, but holding disk and every secret the writer had in memory. Only
 * regular files named as temporary snapshots (file-names.js); a symbolic link is neither
 * followed nor removed. Returns what could not be removed, as `name (why)`, and `againInMs`:
 * when to look again for an unlocked file kept only because it was written too recently to
 * judge (`UNLOCKED_MS`), or null when there is none.
 * @param {string} dir
 * @returns {{ failed: string[], againInMs: number | null }}
 */
function removeDeadWritersTemps(dir) {
  let names
  try {
    names = fs.readdirSync(dir)
  } catch {
    return { failed: [], againInMs: null }
  }
  const failed = []
  let againInMs = null
  const now = Date.now() // against files' times, which are the system's
  for (const name of names) {
    const writer = tempSnapshotWriter(name)
    if (writer === null) continue
    const file = path.join(dir, name)
    const st = fs.lstatSync(file, { throwIfNoEntry: false })
    if (st === undefined || !st.isFile()) continue
    const remove = () => {
      try {
        // unlink never follows a link: the file replaced by one meanwhile, the link goes, not its target.
        fs.unlinkSync(file)
      } catch (err) {
        if (err.code !== 'ENOENT') failed.push(`${name} (${err.code ?? err.message})`)
      }
    }
    const judge = (held) => {
      const state = writerState(writer, st, held, now)
      if (state === 'gone') remove()
      else if (state === 'later') againInMs = Math.max(againInMs ?? 0, Math.ceil(st.mtimeMs + UNLOCKED_MS - now))
    }
    if (writer === process.pid) judge(null)
    else judgeLocked(file, st, judge)
  }
  return { failed, againInMs }
}

/**
 * Closes the descriptors this process still has open on `file` (a temporary snapshot file just
 * removed). A failed `v8.writeHeapSnapshot` may leave its file open (Node 20 does on ENOSPC),
 * and the deleted file would keep its disk space until the process exits; nobody else owns that
 * descriptor. Linux only (`/proc/self/fd`); elsewhere nothing is done.
 * @param {string} file
 */
function closeLeakedDescriptors(file) {
  let fds
  try {
    fds = fs.readdirSync('/proc/self/fd')
  } catch {
    return
  }
  for (const fd of fds) {
    let target
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue
    }
    if (target === file || target === `${file} (deleted)`) {
      try {
        fs.closeSync(Number(fd))
      } catch {
        // Already closed meanwhile.
      }
    }
  }
}

/** The error that tells of the temporary files in `dir` that could not be removed (`failed`, as `removeDeadWritersTemps` returns them). */
function cleanupError(dir, failed) {
  return new Error(`could not remove the temporary snapshot files of writers that died writing them, in ${dir}: ${failed.join(', ')}`)
}

module.exports = { endsAsCompleteJson, makeTemp, removeDeadWritersTemps, cleanupError, closeLeakedDescriptors }
