'use strict'

// The package as users get it: the tarballs of `npm run pack`, installed offline into a fresh
// project by the running Node with a PATH that holds no Rust toolchain, then used the documented
// ways. Then the platform package is removed, as on a platform with no binary, and the app must
// run on with the JavaScript parts working and the native ones failing with a clear code.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { hostPlatform, targetName, PACKAGE_PREFIX } = require('../../lib/shared/native')

const PACKAGE = PACKAGE_PREFIX + targetName(hostPlatform())

let work // the temporary directory: dist/, the project, its PATH and npm's cache
let project
let env

/** npm's CLI script: the one running this test under `npm test`, else the one on PATH. */
function npmCli() {
  if (process.env.npm_execpath) return process.env.npm_execpath
  const found = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim()
  return path.join(path.dirname(fs.realpathSync(found)), 'npm-cli.js')
}

/** Runs `file args` in the project with the test's PATH; returns `{ status, stdout, stderr }`. */
function run(file, args, extraEnv = {}) {
  const result = spawnSync(file, args, {
    cwd: project,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    timeout: 120_000,
  })
  if (result.error) throw result.error
  return result
}

/** Runs `node args` in the project and asserts it exited 0; returns its stdout. */
function node(args, extraEnv) {
  const result = run(process.execPath, args, extraEnv)
  assert.equal(result.status, 0, `node ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

/** Writes a file of the project. */
function write(name, text) {
  fs.writeFileSync(path.join(project, name), text)
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-packed-'))
  const dist = path.join(work, 'dist')
  const packed = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'pack.js'), '--out', dist], { encoding: 'utf8' })
  assert.equal(packed.status, 0, packed.stderr)
  // A PATH with this Node and a shell (npm exec runs bins through one), and nothing else.
  const bin = path.join(work, 'bin')
  fs.mkdirSync(bin)
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'))
  env = {
    PATH: bin,
    HOME: path.join(work, 'home'),
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  }
  project = path.join(work, 'app')
  fs.mkdirSync(project)
  write('package.json', JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const tarballs = fs.readdirSync(dist).filter((f) => f.endsWith('.tgz')).map((f) => path.join(dist, f))
  assert.equal(tarballs.length, 2, `root and platform tarballs: ${tarballs}`)
  const installed = run(process.execPath, [npmCli(), 'install', ...tarballs])
  assert.equal(installed.status, 0, installed.stderr)
})
after(() => fs.rmSync(work, { recursive: true, force: true }))

test('the published root package holds no binary, no Rust and no install script', () => {
  const root = path.join(project, 'node_modules', 'leakproof')
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  assert.equal(manifest.scripts, undefined)
  assert.ok(PACKAGE in manifest.optionalDependencies)
  const files = fs.readdirSync(root, { recursive: true })
  assert.deepEqual(files.filter((f) => /\.(node|rs)$|Cargo/.test(f)), [])
  const rust = run('sh', ['-c', 'command -v cargo || command -v rustc'])
  assert.deepEqual([rust.stdout, rust.status === 0], ['', false], 'no Rust on the PATH')
})

test('CommonJS and ESM see the same exports and one watcher', () => {
  write(
    'both.mjs',
    `import * as esm from 'leakproof'
import { createRequire } from 'node:module'
const cjs = createRequire(import.meta.url)('leakproof')
const names = Object.keys(cjs)
const differ = names.filter((n) => esm[n] !== cjs[n])
const watcher = esm.watch({ intervalMs: 1000 })
const same = cjs.watch() === watcher
watcher.stop()
console.log(JSON.stringify({ names: names.length, differ, same }))
`,
  )
  const out = JSON.parse(node(['both.mjs']))
  assert.deepEqual(out.differ, [])
  assert.equal(out.same, true)
  assert.ok(out.names >= 18, `${out.names} exports`)
})

test('analyzeSnapshot and `npx leakproof analyze` read a snapshot written here', async () => {
  write(
    'snap.js',
    `const v8 = require('node:v8')
const { analyzeSnapshot, BoundedMap } = require('leakproof')
class Held { constructor(i) { this.i = i } }
const held = new BoundedMap({ max: 5000 })
for (let i = 0; i < 5000; i++) held.set(i, new Held(i))
const file = v8.writeHeapSnapshot('app.heapsnapshot')
analyzeSnapshot(file).then((r) => console.log(JSON.stringify(r.classes.find((c) => c.name === 'Held'))))
`,
  )
  const held = JSON.parse(node(['snap.js']))
  assert.equal(held.count, 5000)
  const cli = run(process.execPath, [npmCli(), 'exec', '--', 'leakproof', 'analyze', 'app.heapsnapshot', '--top', '3'])
  assert.equal(cli.status, 0, cli.stderr)
  assert.match(cli.stdout, /objects, .* references/)
})

test('`npx leakproof mcp` says to install its SDK, an optional peer; with the SDK it answers an MCP client', async (t) => {
  const without = run(process.execPath, [npmCli(), 'exec', '--', 'leakproof', 'mcp'])
  assert.equal(without.status, 1, without.stderr)
  assert.match(without.stderr, /^leakproof mcp needs @modelcontextprotocol\/sdk, an optional peer dependency of leakproof: install it in the app \(npm install @modelcontextprotocol\/sdk\) \[ERR_LEAKPROOF_PEER_MISSING\]$/m)
  // The SDK as the app would have it installed: the repository's copy, found by NODE_PATH (offline here).
  const { startMcp } = require('../support/mcp-client')
  const installed = path.join(project, 'node_modules', 'leakproof', 'bin', 'leakproof.js')
  const mcp = await startMcp(t, [project], { bin: installed, cwd: project, env: { NODE_PATH: path.join(__dirname, '..', '..', 'node_modules') } })
  const summary = await mcp.call('snapshot_summary', { file: 'app.heapsnapshot', top: 3 })
  assert.ok(summary.objects > 0)
})

test('the preload starts a watcher with -r and with --import', () => {
  const check = `const w = require('leakproof').watch(); console.log(w.stats().running); w.stop()`
  write('app.js', check)
  write('app.mjs', `import { createRequire } from 'node:module'\nconst require = createRequire(import.meta.url)\n${check}`)
  for (const [flag, app] of [['-r', 'app.js'], ['--import', 'app.mjs']]) {
    const result = run(process.execPath, [flag, 'leakproof/register', app])
    assert.equal(result.status, 0, `${flag}: ${result.stderr}`)
    assert.equal(result.stdout.trim(), 'true', flag)
    assert.equal(result.stderr, '', flag)
  }
})

test('the operate entries resolve from CommonJS and ESM; without their peers they say what to install', () => {
  write(
    'operate.mjs',
    `import { registerMetrics } from 'leakproof/prometheus'
import { registerInstruments } from 'leakproof/otel'
import { adminHandler } from 'leakproof/http'
const codes = {}
for (const [name, call] of [['prometheus', () => registerMetrics()], ['otel', () => registerInstruments()]]) {
  try { call() } catch (err) { codes[name] = [err.code, /npm install [@\\w/-]+/.exec(err.message)?.[0]] }
}
const handler = adminHandler({ token: 'a-token-of-enough-length' })
console.log(JSON.stringify({ codes, handler: typeof handler }))
`,
  )
  const out = JSON.parse(node(['operate.mjs']))
  assert.deepEqual(out, {
    codes: {
      prometheus: ['ERR_LEAKPROOF_PEER_MISSING', 'npm install prom-client'],
      otel: ['ERR_LEAKPROOF_PEER_MISSING', 'npm install @opentelemetry/api'],
    },
    handler: 'function',
  })
  write('operate.js', `console.log(['prometheus', 'otel', 'http'].map((e) => Object.keys(require('leakproof/' + e)).join()).join(' '))`)
  assert.match(node(['operate.js']), /registerMetrics.* registerInstruments.* adminHandler/)
})

test('a platform package of another version is not loaded, and the error says so', () => {
  const manifestFile = path.join(project, 'node_modules', ...PACKAGE.split('/'), 'package.json')
  const original = fs.readFileSync(manifestFile, 'utf8')
  fs.writeFileSync(manifestFile, JSON.stringify({ ...JSON.parse(original), version: '0.0.1' }))
  try {
    write('version.js', `try { require('leakproof').watch() } catch (err) { console.log(JSON.stringify([err.code, err.attempts])) }`)
    const [code, attempts] = JSON.parse(node(['version.js']))
    assert.equal(code, 'ERR_LEAKPROOF_NATIVE_UNAVAILABLE')
    assert.ok(attempts.some((a) => a.startsWith(`${PACKAGE}: version 0.0.1 installed`)), attempts.join('; '))
  } finally {
    fs.writeFileSync(manifestFile, original)
  }
})

test('without the platform package: the app runs, JS parts work, native parts say why', () => {
  fs.rmSync(path.join(project, 'node_modules', ...PACKAGE.split('/')), { recursive: true })

  write('plain.js', `console.log('app ran')`)
  const preloaded = run(process.execPath, ['-r', 'leakproof/register', 'plain.js'])
  assert.equal(preloaded.status, 0, preloaded.stderr)
  assert.equal(preloaded.stdout, 'app ran\n')
  const lines = preloaded.stderr.trim().split('\n')
  assert.equal(lines.length, 1, preloaded.stderr)
  assert.match(lines[0], new RegExp(`^leakproof: not watching: .*${PACKAGE}`))

  write(
    'degraded.js',
    `const lp = require('leakproof')
const { EventEmitter } = require('node:events')
const codes = {}
const map = new lp.BoundedMap({ max: 2 })
map.set('a', 1).set('b', 2).set('c', 3)
const ring = new lp.RingBuffer(2)
ring.push(1, 2, 3)
const emitter = new EventEmitter()
lp.trackEmitter(emitter)
emitter.on('x', () => {})
for (const [name, call] of [['watch', () => lp.watch()], ['systemMemory', () => lp.systemMemory()]]) {
  try { call() } catch (err) { codes[name] = [err.code, err.packageName, err.platform, err.arch, err.libc] }
}
Promise.allSettled([lp.analyzeSnapshot('x.heapsnapshot'), lp.diffSnapshots('a', 'b')]).then(([a, d]) => {
  codes.analyzeSnapshot = a.reason.code
  codes.diffSnapshots = d.reason.code
  console.log(JSON.stringify({ map: [...map.keys()], ring: ring.toArray(), sites: lp.listenerSites(emitter).length, liveSites: typeof lp.liveSites(), codes }))
})
`,
  )
  const out = JSON.parse(node(['degraded.js']))
  assert.deepEqual(out.map, ['b', 'c'])
  assert.deepEqual(out.ring, [2, 3])
  assert.equal(out.sites, 1)
  assert.equal(out.liveSites, 'object')
  const { platform, arch, libc } = hostPlatform()
  const unavailable = ['ERR_LEAKPROOF_NATIVE_UNAVAILABLE', PACKAGE, platform, arch, libc]
  assert.deepEqual(out.codes, {
    watch: unavailable,
    systemMemory: unavailable,
    analyzeSnapshot: 'ERR_LEAKPROOF_NATIVE_UNAVAILABLE',
    diffSnapshots: 'ERR_LEAKPROOF_NATIVE_UNAVAILABLE',
  })

  const cli = run(process.execPath, [npmCli(), 'exec', '--', 'leakproof', 'analyze', 'app.heapsnapshot'])
  assert.equal(cli.status, 3, cli.stderr)
  assert.match(cli.stderr, new RegExp(`no native addon .*${PACKAGE}.*ERR_LEAKPROOF_NATIVE_UNAVAILABLE`))
})
