'use strict'

/**
 * `npm run bench -- attach` (or `node bench/attach.js`): what `leakproof attach` costs a
 * running service, against what a person on call does today, a heap snapshot taken the way
 * Chrome DevTools takes one.
 *
 * For each Node version: a real Express service started plainly, `node express-app.js`
 * (__test__/support/fixtures/express-app.js with APP_PREFILL_MB=200 and APP_ITEMS=replace: no
 * preload, no flag; about 200 MB of used heap in a module-level Map, filled at start, whose
 * entries `/items` replaces; its own event-loop-delay probe, the longest delay of each second
 * at a 10 ms resolution, read from its /stats), under 400 requests a second from 8
 * keep-alive connections on loopback (__test__/support/fixtures/express-load.js, another
 * process: the other core). After 10 s of load, one after the other:
 *
 * 1. CYCLES attach cycles, each: 20 s untouched (the service's CPU share, from
 *    /proc/PID/stat, and its longest loop stop: the noise); `leakproof attach PID --json`
 *    (its tookMs and inspectorOpenMs, and the longest stop in the seconds around it); 20 s
 *    watched at the default options (the CPU share again; RSS, VmRSS, before the attach and
 *    15 s after it); `status`; `detach` (the longest stop around it; RSS right after and 5 s
 *    later); 5 s.
 * 2. `leakproof attach PID --census-only --seconds 10 --json`: its total time, the longest
 *    stop during it, the RSS peak (VmRSS every 100 ms) above the RSS before.
 * 3. The peer: SIGUSR1 opens the inspector, one WebSocket (lib/attach/inspector.js's session,
 *    which never sends a close frame: it crashes the target, that file says why),
 *    `HeapProfiler.enable`, `HeapProfiler.takeHeapSnapshot({ reportProgress: true })` with
 *    its chunks collected as DevTools collects them, then the inspector closed from inside
 *    (`inspector.close()`, evaluated) and its port waited for. The total time, the snapshot's
 *    time and size, the longest stop, the RSS peak (VmRSS every 100 ms) above the RSS before.
 *
 * The CLI runs on the service's Node. Every figure, with the load's counts and anything the
 * service wrote to stderr, goes to bench/out/attach-<time>.json.
 *
 * Environment: BENCH_NODES (default `24 20`), BENCH_ATTACH_CYCLES (default 5).
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFile, execFileSync } = require('node:child_process')
const { openInspector, waitClosed, WebSocketSession, getJson } = require('../lib/attach/inspector')

const NODES = (process.env.BENCH_NODES || '24 20').split(/\s+/).filter(Boolean)
const CYCLES = Number(process.env.BENCH_ATTACH_CYCLES) || 5
const HEAP_MB = 200
const LOAD = { connections: 8, perSecond: 400 }
const WARMUP_MS = 10_000
const BEFORE_MS = 20_000
const WATCH_MS = 20_000
const RSS_AFTER_ATTACH_MS = 15_000
const AFTER_DETACH_MS = 5000
const CENSUS_SECONDS = 10
const RSS_POLL_MS = 100
const SNAPSHOT_TIMEOUT_MS = 180_000
const TICKS_PER_SECOND = 100 // USER_HZ on Linux
const CLI = path.join(__dirname, '..', 'bin', 'leakproof.js')
const SERVICE = path.join(__dirname, '..', '__test__', 'support', 'fixtures', 'express-app.js')
const LOADER = path.join(__dirname, '..', '__test__', 'support', 'fixtures', 'express-load.js')
/** Evaluated in the target to close its inspector once the call is answered (lib/attach/attach.js). */
const CLOSE_INSPECTOR = "setImmediate(() => process.getBuiltinModule('inspector').close()), undefined"

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const MB = (bytes) => Math.round(bytes / 1e6)

/** The bin directory of Node `major` (installed by scripts/node-bin.sh when missing). */
function nodeBin(major) {
  return execFileSync('bash', [path.join(__dirname, '..', 'scripts', 'node-bin.sh'), String(major)], { encoding: 'utf8' }).trim()
}

/** VmRSS of `pid`, bytes. */
function rss(pid) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
}

/** User + system CPU ticks of `pid`. */
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** VmRSS of `pid` every RSS_POLL_MS until `stop()`, which returns the peak seen. */
function pollRss(pid) {
  let peak = rss(pid)
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid))
    } catch {
      // Gone: the caller sees it.
    }
  }, RSS_POLL_MS)
  return {
    stop() {
      clearInterval(timer)
      return peak
    },
  }
}

