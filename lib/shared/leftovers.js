'use strict'

/**
 * Files a killed process left behind: a heap snapshot half-written by a watcher, the
 * snapshots of a leak test. They hold what that process had in memory, every secret in it,
 * so the next watcher or leak test removes them; each carries its writer's pid in its name,
 * and this module tells whether that writer is gone. Pids are those of this process's pid
 * namespace: a writer in another container sharing the directory cannot be told apart from
 * a dead one.
 */
const fs = require('node:fs')

/** Clock ticks per second of the start time in /proc/<pid>/stat (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100

/**
 * How much later than a leftover's last write the process now holding its pid must have
 * started to count as another process: the two clocks compared (the file's, and boot time
 * turned into wall time) differ by some ms, and a step of the wall clock moves them apart.
 */
const REUSE_MARGIN_MS = 1_000

/**
 * Whether the process that wrote a leftover is gone: no process `pid` runs, or the one that
 * does started after the leftover was last written (`writtenAtMs`, its modification time) and
 * so cannot be its writer: the pid was reused (this very process from an earlier run, as a
 * container restarted as pid 1; on Linux, any process). A pid that cannot be checked counts
 * as alive.
 * @param {number} pid
 * @param {number} writtenAtMs
 * @param {number} [now]
 */
function writerGone(pid, writtenAtMs, now = Date.now()) {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  if (!isAlive(pid)) return true
  const startedAt = startedAtMs(pid, now)
  return startedAt !== null && startedAt > writtenAtMs + REUSE_MARGIN_MS
}

/** Whether process `pid` runs (one we may not signal runs too; so does one we cannot ask about). */
function isAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code !== 'ESRCH'
  }
}

/**
 * When process `pid` started, in ms since the epoch, or null where that cannot be read: on
 * Linux from /proc (its start and the uptime, both on the boot clock); elsewhere only for
 * this process.
 */
function startedAtMs(pid, now) {
  if (process.platform === 'linux') {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
      // Field 22, starttime; the fields after the command's name, which may hold spaces and parentheses, start at field 3.
      const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3])
      const uptimeSeconds = Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0])
      if (Number.isFinite(startTicks) && Number.isFinite(uptimeSeconds)) return now - (uptimeSeconds - startTicks / USER_HZ) * 1000
    } catch {
      // Exited meanwhile, or no /proc: as elsewhere.
    }
  }
  return pid === process.pid ? now - process.uptime() * 1000 : null
}

module.exports = { writerGone }
