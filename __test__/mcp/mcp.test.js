'use strict'

/**
 * `leakproof mcp` driven by the SDK's own client over stdio: an agent-like script finds the
 * holder of a real leaking service's leak from the directory its watcher wrote; the diff of its
 * snapshot pair names the holder `leakproof diff` names; bad input of every kind is a protocol
 * error with a stable code, and the server answers on after it.
 */
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')
const { once } = require('node:events')
const { spawnSync } = require('node:child_process')
const { startLeakingRun } = require('../page/fixtures/leaking-run')
const { startMcp, refusedWith } = require('../support/mcp-client')
const { startProcess } = require('../support/attach-helpers')
const { tempDir } = require('../support/temp-dir')

const BIN = path.join(__dirname, '..', '..', 'bin', 'leakproof.js')
/** JSON-RPC's "invalid params", which every coded refusal of a tool is. */

/**
 * The real leaking service's run (page/fixtures/leaking-run.js), started when this file loads:
 * its watcher writes its log, snapshot pair, reports and heap profile into a directory under
 * the root the servers get. Resolves with that root and directory once the run is over.
 */
async function startLeakingService() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-mcp-'))
  const dir = path.join(root, 'service')
  fs.mkdirSync(dir)
  const exited = startLeakingRun(test, dir)
  test.after(() => fs.rmSync(root, { recursive: true, force: true })) // after the run's own, which stops it
  return { root, dir, ...(await exited) }
}
const leakingRun = startLeakingService()

/** The service's directory once its run ended well, and its snapshot pair (baseline, follow-up). */
async function serviceRun() {
  const run = await leakingRun
  assert.equal(run.code, 0, run.stderr)
  const snapshots = fs.readdirSync(run.dir).filter((f) => f.endsWith('.heapsnapshot')).sort()
  assert.equal(snapshots.length, 2, snapshots.join(', '))
  return { ...run, snapshots: snapshots.map((f) => path.join(run.dir, f)) }
}

