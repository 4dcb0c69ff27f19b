'use strict'

/**
 * `npm run bench -- mcp` (or `node bench/mcp.js`): leakproof's MCP server beside its peers on
 * the same snapshot pair: the time to the first answer and the server's peak memory.
 *
 * The pair: one Node process, bench/fixtures/census-heap.js (an Express and fastify service
 * with ~780 modules and a module-level Map `sessions` of 1,000,000 small objects) filled to
 * PAIR.heapMB of used heap, a heap snapshot, PAIR.growth more sessions (the leak), a second
 * snapshot; both written with `v8.writeHeapSnapshot` into a temporary directory, removed at
 * the end. Then ROUNDS rounds, each peer once a round in this order, one at a time:
 *
 * - leakproof: `leakproof mcp --root DIR` spawned through the SDK's StdioClientTransport,
 *   `snapshot_diff { before, after }`;
 * - memlab: its MCP server (@memlab/mcp-server) is not on this machine's registry, so a child
 *   Node process does what the server's `memlab_diff_snapshots` does (packages/mcp-server/
 *   src/tools/diff-snapshots.ts in facebook/memlab): `getFullHeapFromFile` on both files at
 *   once, a histogram by type and name of each, the classes that grew by count (left out:
 *   the tool's markdown and its roll-up of value-named strings, one pass over the classes);
 * - chrome-devtools-mcp (`--memoryDebugging --headless --isolated`, Debian's chromium with
 *   `--no-sandbox`): `compare_heapsnapshots { baseFilePath, currentFilePath }`. Every tool call
 *   of that server starts its browser first, the heap tools too.
 *
 * Per run: the time from the spawn to the answer (for memlab, to the child's exit, right after
 * its answer), and from the end of the connection (the MCP handshake done; for memlab, its
 * library loaded) to the answer; the peak RSS of the server's
 * process (VmHWM of /proc/PID/status); for chrome-devtools-mcp also its browser's processes
 * (VmRSS summed every RSS_POLL_MS, the peak); whether the answer names the growing Map's holder
 * (`sessions`), and the answer's first lines. Every process runs on Node BENCH_NODE (default
 * 24: chrome-devtools-mcp's heap tools need Node 22 or later, `Promise.withResolvers`). Every
 * figure and answer goes to bench/out/mcp-<time>.json.
 *
 * Environment: BENCH_NODE (default 24), BENCH_MCP_ROUNDS (default 2).
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { statusBytes } = require('./proc-status')
const { spawn, execFileSync } = require('node:child_process')

const NODE_MAJOR = process.env.BENCH_NODE || '24'
const ROUNDS = Number(process.env.BENCH_MCP_ROUNDS) || 2
/** The pair: used heap before the first snapshot, and sessions added before the second. */
const PAIR = { heapMB: 150, growth: 600_000 }
const PAIR_TIMEOUT_MS = 300_000
const ANSWER_TIMEOUT_MS = 900_000
const RSS_POLL_MS = 200
const ANSWER_LINES = 12
/** What the leak's holder is called in the fixture: an answer that names it names the holder. */
const HOLDER = /\bsessions\b/
const CLI = path.join(__dirname, '..', 'bin', 'leakproof.js')
const DEVTOOLS_MCP = path.join(path.dirname(require.resolve('chrome-devtools-mcp/package.json')), 'build', 'src', 'bin', 'chrome-devtools-mcp.js')
const MB = (bytes) => Math.round(bytes / 1e6)

/** The bin directory of Node `major` (installed by scripts/node-bin.sh when missing). */
function nodeBin(major) {
  return execFileSync('bash', [path.join(__dirname, '..', 'scripts', 'node-bin.sh'), String(major)], { encoding: 'utf8' }).trim()
}