/** Runs the CLI on `node`; resolves with its exit code, output, parsed JSON and wall times. */
function cli(node, args) {
  return new Promise((resolve) => {
    const start = Date.now()
    execFile(node, [CLI, 'attach', ...args.map(String)], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      const end = Date.now()
      let json = null
      try {
        json = JSON.parse(stdout)
      } catch {
        // Not JSON: a failure, reported with its stderr.
      }
      resolve({ code: err ? (err.code ?? err.signal) : 0, json, stderr: stderr.trim(), start, end, wallMs: end - start })
    })
  })
}

/**
 * The longest loop stop the service saw from `fromMs` to `toMs`: the largest per-second
 * maximum from the second before `fromMs` to two seconds after `toMs` (a stop is recorded in
 * the second its loop resumed in, and the per-second timer runs up to a second after).
 */
function longestStop(bySecond, fromMs, toMs) {
  const first = Math.floor(fromMs / 1000) - 1
  const last = Math.floor(toMs / 1000) + 2
  const inside = bySecond.filter(([second]) => second >= first && second <= last).map(([, ms]) => ms)
  return inside.length === 0 ? null : Math.max(...inside)
}

/** Starts the service on `node`; resolves with it once it listens (its heap filled). */
async function startService(node) {
  const env = { ...process.env, APP_PREFILL_MB: String(HEAP_MB), APP_ITEMS: 'replace' }
  const child = spawn(node, [SERVICE], { stdio: ['ignore', 'pipe', 'pipe'], env })
  const service = { child, pid: child.pid, stderr: '', exit: null }
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (text) => (service.stderr = (service.stderr + text).slice(-8192)))
  child.on('exit', (code, signal) => (service.exit = { code, signal, at: Date.now() }))
  const listening = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(JSON.parse(String(d).split('\n')[0])))
    child.once('exit', (code, signal) => reject(new Error(`the service exited (${code ?? signal}) before listening: ${service.stderr}`)))
  })
  const { items, heapUsed } = await getJson(listening.port, '/stats')
  return Object.assign(service, listening, { items, heapUsed })
}

