'use strict'

/** What the benches read of another process from /proc (Linux): its memory fields. */
const fs = require('node:fs')

/** A field of /proc/PID/status in bytes (VmHWM, VmRSS), or 0 when the process is gone. */
function statusBytes(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

module.exports = { statusBytes }
