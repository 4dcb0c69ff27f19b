'use strict'

/**
 * `leakproof mcp` over a fleet, driven by the SDK's client over stdio: three instances of one
 * service watched by the register preload as a deployment runs them, two leaking through the
 * same Map from two copies of the service's file at different paths (one with a snapshot pair,
 * one with the census only), one that does not leak; their evidence in two roots (one holding
 * two processes' logs, the other a watcher directory a level down). leak_overview over both
 * roots groups the two leaking instances under one holder and lists the healthy one beside;
 * with one root the watcher tools take it as `dir`; with several, a tool that needs one
 * directory refuses a call without it and lists the roots. A root of dozens of watcher
 * directories and thousands of files answers within its caps.
 */
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { startMcp, refusedWith } = require('../support/mcp-client')
const { FAST_ENV } = require('../support/restart-harness')
const { tempDir } = require('../support/temp-dir')

const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const SERVICE = path.join(__dirname, 'fixtures', 'fleet-service.js')
/** JSON-RPC's "invalid params", which every coded refusal of a tool is. */

/** A new temporary directory, removed when the file's tests are done. */
const scratch = (name) => tempDir(test, `mcp-fleet-${name}`)

/**
 * One instance: the service run as `node -r register` (in its own copy at `copyDir`, when
 * given), its watcher writing into `dir` and its events to `dir/log`; with `pair`, snapshots
 * on (a pair and its report), else the census only. Resolves with `{ pid, code, stderr, script }`
 * once it exits; killed when the file's tests are done.
 */
function startInstance({ mode, dir, log, pair = false, copyDir = null }) {
  const script = copyDir === null ? SERVICE : path.join(copyDir, 'service.js')
  if (copyDir !== null) fs.copyFileSync(SERVICE, script)
  const env = {
    PATH: process.env.PATH,
    ...FAST_ENV,
    LEAKPROOF_DIR: dir,
    LEAKPROOF_LOG: path.join(dir, log),
    ...(pair ? { LEAKPROOF_SNAPSHOT_WRITER: 'in-process' } : { LEAKPROOF_SNAPSHOTS: 'off' }),
  }
  const child = spawn(process.execPath, ['-r', REGISTER, script, mode], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve({ pid: child.pid, code, stderr, script })))
  test.after(async () => {
    child.kill()
    await exited
  })
  return exited
}

/**
 * The fleet, started when this file loads: root A is the watcher directory of leaking copy A
 * (census only) and of the healthy instance, each with its own log; root B holds pod-b, the
 * watcher directory of leaking copy B (a snapshot pair), beside files that are not a watcher's.
 */
async function startFleet() {
  const rootA = fs.realpathSync(scratch('root-a'))
  const rootB = fs.realpathSync(scratch('root-b'))
  const podB = path.join(rootB, 'pod-b')
  fs.mkdirSync(podB)
  fs.writeFileSync(path.join(rootB, 'README.txt'), 'not a watcher file\n')
  fs.mkdirSync(path.join(rootB, 'node_modules', 'some-package'), { recursive: true })
  fs.writeFileSync(path.join(rootB, 'node_modules', 'some-package', 'install.log'), 'not looked in\n')
  const [a, b, healthy] = await Promise.all([
    startInstance({ mode: 'leak', dir: rootA, log: 'leakproof-events-a.jsonl', copyDir: scratch('copy-a') }),
    startInstance({ mode: 'leak', dir: podB, log: 'leakproof-events.jsonl', copyDir: scratch('copy-b'), pair: true }),
    startInstance({ mode: 'healthy', dir: rootA, log: 'leakproof-events-healthy.jsonl' }),
  ])
  for (const run of [a, b, healthy]) assert.equal(run.code, 0, run.stderr)
  return { rootA, rootB, podB, a, b, healthy }
}
const fleetRun = startFleet()
fleetRun.catch(() => {}) // each test awaits it and fails with its error

/** `text` as a regular expression that matches it literally. */
const literally = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