/** The pids of every process below `pid`, from the parent pid in each /proc/N/stat. */
function descendants(pid) {
  const children = new Map()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (!children.has(parent)) children.set(parent, [])
      children.get(parent).push(Number(entry))
    } catch {
      // Gone while listed.
    }
  }
  const found = []
  for (let queue = [pid]; queue.length > 0;) {
    const next = children.get(queue.shift()) ?? []
    found.push(...next)
    queue.push(...next)
  }
  return found
}

/**
 * The summed VmRSS of the processes below `pid`, every RSS_POLL_MS, until `stop()`, which
 * returns the peak and every pid seen.
 */
function pollDescendants(pid) {
  let peak = 0
  const seen = new Set()
  const timer = setInterval(() => {
    const pids = descendants(pid)
    for (const p of pids) seen.add(p)
    peak = Math.max(peak, pids.reduce((sum, p) => sum + statusBytes(p, 'VmRSS'), 0))
  }, RSS_POLL_MS)
  return {
    stop() {
      clearInterval(timer)
      return { peak, pids: [...seen] }
    },
  }
}

/** Kills those of `pids` still alive (a server's browser left behind). */
function killLeftovers(pids) {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

/** Child: the service's heap, a snapshot, the leak, another snapshot; prints both files' sizes. */
async function writePair(dir) {
  const v8 = require('node:v8')
  const heap = require('./fixtures/census-heap')
  await heap.start(PAIR.heapMB * 2 ** 20)
  global.gc()
  const before = v8.writeHeapSnapshot(path.join(dir, 'before.heapsnapshot'))
  const usedBefore = v8.getHeapStatistics().used_heap_size
  heap.grow(PAIR.growth)
  global.gc()
  const after = v8.writeHeapSnapshot(path.join(dir, 'after.heapsnapshot'))
  const usedAfter = v8.getHeapStatistics().used_heap_size
  const { sessions } = heap.summary()
  await heap.stop()
  const file = (name, used) => ({ file: name, bytes: fs.statSync(name).size, usedHeap: used })
  process.stdout.write(`${JSON.stringify({ before: file(before, usedBefore), after: file(after, usedAfter), sessions })}\n`)
}

/** The histogram memlab's `memlab_diff_snapshots` builds: count and self size by type and name. */
function memlabHistogram(snapshot) {
  const classes = new Map()
  snapshot.nodes.forEach((node) => {
    if (node.id <= 3) return
    const key = `${node.type}::${node.name}`
    const entry = classes.get(key)
    if (entry) {
      entry.count++
      entry.selfSize += node.self_size
    } else {
      classes.set(key, { count: 1, selfSize: node.self_size })
    }
  })
  return classes
}

/** Child: memlab's diff of `before` and `after` as its MCP server computes it; prints the answer, its time and the peak RSS. */
async function memlabDiff(before, after) {
  const { getFullHeapFromFile } = require('@memlab/heap-analysis')
  const ready = process.hrtime.bigint()
  const [beforeHeap, afterHeap] = await Promise.all([getFullHeapFromFile(before), getFullHeapFromFile(after)])
  const was = memlabHistogram(beforeHeap)
  const is = memlabHistogram(afterHeap)
  const grew = []
  for (const key of new Set([...was.keys(), ...is.keys()])) {
    const countDelta = (is.get(key)?.count ?? 0) - (was.get(key)?.count ?? 0)
    const sizeDelta = (is.get(key)?.selfSize ?? 0) - (was.get(key)?.selfSize ?? 0)
    if (countDelta > 0 && sizeDelta !== 0) grew.push({ key, countDelta, sizeDelta })
  }
  grew.sort((a, b) => b.countDelta - a.countDelta)
  const text = ['### Classes that grew', '| Class | Type | Δ Count | Δ Size |', ...grew.slice(0, 30).map((g) => {
    const [type, ...name] = g.key.split('::')
    return `| ${name.join('::')} | ${type} | +${g.countDelta} | ${g.sizeDelta} B |`
  })].join('\n')
  const readyToAnswerMs = Number(process.hrtime.bigint() - ready) / 1e6
  process.stdout.write(`\n${JSON.stringify({ readyToAnswerMs, peak: statusBytes(process.pid, 'VmHWM'), text })}\n`)
}

/** One run of the memlab row: the child above, timed from its spawn. */
function runMemlab(node, pair) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const child = spawn(node, [__filename, '--child', 'memlab', pair.before.file, pair.after.file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4096)))
    const timer = setTimeout(() => child.kill('SIGKILL'), ANSWER_TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const spawnToAnswerMs = Number(process.hrtime.bigint() - started) / 1e6
      const last = stdout.trim().split('\n').pop()
      if (code !== 0) return resolve({ failure: `exited ${code ?? signal}: ${stderr.trim()}` })
      const { readyToAnswerMs, peak, text } = JSON.parse(last)
      resolve({ spawnToAnswerMs, readyToAnswerMs, serverPeak: peak, browserPeak: null, text })
    })
  })
}

