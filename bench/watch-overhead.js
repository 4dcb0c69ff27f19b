'use strict'

/**
 * The watcher's cost on a real http service: the same server with and without
 * `-r leakproof/register` (at a 1 s interval, ten times the default rate), under the same
 * loopback load, in interleaved passes. Reports throughput and RSS, best pass of each.
 */
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { drive } = require('./load')

const PASSES = Number(process.env.BENCH_PASSES) || 3
const DURATION_MS = 8000
const root = path.join(__dirname, '..')

function statusKb(pid, field) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))
  return m ? Number(m[1]) * 1024 : NaN
}

async function runServer(watched) {
  const args = [...(watched ? ['-r', path.join(root, 'register.js')] : []), path.join(__dirname, 'fixtures', 'server.js')]
  const child = spawn(process.execPath, args, {
    env: { ...process.env, LEAKPROOF_INTERVAL_MS: '1000', LEAKPROOF_WARMUP_MS: '1000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))))
  await drive({ port, durationMs: 1000 }) // warm-up
  const load = await drive({ port, durationMs: DURATION_MS })
  const rss = statusKb(child.pid, 'VmRSS')
  const peak = statusKb(child.pid, 'VmHWM')
  child.kill()
  await new Promise((resolve) => child.once('exit', resolve))
  return { perSecond: load.perSecond, rss, peak }
}

async function main() {
  const best = { off: null, on: null }
  for (let pass = 0; pass < PASSES; pass++) {
    for (const variant of ['off', 'on']) {
      const r = await runServer(variant === 'on')
      const b = best[variant]
      best[variant] = b === null ? r : { perSecond: Math.max(b.perSecond, r.perSecond), rss: Math.min(b.rss, r.rss), peak: Math.min(b.peak, r.peak) }
    }
  }
  const mb = (b) => (b / 1048576).toFixed(1)
  const table = [
    { server: 'plain', 'req/s': best.off.perSecond.toFixed(0), 'RSS MB': mb(best.off.rss), 'peak RSS MB': mb(best.off.peak) },
    { server: 'with watcher (1 s interval)', 'req/s': best.on.perSecond.toFixed(0), 'RSS MB': mb(best.on.rss), 'peak RSS MB': mb(best.on.peak) },
  ]
  console.table(table)
  const summary = {
    throughputChange: best.on.perSecond / best.off.perSecond - 1,
    rssDeltaMB: (best.on.rss - best.off.rss) / 1048576,
  }
  console.log(`throughput ${(summary.throughputChange * 100).toFixed(2)}%, RSS ${summary.rssDeltaMB.toFixed(2)} MB`)
  return { table, summary }
}

if (require.main === module) main()
module.exports = { main }