test('leak_overview over two roots groups the instances leaking through one Map from two paths, and lists the healthy one beside', { timeout: 120_000 }, async (t) => {
  const { rootA, rootB, podB, a, b, healthy } = await fleetRun
  const mcp = await startMcp(t, [rootA, rootB])
  const overview = await mcp.call('leak_overview', {})

  assert.deepStrictEqual(overview.over, [rootA, rootB])
  assert.deepStrictEqual(overview.instances, { total: 3, leaking: 2, notLeaking: 1 }, JSON.stringify(overview, null, 1))
  assert.equal(overview.groups.length, 1, JSON.stringify(overview.groups, null, 1))
  const [group] = overview.groups
  assert.equal(group.holder, 'sessions (Map)')
  assert.equal(group.site, 'service.js')
  assert.equal(overview.summary, `2 of 3 instances leak: 2 through sessions (Map) at ${group.site}`)
  assert.equal(group.instances, 2)
  assert.deepStrictEqual(group.kinds, ['heap'])
  const byPid = new Map(group.members.map((m) => [m.pid, m]))
  assert.deepStrictEqual([...byPid.keys()].sort(), [a.pid, b.pid].sort())
  for (const [run, dir] of [[a, rootA], [b, podB]]) {
    const member = byPid.get(run.pid)
    assert.equal(member.dir, dir)
    assert.equal(member.process, `pid ${run.pid}`)
    assert.ok(member.bytesPerSecond > 0, JSON.stringify(member))
    assert.match(member.growth, /\/min$/)
    assert.ok(Date.parse(member.since) <= Date.parse(member.lastLeakAt))
    assert.ok(group.since <= member.since)
    assert.ok(member.reachesLimitAt === null || Date.parse(member.reachesLimitAt) > Date.parse(member.lastLeakAt))
    // Each in its own words: the same Map, in its own copy of the file.
    assert.equal(member.holderText.startsWith(`sessions (Map), a module-level variable of ${fs.realpathSync(run.script)}`), true, member.holderText)
    assert.equal(path.dirname(member.newestEvidence.file), dir)
    assert.ok(fs.existsSync(member.newestEvidence.file))
    assert.match(member.report, /\.report\.json$/)
  }
  assert.notEqual(path.dirname(a.script), path.dirname(b.script))
  assert.match(byPid.get(b.pid).report, /-follow-up\.report\.json$/, 'the pair outranks the census before it')
  assert.equal(typeof byPid.get(b.pid).share, 'number')
  assert.deepStrictEqual(overview.notLeaking.map((i) => [i.dir, i.pid]), [[rootA, healthy.pid]])
  assert.match(overview.notLeaking[0].heapFloor, /B$/)
  assert.deepStrictEqual(overview.directories, { read: 2, found: 2, lookedAt: 3 })
  assert.equal(overview.listed, undefined, 'nothing was cut')

  // One directory at a time: the same label on its process, and today's shape.
  const pod = await mcp.call('leak_overview', { dir: podB })
  assert.deepStrictEqual(pod.processes.map((p) => [p.pid, p.holderLabel?.holder, p.holderLabel?.site]), [[b.pid, group.holder, group.site]])
  assert.match(pod.processes[0].lookFirst.holder, /^sessions \(Map\)/)
  const onlyB = await mcp.call('leak_overview', { dirs: [rootB] })
  assert.deepStrictEqual(onlyB.instances, { total: 1, leaking: 1, notLeaking: 0 })

  // A tool that reads one directory, given none by a server of two roots: refused, naming them.
  for (const tool of ['leak_reports', 'allocation_sites', 'leak_timeline']) {
    await refusedWith(mcp.call(tool, {}), 'ERR_LEAKPROOF_INVALID_ARGUMENT', new RegExp(`${tool}: dir must be given: the server has 2 roots \\(${literally(rootA)}, ${literally(rootB)}\\); name one of them`))
  }
  await refusedWith(mcp.call('leak_overview', { dir: podB, dirs: [rootA] }), 'ERR_LEAKPROOF_INVALID_ARGUMENT', /give dir \(one directory\) or dirs \(several\), not both/)
  await refusedWith(mcp.call('leak_overview', { dirs: [rootA, os.homedir()] }), 'ERR_LEAKPROOF_MCP_OUTSIDE_ROOTS', /dirs\[1\]/)
  await refusedWith(mcp.call('leak_overview', { dirs: [] }), 'ERR_LEAKPROOF_INVALID_ARGUMENT', /dirs must be a list of 1 to 32 items/)
  await refusedWith(mcp.call('leak_overview', { dirs: [rootA, 7] }), 'ERR_LEAKPROOF_INVALID_ARGUMENT', /dirs\[1\] must be a non-empty string/)
  assert.equal(mcp.stderrText.includes('internal error'), false, mcp.stderrText)
})

