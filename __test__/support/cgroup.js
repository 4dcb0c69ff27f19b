'use strict'

/**
 * A memory cgroup for a test's service, as a container would give it: cgroup v2 where the
 * machine has it (a folder under /sys/fs/cgroup with `memory.max`), else v1's memory
 * controller (`memory.limit_in_bytes` under /sys/fs/cgroup/memory). Needs Linux and root; where
 * none can be made, `{ missing }` says why, for the test to skip with.
 */
const fs = require('node:fs')
const path = require('node:path')

const V2_ROOT = '/sys/fs/cgroup'
const V1_ROOT = '/sys/fs/cgroup/memory'

/**
 * Makes a cgroup named `name` limited to `limitBytes` of memory (swap too, where v1 accounts
 * it). Returns `{ dir, version, command(argv), remove() }`: `command` wraps an argv so that
 * the process joins the cgroup before it execs; `remove` removes the cgroup once its processes
 * are gone. Or `{ missing }`.
 */
function memoryCgroup(name, limitBytes) {
  if (process.platform !== 'linux') return { missing: 'cgroups are Linux only' }
  if (process.getuid?.() !== 0) return { missing: 'making a cgroup needs root' }
  const v2 = readOr(path.join(V2_ROOT, 'cgroup.controllers'), '').split(/\s+/).includes('memory')
  const root = v2 ? V2_ROOT : V1_ROOT
  if (!v2 && !fs.existsSync(path.join(V1_ROOT, 'memory.limit_in_bytes'))) return { missing: 'no cgroup v2 memory controller and no v1 memory hierarchy' }
  const dir = path.join(root, name)
  try {
    fs.mkdirSync(dir)
    if (v2) fs.writeFileSync(path.join(dir, 'memory.max'), String(limitBytes))
    else {
      fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes))
      const memsw = path.join(dir, 'memory.memsw.limit_in_bytes')
      if (fs.existsSync(memsw)) fs.writeFileSync(memsw, String(limitBytes))
    }
  } catch (err) {
    try {
      fs.rmdirSync(dir)
    } catch {
      // Not made.
    }
    return { missing: `could not make a memory cgroup at ${dir}: ${err.message}` }
  }
  return {
    dir,
    version: v2 ? 2 : 1,
    /** `['sh', '-c', …]`: joins the cgroup, then execs `argv`. */
    command: (argv) => ['sh', '-c', `echo $$ > '${path.join(dir, 'cgroup.procs')}' && exec "$@"`, 'sh', ...argv],
    /** Whether the OOM killer killed a process of the cgroup (v1's failcnt counts limit hits, not kills). */
    oomKills: () => {
      const events = readOr(path.join(dir, v2 ? 'memory.events' : 'memory.oom_control'), '')
      return Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0)
    },
    remove: () => {
      try {
        fs.rmdirSync(dir)
      } catch {
        // Still has a process; the machine's next boot clears it.
      }
    },
  }
}

function readOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}

module.exports = { memoryCgroup }