test("an agent finds the holder from the watcher's directory in at most 3 calls, with the code that fills it and a bounded replacement", async (t) => {
  const { root } = await serviceRun()
  const mcp = await startMcp(t, [root])
  const { tools } = await mcp.client.listTools()
  assert.ok(tools.some((tool) => tool.name === 'leak_overview'))

  // The agent's script: the overview; the reports if it names no holder; a diff of the pair if they name none either.
  const overview = await mcp.call('leak_overview', { dir: 'service' })
  let holder = overview.processes.map((p) => p.lookFirst?.holder).find(Boolean)
  if (!holder) holder = (await mcp.call('leak_reports', { dir: 'service' })).items.flatMap((r) => r.suspects).map((s) => s.holder).find(Boolean)
  if (!holder) holder = (await mcp.call('snapshot_diff', { before: overview.snapshots[0].name, after: overview.snapshots[1].name })).suspects[0]?.holder
  assert.ok(mcp.calls <= 3, `${mcp.calls} calls`)
  assert.match(holder, /^sessions \(Map\), a module-level variable of .*leaking-service\.js$/)

  const [proc] = overview.processes
  assert.match(proc.verdict, /^leaking: heap/)
  assert.ok(proc.leaks.some((l) => l.kind === 'heap' && l.bytesPerSecond > 0))
  assert.match(proc.lookFirst.growingSite, /^handle .*leaking-service\.js:\d+:\d+/)

  const reports = await mcp.call('leak_reports', { dir: 'service' })
  const change = reports.items.flatMap((r) => r.suggestedChanges).find((c) => c.collection === holder)
  assert.ok(change, JSON.stringify(reports.items.map((r) => r.suggestedChanges)))
  assert.equal(change.replace, 'new Map() where sessions is made')
  assert.match(change.with, /^new BoundedMap\(\{ max: [\d_]+ \}\)$/)
  assert.equal(change.import, "const { BoundedMap } = require('leakproof')")
  assert.match(change.filledAt, /^handle .*leaking-service\.js:\d+:\d+/)
  // The bound keeps what the map holds and ten minutes more at the rate it grew (never below what it holds).
  const entries = Math.max(...reports.items.flatMap((r) => [...r.grownCollections, ...r.suspects]).filter((c) => c.holder === holder && c.entries).map((c) => Number(c.entries.split(' → ')[1])))
  const max = Number(/max: ([\d_]+)/.exec(change.with)[1].replace(/_/g, ''))
  assert.ok(max >= entries, `${max} < ${entries}`)
  assert.match(change.note, /a second: [\d_]+ keeps them and 10 min more/)

  const sites = await mcp.call('allocation_sites', { dir: 'service', pageSize: 2 })
  assert.match(sites.items[0].site, /leaking-service\.js/)
  const timeline = await mcp.call('leak_timeline', { dir: 'service', pageSize: 50 })
  assert.ok(timeline.items.some((e) => /^heap leak: /.test(e.what)))
  assert.ok(timeline.items.some((e) => /^snapshot .*\(baseline/.test(e.what)))
  assert.ok(timeline.floors[proc.process].heap)
  for (let i = 1; i < timeline.items.length; i++) assert.ok(timeline.items[i - 1].at <= timeline.items[i].at)
})

test('the diff of the snapshot pair names the holder `leakproof diff` names; the follow-up questions answer from the file read once', async (t) => {
  const { root, snapshots } = await serviceRun()
  const cli = spawnSync(process.execPath, [BIN, 'diff', ...snapshots, '--json', '--quiet'], { encoding: 'utf8' })
  assert.equal(cli.status, 0, cli.stderr)
  const expected = JSON.parse(cli.stdout).suspects[0].holder.description

  const mcp = await startMcp(t, [root])
  const progress = []
  const diff = await mcp.call('snapshot_diff', { before: snapshots[0], after: snapshots[1], top: 3 }, { onprogress: (p) => progress.push(p.progress) })
  assert.equal(diff.suspects[0].holder, expected)
  assert.match(expected, /^sessions \(Map\)/)
  assert.ok(diff.grownCollections.some((c) => c.holder === expected))
  assert.ok(progress.length > 0 && progress.every((p, i) => i === 0 || p > progress[i - 1]), progress.join(' '))

  const reads = []
  const summary = await mcp.call('snapshot_summary', { file: snapshots[1], top: 3 }, { onprogress: (p) => reads.push(p) })
  assert.equal(reads.at(-1)?.progress, 100, 'the first question reads the file')
  const firstRead = reads.length
  // Among the largest (on Node 24 the global object, which holds everything, comes first).
  assert.ok(summary.largest.some((o) => o.holder === expected), JSON.stringify(summary.largest))
  const maps = await mcp.call('snapshot_retainers', { file: snapshots[1], className: 'Map', top: 2 }, { onprogress: (p) => reads.push(p) })
  assert.ok(maps.count > 1)
  assert.equal(maps.objects[0].holder, expected)
  assert.match(maps.objects[0].path, /sessions \(Map\)$/)
  const dominators = await mcp.call('snapshot_dominators', { file: snapshots[1], id: maps.objects[0].id })
  assert.equal(dominators.object.id, maps.objects[0].id)
  assert.ok(dominators.dominators.length > 0)
  const classes = await mcp.call('snapshot_classes', { file: snapshots[1], match: 'Map', pageSize: 50 }, { onprogress: (p) => reads.push(p) })
  assert.ok(classes.items.some((c) => c.class === 'Map'))
  assert.ok(classes.items.every((c) => c.class.includes('Map')))
  // The questions after the first answered from the snapshot kept read: no read, so no progress.
  assert.equal(reads.length, firstRead, JSON.stringify(reads.slice(firstRead)))
})

test('bad input is a protocol error with a stable code, and the server answers on', async (t) => {
  const { root, dir, snapshots } = await serviceRun()
  const outside = tempDir(t, 'mcp-outside')
  fs.writeFileSync(path.join(outside, 'secret.heapsnapshot'), '{}')
  const inside = tempDir(t, 'mcp-inside')
  fs.symlinkSync(outside, path.join(inside, 'escape'))
  fs.symlinkSync(path.join(outside, 'secret.heapsnapshot'), path.join(inside, 'secret.heapsnapshot'))
  // Hostile snapshots: the first half of a real one, an edge to a node that is not there, not JSON.
  const whole = fs.readFileSync(snapshots[0])
  fs.writeFileSync(path.join(inside, 'truncated.heapsnapshot'), whole.subarray(0, whole.length >> 1))
  const meta = '{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","object","synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["element","property"]]}'
  fs.writeFileSync(path.join(inside, 'dangling.heapsnapshot'), `{"snapshot":{"meta":${meta},"node_count":1,"edge_count":1},"nodes":[2,0,1,0,1],"edges":[1,0,99995],"strings":[""]}`)
  fs.writeFileSync(path.join(inside, 'garbage.heapsnapshot'), 'not a snapshot')
  const mcp = await startMcp(t, [root, inside])

  await refusedWith(mcp.call('snapshot_summary', { file: '/etc/passwd' }), 'ERR_LEAKPROOF_MCP_OUTSIDE_ROOTS', /outside its roots/)
  await refusedWith(mcp.call('snapshot_summary', { file: '../../../etc/passwd' }), 'ERR_LEAKPROOF_MCP_OUTSIDE_ROOTS')
  await refusedWith(mcp.call('leak_overview', { dir: path.join(inside, 'escape') }), 'ERR_LEAKPROOF_MCP_OUTSIDE_ROOTS', /symbolic link/)
  await refusedWith(mcp.call('snapshot_summary', { file: path.join(inside, 'secret.heapsnapshot') }), 'ERR_LEAKPROOF_MCP_OUTSIDE_ROOTS', /symbolic link/)
  await refusedWith(mcp.call('snapshot_summary', { file: path.join(dir, 'missing.heapsnapshot') }), 'ERR_LEAKPROOF_MCP_NOT_FOUND', /no such file/)
  await refusedWith(mcp.call('snapshot_summary', { file: 'service/missing.heapsnapshot' }), 'ERR_LEAKPROOF_MCP_NOT_FOUND', /no such file \(.*service\/missing\.heapsnapshot: a relative path starts at the first root\)/)
  await refusedWith(mcp.call('leak_reports', { dir, report: 'nope.report.json' }), 'ERR_LEAKPROOF_MCP_NOT_FOUND')
  await refusedWith(mcp.call('snapshot_summary', { file: path.join(inside, 'truncated.heapsnapshot') }), 'ERR_LEAKPROOF_SNAPSHOT_TRUNCATED')
  await refusedWith(mcp.call('snapshot_summary', { file: path.join(inside, 'dangling.heapsnapshot') }), 'ERR_LEAKPROOF_SNAPSHOT_MALFORMED')
  await refusedWith(mcp.call('snapshot_diff', { before: snapshots[0], after: path.join(inside, 'garbage.heapsnapshot') }), 'ERR_LEAKPROOF_SNAPSHOT_MALFORMED')
  await refusedWith(mcp.call('leak_reports', { dir, pageSize: 1_000_000 }), 'ERR_LEAKPROOF_INVALID_ARGUMENT', /pageSize must be an integer from 1 to 50/)
  await refusedWith(mcp.call('leak_timeline', { dir, page: 0 }), 'ERR_LEAKPROOF_INVALID_ARGUMENT')
  await refusedWith(mcp.call('leak_overview', { dir, extra: 1 }), 'ERR_LEAKPROOF_INVALID_ARGUMENT')
  await refusedWith(mcp.call('leak_reports', {}), 'ERR_LEAKPROOF_INVALID_ARGUMENT', /dir must be given: the server has 2 roots/)
  await refusedWith(mcp.call('snapshot_retainers', { file: snapshots[0] }), 'ERR_LEAKPROOF_INVALID_ARGUMENT', /one of className and id/)
  await refusedWith(mcp.call('snapshot_retainers', { file: snapshots[0], className: 'NoSuchClass' }), 'ERR_LEAKPROOF_MCP_NOT_FOUND')
  await refusedWith(mcp.call('snapshot_dominators', { file: snapshots[0], id: 4_000_000_000 }), 'ERR_LEAKPROOF_MCP_NOT_FOUND')
  await refusedWith(mcp.call('format_disk', {}), 'ERR_LEAKPROOF_MCP_UNKNOWN')
  await refusedWith(mcp.call('process_status', { pid: 2 ** 22 + 1 }), 'ERR_LEAKPROOF_ATTACH_NO_PROCESS')
  await refusedWith(mcp.call('process_status', { pid: -1 }), 'ERR_LEAKPROOF_INVALID_ARGUMENT')
  await assert.rejects(mcp.client.readResource({ uri: 'file:///etc/passwd' }), (err) => err.data?.code === 'ERR_LEAKPROOF_MCP_UNKNOWN')

  // Alive and well after all of it.
  const overview = await mcp.call('leak_overview', { dir })
  assert.equal(overview.processes.length, 1)
  assert.equal(mcp.stderrText.includes('internal error'), false, mcp.stderrText)
})

test("a process of another user is refused even to a server run as root, and nothing is sent to it", { skip: process.geteuid?.() !== 0 && 'needs root to start a process as another user' }, async (t) => {
  const mcp = await startMcp(t, [tempDir(t, 'mcp')])
  // sleep, not this Node: a Node under /root cannot run as another user; the owner is checked first.
  const other = startProcess(t, 'sleep', ['60'], { uid: 65534, gid: 65534 })
  await new Promise((resolve) => other.once('spawn', resolve))
  for (const tool of ['process_attach', 'process_status', 'process_snapshot']) {
    await refusedWith(mcp.call(tool, { pid: other.pid }), 'ERR_LEAKPROOF_ATTACH_OTHER_USER', /belongs to user 65534/)
  }
  assert.equal(other.exitCode, null)
})

test("a control socket that is not the process' own, or that answers nonsense, is refused, and the server lives on", { skip: process.geteuid?.() !== 0 && 'needs root to make files of another user' }, async (t) => {
  const mcp = await startMcp(t, [tempDir(t, 'mcp')])
  const target = startProcess(t, 'sleep', ['60'])
  await new Promise((resolve) => target.once('spawn', resolve))
  const dir = path.join(os.tmpdir(), `leakproof-attach-${target.pid}`)
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(dir, { mode: 0o700 })
  let reply = 'null'
  const server = net.createServer((socket) => socket.end(`${reply}\n`)).listen(path.join(dir, `leakproof-attach-${target.pid}.sock`))
  await once(server, 'listening')
  t.after(() => server.close())

  // Our own directory and socket, answering what no agent answers: null, then a reply without its error.
  await refusedWith(mcp.call('process_status', { pid: target.pid }), 'ERR_LEAKPROOF_ATTACH_FAILED', /without a reply/)
  reply = '{"ok":false}'
  await refusedWith(mcp.call('process_status', { pid: target.pid }), 'ERR_LEAKPROOF_ATTACH_FAILED', /without a reply/)
  reply = '{"ok":true,"result":{"spoofed":true}}'
  // The same socket, made by another user first in a directory anyone may write to: not used.
  fs.chmodSync(dir, 0o777)
  fs.chownSync(dir, 65534, 65534)
  fs.chownSync(path.join(dir, `leakproof-attach-${target.pid}.sock`), 65534, 65534)
  await refusedWith(mcp.call('process_status', { pid: target.pid }), 'ERR_LEAKPROOF_ATTACH_FAILED', /not process \d+'s to answer from/)
  await refusedWith(mcp.call('leak_overview', { dir }), 'ERR_LEAKPROOF_MCP_OUTSIDE_ROOTS')
  assert.ok((await mcp.client.listTools()).tools.length > 0)
})

test('the workflow is offered as a resource and prompts', async (t) => {
  const mcp = await startMcp(t, [tempDir(t, 'mcp')])
  const { resources } = await mcp.client.listResources()
  assert.deepStrictEqual(resources.map((r) => r.uri), ['leakproof://guide'])
  const guide = await mcp.client.readResource({ uri: 'leakproof://guide' })
  assert.match(guide.contents[0].text, /leak_overview/)
  const { prompts } = await mcp.client.listPrompts()
  assert.deepStrictEqual(prompts.map((p) => p.name).sort(), ['investigate_directory', 'investigate_process', 'investigate_snapshots'])
  const prompt = await mcp.client.getPrompt({ name: 'investigate_directory', arguments: { dir: '/srv/leakproof' } })
  assert.match(prompt.messages[0].content.text, /leak_overview with dir "\/srv\/leakproof"/)
  const fleet = await mcp.client.getPrompt({ name: 'investigate_directory', arguments: {} })
  assert.match(fleet.messages[0].content.text, /Call leak_overview without arguments first: it groups the instances that leak by what holds the leak/)
  await assert.rejects(mcp.client.getPrompt({ name: 'investigate_snapshots', arguments: { before: 'a' } }), (err) => err.data?.code === 'ERR_LEAKPROOF_INVALID_ARGUMENT')
})

test('bad command lines exit 2 with the reason and start nothing', () => {
  for (const args of [['--root', '/nonexistent/leakproof'], ['--bogus'], ['--root']]) {
    const r = spawnSync(process.execPath, [BIN, 'mcp', ...args], { encoding: 'utf8', input: '' })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /^leakproof mcp: /)
  }
  const r = spawnSync(process.execPath, [BIN, 'mcp'], { encoding: 'utf8', input: '', env: { PATH: process.env.PATH, LEAKPROOF_INTERVAL_MS: 'soon' } })
  assert.equal(r.status, 2, r.stderr)
})