/** One run of an MCP server: spawn and connect, one tool call, its answer; the server closed after. */
async function runServer(server) {
  const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
  const { StdioClientTransport, getDefaultEnvironment } = require('@modelcontextprotocol/sdk/client/stdio.js')
  const transport = new StdioClientTransport({ command: server.command, args: server.args, env: { ...getDefaultEnvironment(), ...server.env }, stderr: 'pipe' })
  let stderr = ''
  transport.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4096)))
  const client = new Client({ name: 'leakproof-bench', version: '1.0.0' })
  const started = process.hrtime.bigint()
  const since = (t) => Number(process.hrtime.bigint() - t) / 1e6
  let poll = null
  let browser = { peak: 0, pids: [] }
  try {
    await client.connect(transport)
    poll = pollDescendants(transport.pid)
    const connected = process.hrtime.bigint()
    const answer = await client.callTool({ name: server.tool, arguments: server.arguments }, undefined, { timeout: ANSWER_TIMEOUT_MS })
    const spawnToAnswerMs = since(started)
    const readyToAnswerMs = since(connected)
    const serverPeak = statusBytes(transport.pid, 'VmHWM')
    browser = poll.stop()
    const text = answer.content.map((c) => c.text ?? '').join('\n')
    if (answer.isError) return { failure: `the tool failed: ${text}` }
    return { spawnToAnswerMs, readyToAnswerMs, serverPeak, browserPeak: browser.peak, text }
  } catch (err) {
    return { failure: `${err.message}; stderr: ${stderr.trim()}` }
  } finally {
    if (poll !== null) browser = poll.stop()
    await client.close()
    killLeftovers(browser.pids)
  }
}

/** The peers, each `run(pair)` resolving with its figures and answer, or `{ failure }`. */
function peers(node, dir) {
  const chromium = require('../__test__/support/debian-tools').debianTool('chromium', 'chromium')
  return [
    {
      name: 'leakproof mcp',
      run: (pair) => runServer({ command: node, args: [CLI, 'mcp', '--root', dir], tool: 'snapshot_diff', arguments: { before: pair.before.file, after: pair.after.file } }),
    },
    {
      name: "memlab's analysis library in a process, as its MCP server runs it (the server itself is not on the registry)",
      run: (pair) => runMemlab(node, pair),
    },
    {
      name: 'chrome-devtools-mcp 1.11.0',
      run: (pair) => (chromium.missing !== undefined ? { failure: chromium.missing } : runServer({
        command: node,
        args: [DEVTOOLS_MCP, '--memoryDebugging', '--headless', '--isolated', `--executablePath=${chromium.path}`, '--chromeArg=--no-sandbox', '--no-usage-statistics', '--no-performance-crux', `--workspace=${dir}`],
        env: { CHROME_DEVTOOLS_MCP_NO_UPDATE_CHECKS: '1', CHROME_DEVTOOLS_MCP_NO_USAGE_STATISTICS: '1', CHROME_DEVTOOLS_MCP_NO_CONFIG_DISCOVERY: '1' },
        tool: 'compare_heapsnapshots',
        arguments: { baseFilePath: pair.before.file, currentFilePath: pair.after.file },
      })),
    },
  ]
}