/** Starts the load on `node` against `port`; `stop()` resolves with its final counts. */
function startLoad(node, port) {
  const options = { port, ...LOAD, warmupMs: 0, durationMs: 30 * 60_000 }
  const child = spawn(node, [LOADER, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let last = null
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (text) => {
    for (const line of text.split('\n').filter(Boolean)) last = JSON.parse(line)
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    async stop() {
      child.kill('SIGTERM')
      await exited
      return last
    },
  }
}

/** One attach cycle on `service`: untouched, attached, watched, status, detached. */
async function attachCycle(node, service, dir) {
  const { pid } = service
  const quietFrom = Date.now()
  const cpu0 = cpuTicks(pid)
  await sleep(BEFORE_MS)
  const cpuBefore = (cpuTicks(pid) - cpu0) / TICKS_PER_SECOND / ((Date.now() - quietFrom) / 1000)
  const quietTo = Date.now()
  const rssBefore = rss(pid)
  const attached = await cli(node, [pid, '--dir', dir, '--json'])
  if (attached.code !== 0) throw new Error(`attach failed (${attached.code}): ${attached.stderr}`)
  const watchFrom = Date.now()
  const cpu1 = cpuTicks(pid)
  await sleep(RSS_AFTER_ATTACH_MS)
  const rssWatched = rss(pid)
  await sleep(WATCH_MS - RSS_AFTER_ATTACH_MS)
  const cpuWatched = (cpuTicks(pid) - cpu1) / TICKS_PER_SECOND / ((Date.now() - watchFrom) / 1000)
  const watchTo = Date.now()
  const status = await cli(node, [pid, 'status', '--dir', dir, '--json'])
  const detached = await cli(node, [pid, 'detach', '--dir', dir, '--json'])
  if (detached.code !== 0) throw new Error(`detach failed (${detached.code}): ${detached.stderr}`)
  const rssDetached = rss(pid)
  await sleep(AFTER_DETACH_MS)
  const rssAfter = rss(pid)
  const { loopDelayBySecond } = await getJson(service.port, '/stats')
  return {
    tookMs: attached.json.tookMs,
    inspectorOpenMs: attached.json.inspectorOpenMs,
    attachWallMs: attached.wallMs,
    stopQuietMs: longestStop(loopDelayBySecond, quietFrom + 1000, quietTo - 2000),
    stopAttachMs: longestStop(loopDelayBySecond, attached.start, attached.end),
    stopWatchedMs: longestStop(loopDelayBySecond, watchFrom + 3000, watchTo - 2000),
    stopDetachMs: longestStop(loopDelayBySecond, detached.start, detached.end),
    statusOk: status.code === 0,
    statusMs: status.wallMs,
    detachWallMs: detached.wallMs,
    rssBefore,
    rssWatched,
    rssDetached,
    rssAfter,
    cpuBefore,
    cpuWatched,
  }
}

/** `attach --census-only --seconds CENSUS_SECONDS` on `service`. */
async function censusOnly(node, service, dir) {
  const { pid } = service
  const rssBefore = rss(pid)
  const poll = pollRss(pid)
  const run = await cli(node, [pid, '--census-only', '--seconds', CENSUS_SECONDS, '--dir', dir, '--json'])
  const peak = poll.stop()
  if (run.code !== 0) throw new Error(`census-only failed (${run.code}): ${run.stderr}`)
  await sleep(2500)
  const { loopDelayBySecond } = await getJson(service.port, '/stats')
  return {
    wallMs: run.wallMs,
    tookMs: run.json.attached.tookMs,
    censusMs: run.json.census.durationMs,
    collections: run.json.census.collections,
    stopMs: longestStop(loopDelayBySecond, run.start, run.end),
    rssBefore,
    rssPeak: peak,
    rssAfter: rss(pid),
  }
}

/** The peer: a heap snapshot over the inspector, as Chrome DevTools takes one. */
async function devToolsSnapshot(service) {
  const { pid } = service
  const rssBefore = rss(pid)
  const poll = pollRss(pid)
  const start = Date.now()
  const { port } = await openInspector(pid)
  const client = await WebSocketSession.connect(port, 10_000)
  const chunks = []
  let bytes = 0
  client.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => {
    chunks.push(chunk)
    bytes += Buffer.byteLength(chunk)
  })
  let snapshotMs = null
  let failure = null
  try {
    await client.call('HeapProfiler.enable', {}, 10_000)
    const snapshotFrom = Date.now()
    await client.call('HeapProfiler.takeHeapSnapshot', { reportProgress: true }, SNAPSHOT_TIMEOUT_MS)
    snapshotMs = Date.now() - snapshotFrom
  } catch (err) {
    failure = err.message
  } finally {
    await client.call('Runtime.evaluate', { expression: CLOSE_INSPECTOR }, 10_000).catch(() => {})
    await client.close(2000)
  }
  const closed = await waitClosed(port, 5000)
  const end = Date.now()
  const peak = poll.stop()
  const chunkCount = chunks.length
  chunks.length = 0
  await sleep(2500)
  const { loopDelayBySecond } = await getJson(service.port, '/stats')
  return {
    failure,
    inspectorClosed: closed,
    wallMs: end - start,
    snapshotMs,
    snapshotBytes: bytes,
    chunks: chunkCount,
    stopMs: longestStop(loopDelayBySecond, start, end),
    rssBefore,
    rssPeak: peak,
    rssAfter: rss(pid),
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const pct = (share) => `${(share * 100).toFixed(1)}%`

/** Everything, on Node `major`. */
async function runNode(major) {
  const node = path.join(nodeBin(major), 'node')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-bench-attach-'))
  const service = await startService(node)
  const load = startLoad(node, service.port)
  const result = { node: execFileSync(node, ['-v'], { encoding: 'utf8' }).trim(), service: { items: service.items, heapUsed: service.heapUsed, rssAtStart: rss(service.pid) }, cycles: [], census: null, snapshot: null, load: null, failure: null }
  try {
    await sleep(WARMUP_MS)
    for (let i = 0; i < CYCLES; i++) {
      const cycle = await attachCycle(node, service, dir)
      result.cycles.push(cycle)
      console.log(JSON.stringify({ node: result.node, cycle: i + 1, ...cycle }))
    }
    result.census = await censusOnly(node, service, dir)
    console.log(JSON.stringify({ node: result.node, censusOnly: result.census }))
    await sleep(5000)
    result.snapshot = await devToolsSnapshot(service)
    console.log(JSON.stringify({ node: result.node, snapshot: result.snapshot }))
  } catch (err) {
    result.failure = err.message
    console.error(`Node ${major}: ${err.message}`)
  } finally {
    result.load = await load.stop()
    result.serviceExit = service.exit
    result.serviceStderr = service.stderr
    service.child.kill()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return result
}

/** The tables of one Node version's run. */
function tables(r) {
  const cycles = r.cycles.map((c, i) => ({
    cycle: i + 1,
    'attach ms (tookMs)': c.tookMs,
    'inspector open ms': c.inspectorOpenMs,
    'stop, attach ms': c.stopAttachMs,
    'stop, detach ms': c.stopDetachMs,
    'stop, 20 s before ms': c.stopQuietMs,
    'stop, 20 s watched ms': c.stopWatchedMs,
    'RSS before MB': MB(c.rssBefore),
    'RSS +15 s MB': MB(c.rssWatched),
    'RSS after detach MB': MB(c.rssDetached),
    'RSS detach +5 s MB': MB(c.rssAfter),
    'CPU before': pct(c.cpuBefore),
    'CPU watched': pct(c.cpuWatched),
  }))
  const s = r.snapshot
  const c = r.census
  const peers = []
  if (c !== null) peers.push({ what: 'attach --census-only --seconds 10', 'total ms': c.wallMs, 'stop ms': c.stopMs, 'RSS before MB': MB(c.rssBefore), 'RSS peak MB': MB(c.rssPeak), 'peak added MB': MB(c.rssPeak - c.rssBefore), 'RSS +2.5 s MB': MB(c.rssAfter), detail: `attach ${c.tookMs} ms, census pass ${c.censusMs} ms, ${c.collections} collections` })
  if (s !== null) peers.push({ what: 'DevTools heap snapshot over the inspector', 'total ms': s.wallMs, 'stop ms': s.stopMs, 'RSS before MB': MB(s.rssBefore), 'RSS peak MB': MB(s.rssPeak), 'peak added MB': MB(s.rssPeak - s.rssBefore), 'RSS +2.5 s MB': MB(s.rssAfter), detail: s.failure ?? `snapshot ${s.snapshotMs} ms, ${MB(s.snapshotBytes)} MB in ${s.chunks} chunks${s.inspectorClosed ? '' : ', inspector left open'}` })
  const ratios = []
  if (s !== null && s.failure === null && r.cycles.length > 0) {
    const attachStop = Math.max(...r.cycles.map((x) => x.stopAttachMs))
    const attachAdded = median(r.cycles.map((x) => x.rssWatched - x.rssBefore))
    const snapshotAdded = s.rssPeak - s.rssBefore
    const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(3)}×` : 'n/a')
    ratios.push({ figure: 'longest loop stop, ms (attach: the worst of the cycles)', attach: attachStop, 'census-only': c?.stopMs, 'DevTools snapshot': s.stopMs, 'attach ÷ snapshot': ratio(attachStop, s.stopMs), 'census-only ÷ snapshot': c ? ratio(c.stopMs, s.stopMs) : 'n/a' })
    ratios.push({ figure: 'RSS added, MB (attach: median at +15 s; the others: peak)', attach: MB(attachAdded), 'census-only': c ? MB(c.rssPeak - c.rssBefore) : undefined, 'DevTools snapshot': MB(snapshotAdded), 'attach ÷ snapshot': ratio(attachAdded, snapshotAdded), 'census-only ÷ snapshot': c ? ratio(c.rssPeak - c.rssBefore, snapshotAdded) : 'n/a' })
  }
  return { cycles, peers, ratios }
}

async function main() {
  const results = []
  for (const major of NODES) {
    const r = await runNode(major)
    results.push(r)
    const { cycles, peers, ratios } = tables(r)
    console.log(`\n## ${r.node}: service ${r.service.items} items, ${MB(r.service.heapUsed)} MB used heap, ${MB(r.service.rssAtStart)} MB RSS at start; load ${JSON.stringify(r.load)}${r.serviceExit ? `; the service EXITED: ${JSON.stringify(r.serviceExit)}` : ''}${r.failure ? `; FAILED: ${r.failure}` : ''}`)
    console.table(cycles)
    console.table(peers)
    console.table(ratios)
  }
  const out = path.join(__dirname, 'out')
  fs.mkdirSync(out, { recursive: true })
  const file = path.join(out, `attach-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  fs.writeFileSync(file, JSON.stringify({ runner: process.version, results }, null, 2))
  console.log(`every figure: ${file}`)
  return results.map((r) => ({ node: r.node, ...tables(r), failure: r.failure, serviceExit: r.serviceExit }))
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
module.exports = { main }