test("a server of one root takes it as every watcher tool's dir", { timeout: 120_000 }, async (t) => {
  const { rootA, a, healthy } = await fleetRun
  const mcp = await startMcp(t, [rootA])
  const { tools } = await mcp.client.listTools()
  for (const name of ['leak_overview', 'leak_reports', 'allocation_sites', 'leak_timeline']) {
    const tool = tools.find((candidate) => candidate.name === name)
    assert.equal(tool.inputSchema.required?.includes('dir') ?? false, false, name)
  }

  const overview = await mcp.call('leak_overview', {})
  assert.deepStrictEqual(overview.instances, { total: 2, leaking: 1, notLeaking: 1 })
  assert.deepStrictEqual(overview.groups.map((g) => [g.holder, g.members.map((m) => m.pid)]), [['sessions (Map)', [a.pid]]])
  assert.deepStrictEqual(overview.notLeaking.map((i) => i.pid), [healthy.pid])

  const reports = await mcp.call('leak_reports', {})
  assert.equal(reports.dir, rootA)
  assert.equal(reports.hint, undefined)
  assert.ok(reports.items.length > 0)
  assert.equal(reports.items[0].process, `pid ${a.pid}`)
  assert.match(reports.items[0].suspects[0].holder, /^sessions \(Map\), a module-level variable of /)
  const timeline = await mcp.call('leak_timeline', { pageSize: 5 })
  assert.equal(timeline.dir, rootA)
  assert.deepStrictEqual(Object.keys(timeline.floors).sort(), [`pid ${a.pid}`, `pid ${healthy.pid}`].sort())
})

/**
 * A root of 40 hosts' watcher directories, each a copy of instance A's evidence (its leak
 * events and its report, under another pid), one of them also holding 3,000 files that are not
 * a watcher's, and a deep tree of directories beside.
 */
function manyHosts(t, { rootA, a }) {
  const root = tempDir(t, 'mcp-fleet-many')
  const reportName = fs.readdirSync(rootA).find((name) => name.includes(`Z-${a.pid}-`) && name.endsWith('.report.json'))
  const report = JSON.parse(fs.readFileSync(path.join(rootA, reportName), 'utf8'))
  const leaks = fs.readFileSync(path.join(rootA, 'leakproof-events-a.jsonl'), 'utf8').split('\n').filter((line) => line.includes('"type":"leak"')).map((line) => JSON.parse(line))
  assert.ok(leaks.length > 0)
  for (let host = 0; host < 40; host++) {
    const dir = path.join(root, `host-${host}`)
    fs.mkdirSync(dir)
    const pid = 100_000 + host
    fs.writeFileSync(path.join(dir, reportName.replace(`Z-${a.pid}-`, `Z-${pid}-`)), JSON.stringify({ ...report, pid }))
    fs.writeFileSync(path.join(dir, 'leakproof-events.jsonl'), leaks.map((leak) => `${JSON.stringify({ ...leak, pid })}\n`).join(''))
  }
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(root, 'host-0', `upload-${i}.txt`), 'x')
  for (let i = 0; i < 30; i++) fs.mkdirSync(path.join(root, 'cache', `d${i}`, 'e', 'f'), { recursive: true })
  return root
}

test('a root of dozens of watcher directories and thousands of files answers within its caps, and says what it left out', { timeout: 120_000 }, async (t) => {
  const fleet = await fleetRun
  const root = fs.realpathSync(manyHosts(t, fleet))
  const mcp = await startMcp(t, [root])
  const started = Date.now()
  const overview = await mcp.call('leak_overview', {})
  const tookMs = Date.now() - started

  assert.deepStrictEqual(overview.directories, { read: 32, found: 40, lookedAt: 1 + 40 + 1 + 30 })
  assert.deepStrictEqual(overview.instances, { total: 32, leaking: 32, notLeaking: 0 })
  assert.equal(overview.groups.length, 1)
  assert.equal(overview.groups[0].holder, 'sessions (Map)')
  assert.equal(overview.groups[0].instances, 32)
  assert.equal(overview.groups[0].members.length, 5)
  assert.equal(overview.groups[0].membersNotListed, 27)
  assert.match(overview.listed, /^at most 8 groups, the 5 instances of each nearest their limit/)
  assert.match(overview.notes[0], /^8 watcher directories not read \(the 32 changed most recently were\): name the ones to read in dirs$/)
  assert.ok(overview.notes.length <= 10)
  const bytes = JSON.stringify(overview).length
  assert.ok(bytes < 16_000, `${bytes} bytes`)
  assert.ok(tookMs < 10_000, `${tookMs} ms`)
})