/** Writes the pair into `dir` with a child on `node`; resolves with its files and sizes. */
function makePair(node, dir) {
  const out = execFileSync(node, ['--expose-gc', __filename, '--child', 'pair', dir], { encoding: 'utf8', timeout: PAIR_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'inherit'] })
  return JSON.parse(out.trim().split('\n').pop())
}

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`
const ratio = (a, b) => `${(a / b).toFixed(3)}×`

/** The table of every run, and the ratios of leakproof's best run to each peer's. */
function tables(runs) {
  const all = runs.map((r) => ({
    round: r.round,
    server: r.name,
    'spawn → answer': r.failure ? 'failed' : seconds(r.spawnToAnswerMs),
    'connected → answer': r.failure ? '' : seconds(r.readyToAnswerMs),
    'server peak RSS MB': r.failure ? '' : MB(r.serverPeak),
    'browser peak RSS MB': r.browserPeak ? MB(r.browserPeak) : '',
    'names sessions': r.failure ? '' : HOLDER.test(r.text) ? 'yes' : 'no',
  }))
  const best = (name) => {
    const ok = runs.filter((r) => r.name === name && !r.failure)
    if (ok.length === 0) return null
    return { spawnToAnswerMs: Math.min(...ok.map((r) => r.spawnToAnswerMs)), serverPeak: Math.min(...ok.map((r) => r.serverPeak)), total: Math.min(...ok.map((r) => r.serverPeak + (r.browserPeak ?? 0))) }
  }
  const [ours, ...others] = [...new Set(runs.map((r) => r.name))].map((name) => ({ name, best: best(name) }))
  const ratios = others.filter((p) => p.best !== null && ours.best !== null).map((p) => ({
    peer: p.name,
    'time: leakproof ÷ peer': ratio(ours.best.spawnToAnswerMs, p.best.spawnToAnswerMs),
    'server peak RSS: leakproof ÷ peer': ratio(ours.best.serverPeak, p.best.serverPeak),
    'with its browser': ratio(ours.best.total, p.best.total),
  }))
  return { all, ratios }
}

async function main() {
  const node = path.join(nodeBin(NODE_MAJOR), 'node')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-bench-mcp-'))
  const machine = { date: new Date().toISOString(), runner: process.version, node: execFileSync(node, ['-v'], { encoding: 'utf8' }).trim(), cpu: os.cpus()[0]?.model, cores: os.cpus().length }
  console.log(JSON.stringify(machine))
  const runs = []
  let pair = null
  try {
    pair = makePair(node, dir)
    console.log(JSON.stringify({ pair: { before: MB(pair.before.bytes), after: MB(pair.after.bytes), sessions: pair.sessions } }))
    const servers = peers(node, dir)
    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of servers) {
        const run = { round, name: server.name, ...(await server.run(pair)) }
        runs.push(run)
        const { text, ...figures } = run
        console.log(JSON.stringify(figures))
        if (text) console.log(`  ${text.split('\n').slice(0, ANSWER_LINES).join('\n  ')}\n  names the holder (sessions): ${HOLDER.test(text) ? `yes: ${text.split('\n').find((l) => HOLDER.test(l)).trim()}` : 'no'}`)
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const { all, ratios } = tables(runs)
  console.table(all)
  console.table(ratios)
  const out = path.join(__dirname, 'out')
  fs.mkdirSync(out, { recursive: true })
  const file = path.join(out, `mcp-${machine.date.replace(/[:.]/g, '-')}.json`)
  fs.writeFileSync(file, JSON.stringify({ machine, pair, runs }, null, 2))
  console.log(`every figure and answer: ${file}`)
  return { pair, all, ratios }
}

if (require.main === module) {
  const [flag, kind, ...args] = process.argv.slice(2)
  const run = flag !== '--child' ? main : kind === 'pair' ? () => writePair(...args) : () => memlabDiff(...args)
  run().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
module.exports = { main }
