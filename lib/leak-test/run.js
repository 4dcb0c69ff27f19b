'use strict'

/**
 * `leakproof run -- node app.js`: a service run under the watcher (the `leakproof/register`
 * preload) with test-time settings while the team's own load test drives it. When the
 * service exits, or this process gets SIGINT or SIGTERM (passed on to the service), the
 * verdict is read from what the watcher left in its directory: the leaks, what holds them
 * (the report of a snapshot pair, or the pair itself when the service stopped before its
 * report) or that no JS object holds a native leak, the allocation sites that grew. It is
 * printed on stderr with the report page's path, and the exit code says it (`RUN_EXIT`), so
 * a CI job fails with the holder in its log.
 * With `--load CMD`, the load test runs beside the service and its end ends the run.
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { PAIR_PENDING } = require('../diagnose/diagnosis')
const { setTimeout: delay } = require('node:timers/promises')
const { collect } = require('../page/collect')
const { writeReportPage } = require('../page')
const { configFromEnv } = require('../watch/env-config')
const { resolveOptions } = require('../watch/options')
const { diffSnapshots, nativeMemoryText } = require('../diagnose/analyze')
const { rankReports } = require('../diagnose/holder-label')
const { CODES, codedError } = require('../shared/errors')
const { bytesText } = require('../shared/bytes-text')
const { LOG_NAME } = require('../shared/file-names')
const { placeText } = require('../shared/place-text')
const { exitCodesOf } = require('../shared/exit-codes')

const MiB = 1024 * 1024

/** The preload every Node process of the run loads, through NODE_OPTIONS. */
const REGISTER = path.join(__dirname, '..', '..', 'register.js')

/**
 * The watcher's settings in a run, as the register preload's variables: a load test lasts
 * minutes, not days. Floors every second, judged after 10 s of warm-up over at least 20 s
 * and 4 MiB of growth; a full GC asked for when V8 ran none for 2 s, within 5% of the time;
 * snapshots whatever their pause (nobody is waiting on a test service), a pair as soon as
 * the heap grew 4 MiB more, in at most 2 GiB of disk. A variable the caller set wins.
 */
const RUN_SETTINGS = Object.freeze({
  LEAKPROOF_INTERVAL_MS: '1000',
  LEAKPROOF_WARMUP_MS: '10000',
  LEAKPROOF_MIN_DURATION_MS: '20000',
  LEAKPROOF_MIN_GROWTH_BYTES: String(4 * MiB),
  LEAKPROOF_FORCE_GC_AFTER_MS: '2000',
  LEAKPROOF_GC_BUDGET: '0.05',
  LEAKPROOF_COOLDOWN_MS: '0',
  LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS: '600000',
  LEAKPROOF_FOLLOW_UP_GROWTH_BYTES: String(4 * MiB),
  LEAKPROOF_MAX_DISK_BYTES: String(2048 * MiB),
})

/** The exit codes of `leakproof run` by name, each with what it means (the table's, lib/shared/exit-codes.js). */
const RUN_EXIT = exitCodesOf('run')

/** How long the service has to exit after the signal passed on to it, before SIGKILL. */
const DEFAULT_GRACE_MS = 30_000

/**
 * The environment of the service: the caller's, the run's settings where the caller set
 * none, the run's directory and log (always: the verdict reads them), and the preload added
 * to NODE_OPTIONS.
 */
function serviceEnv(env, dir) {
  const preload = `--require ${JSON.stringify(REGISTER)}`
  return {
    ...RUN_SETTINGS,
    ...env,
    LEAKPROOF_DIR: dir,
    LEAKPROOF_LOG: path.join(dir, LOG_NAME),
    NODE_OPTIONS: env.NODE_OPTIONS ? `${env.NODE_OPTIONS} ${preload}` : preload,
  }
}

/**
 * The run's directory: `dir`, made if missing, which must hold nothing (the verdict reads
 * every event in it); or, without one, a new `leakproof-run-XXXXXX` in the working directory.
 * Throws ERR_LEAKPROOF_INVALID_OPTION for a directory with files in it, the file system's
 * error for one that cannot be made.
 */
function prepareDir(dir) {
  if (dir === undefined) return fs.mkdtempSync(path.join(process.cwd(), 'leakproof-run-'))
  const resolved = path.resolve(dir)
  fs.mkdirSync(resolved, { recursive: true })
  if (fs.readdirSync(resolved).length > 0) {
    throw codedError(Error, CODES.INVALID_OPTION, `--dir ${resolved} is not empty: a run's verdict reads every event in its directory, so give each run a new one`)
  }
  return resolved
}

/**
 * Runs `command` (an array: the program and its arguments) under the watcher until it exits
 * or is stopped (see `runChild`): with `load`, a shell command started beside it (in `env`,
 * without the preload), the service is stopped when the load command exits.
 * @param {{ command: string[], load?: string, dir?: string, graceMs?: number, env?: NodeJS.ProcessEnv, print?: (line: string) => void }} options
 * @returns {Promise<{ exitCode: number, verdict: object, reportPath: string | null }>}
 */
async function runService({ command, load, dir, graceMs = DEFAULT_GRACE_MS, env = process.env, print = (line) => process.stderr.write(`${line}\n`) }) {
  const runDir = prepareDir(dir)
  const childEnv = serviceEnv(env, runDir)
  print(`leakproof run: watching ${command.join(' ')}; its snapshots, log and report go to ${runDir}`)
  const started = Date.now()
  const ended = await runChild({ command, env: childEnv, graceMs, load, loadEnv: env, log: childEnv.LEAKPROOF_LOG, print })
  const settings = resolveOptions(configFromEnv(childEnv).options)
  const verdict = await verdictOf(runDir, ended, settings.warmupMs + settings.minDurationMs, Date.now() - started)
  for (const line of verdictLines(command, verdict)) print(line)
  let reportPath = null
  try {
    reportPath = (await writeReportPage(runDir)).path
    print(`leakproof run: report page: ${reportPath}`)
  } catch (err) {
    print(`leakproof run: the report page could not be written: ${err.message}`)
  }
  return { exitCode: verdict.exit.code, verdict, reportPath }
}

/** How often the run looks whether the process that started it is still there, or for a report. */
const CHECK_EVERY_MS = 500

/** How long the run waits, once the load test is over, for the report of a leak already found. */
const REPORT_WAIT_MS = 60_000

/**
 * Spawns the service (and the `load` shell command beside it, if any) and resolves when the
 * service is gone: `{ code, signal, stoppedBy, error, load }`. The service is stopped, by
 * passing on `stoppedBy` (SIGKILL after `graceMs`, or at a second signal), when this process
 * gets SIGINT or SIGTERM, when the load command exits, or when the process that started this
 * one is gone (npx does not pass SIGTERM on: the service would be left running). `error`:
 * the spawn's failure (a command not found); `load`: `{ code, signal }` of the load command,
 * null without one or when it was stopped because the service had gone. When the load
 * command ends after a heap or external leak whose report is not in yet (its snapshot pair
 * is being written), the service is stopped once the report is in, or after REPORT_WAIT_MS.
 */
function runChild({ command, env, graceMs, load, loadEnv, log, print }) {
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env })
    let stoppedBy = null
    let killTimer = null
    let loadResult = null
    const stop = (signal) => {
      if (stoppedBy !== null) return void child.kill('SIGKILL')
      stoppedBy = signal
      child.kill(signal)
      killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      killTimer.unref()
    }
    const signals = ['SIGINT', 'SIGTERM']
    for (const signal of signals) process.on(signal, stop)
    const parent = process.ppid
    const parentCheck = setInterval(() => {
      if (process.ppid !== parent && stoppedBy === null) stop('SIGTERM')
    }, CHECK_EVERY_MS)
    parentCheck.unref()
    const loader = load === undefined ? null : spawn(load, { shell: true, stdio: 'inherit', env: loadEnv })
    loader?.once('exit', async (code, signal) => {
      loadResult = { code, signal }
      if (reportPending(log)) {
        print(`leakproof run: the load test is over; waiting up to ${REPORT_WAIT_MS / 1000} s for the report of the leak found`)
        const until = Date.now() + REPORT_WAIT_MS
        while (stoppedBy === null && !serviceGone && Date.now() < until && reportPending(log)) await delay(CHECK_EVERY_MS)
      }
      if (stoppedBy === null) stop('SIGTERM')
    })
    loader?.once('error', (error) => {
      loadResult = { code: null, signal: null, error }
      if (stoppedBy === null) stop('SIGTERM')
    })
    let serviceGone = false
    const done = (result) => {
      serviceGone = true
      for (const signal of signals) process.removeListener(signal, stop)
      clearTimeout(killTimer)
      clearInterval(parentCheck)
      if (loader !== null && loadResult === null) loader.kill('SIGTERM')
      resolve({ stoppedBy, error: null, code: null, signal: null, load: loadResult, ...result })
    }
    child.once('error', (error) => done({ error }))
    child.once('exit', (code, signal) => done({ code, signal }))
  })
}

/**
 * Whether the event log at `log` has a heap or external leak but no final report yet: the
 * watcher writes one for each (of a snapshot pair, or without one), and a pair takes a while.
 * The census' report while a pair is under way (`pair-pending`) is not final: the pair's follows.
 */
function reportPending(log) {
  let text
  try {
    text = fs.readFileSync(log, 'utf8')
  } catch {
    return false
  }
  if (!/"type":"leak"[^\n]*"kind":"(heap|external)"/.test(text)) return false
  return !text.split('\n').some((line) => line.includes('"type":"report"') && !line.includes(`"why":${JSON.stringify(PAIR_PENDING)}`))
}

/**
 * The verdict from the run's directory: `{ exit, leaks, failure, watchedMs, neededMs,
 * processes }`. `leaks`: one entry per leaking process, `{ label, kinds, holder, suspect,
 * native, site }`; `failure`: why there is no verdict, or null.
 */
async function verdictOf(dir, ended, neededMs, ranMs) {
  const model = await collect(dir)
  const watched = model.processes.filter((p) => p.floorsTotal > 0)
  const watchedMs = Math.max(0, ...watched.map((p) => p.lastAt - p.firstAt))
  const leaks = []
  for (const p of model.processes) {
    if (p.leaks.length === 0 && p.listenerLeaks.length === 0) continue
    leaks.push({ label: p.label, kinds: leakKinds(p), ...(await holderOf(dir, p)), native: unheldNativeOf(p), site: p.sites[0] ?? null })
  }
  const failure = failureOf(ended, watched.length, watchedMs, neededMs, ranMs)
  const exit = leaks.length > 0 ? RUN_EXIT.LEAK : failure === null ? RUN_EXIT.CLEAN : RUN_EXIT.NO_VERDICT
  return { exit, leaks, failure, watchedMs, neededMs, processes: watched.length }
}

/** Why a run without a leak has no verdict, or null when it has one. */
function failureOf(ended, watched, watchedMs, neededMs, ranMs) {
  if (ended.error !== null) return `the service could not be started: ${ended.error.message}`
  const byItself = ended.stoppedBy === null
  if (byItself && ended.signal !== null) return `the service was killed by ${ended.signal}`
  if (byItself && ended.code !== 0) return `the service exited with code ${ended.code}`
  if (ended.load !== null && ended.load.code !== 0) {
    return `the load test ${ended.load.error ? `could not be started: ${ended.load.error.message}` : ended.load.signal ? `was killed by ${ended.load.signal}` : `exited with code ${ended.load.code}`}`
  }
  if (watched === 0) return `no process of the service was watched in ${seconds(ranMs)} (not a Node process, or leakproof could not start in it: its stderr says why)`
  if (watchedMs < neededMs) return `the service was watched for ${seconds(watchedMs)}; the watcher judges after warm-up and the shortest trend, ${seconds(neededMs)}: run the load longer`
  return null
}

/** `heap grew 1.2 MB/s`, per leak kind of a process, the fastest of each kind; listener leaks counted. */
function leakKinds(p) {
  const fastest = new Map()
  for (const leak of p.leaks) {
    if (!fastest.has(leak.kind) || leak.slopeBytesPerSec > fastest.get(leak.kind)) fastest.set(leak.kind, leak.slopeBytesPerSec)
  }
  const kinds = [...fastest].map(([kind, slope]) => `${kind} grew ${bytesText(slope ?? 0)}/s`)
  if (p.listenerLeaks.length > 0) kinds.push(`listeners kept being added (${p.listenerLeaks.map((l) => `${l.event} on ${l.emitter} at ${l.site}`).join('; ')})`)
  return kinds
}

/**
 * What holds a process's leak (`{ holder, suspect }`, see `holderOfReport`): from its reports
 * (`holderOfReports`), else from the newest snapshot pair it left (the service stopped before
 * the report), else nulls.
 */
async function holderOf(dir, p) {
  const found = holderOfReports(p.reports)
  if (found !== null) return found
  const followUp = p.snapshots.findLast((s) => s.role === 'follow-up' && s.name !== null)
  const baseline = followUp && p.snapshots.findLast((s) => s.role === 'baseline' && s.name !== null && s.time <= followUp.time)
  if (!baseline) return { holder: null, suspect: null }
  try {
    const diff = await diffSnapshots(path.join(dir, baseline.name), path.join(dir, followUp.name), { top: 5 })
    return holderOfReport({
      grownCollections: diff.grownCollections.map((c) => ({ ...c, holder: c.holder?.description ?? null })),
      suspects: diff.suspects.map((s) => ({ ...s, holder: s.holder?.description ?? null })),
    })
  } catch {
    return { holder: null, suspect: null }
  }
}

/**
 * `{ holder, suspect }` of a process's reports of the MODEL (oldest first): its newest pair's
 * report that names one, else its newest diagnosis that does, else null. A pair confirms a
 * census with what the new objects retain, so a census taken after it (for the leak growing
 * worse) does not displace it.
 */
function holderOfReports(reports) {
  for (const report of rankReports(reports)) {
    const found = holderOfReport(report)
    if (found.holder !== null || found.suspect !== null) return found
  }
  return null
}

/**
 * `{ holder, suspect }` of a report of the MODEL (or of a diff, holders as descriptions), as
 * text. `holder`: the first grown collection with a holder, what it holds and its native
 * memory (`feeds (Map), a module-level variable of /srv/app.js: 50 → 150 Gzip, +27.1 MB
 * native (zlib)`); without one, the census' first suspect, itself a collection that grew
 * between the passes (`streams (Array), a module-level variable of /srv/app.js: 295 → 333
 * Gzip over Zlib handles`). `suspect`: a pair's first suspect with a holder (`8,880 new
 * Object retaining 1.9 MB, held by …`).
 */
function holderOfReport(report) {
  const collection = report.grownCollections.find((c) => c.holder)
  const suspect = report.suspects.find((s) => s.holder)
  if (!collection && suspect && isCensusSuspect(suspect)) return { holder: censusSuspectText(suspect), suspect: null }
  return {
    holder: collection ? `${collection.holder}${grownText(collection, collection.memberClass ?? 'entries')}${nativeMemoryText(collection, bytesText)}` : null,
    suspect: suspect ? suspectText(suspect) : null,
  }
}

/** Whether a suspect is the census' (a collection counted before and after), not a pair's new objects. */
function isCensusSuspect(s) {
  return !Number.isFinite(s.count) && Number.isFinite(s.before)
}

/** A census suspect as text: the collection, its entries before and after, their handles. */
function censusSuspectText(s) {
  return `${s.holder}${grownText(s, s.name)}${s.memberHandle ? ` over ${s.memberHandle} handles` : ''}`
}

/** A suspect with a holder as text (see `holderOfReport`). */
function suspectText(s) {
  if (isCensusSuspect(s)) return censusSuspectText(s)
  const retaining = Number.isFinite(s.retainedSize) ? ` retaining ${bytesText(s.retainedSize)}` : ''
  return `${Number.isFinite(s.count) ? `${countText(s.count)} new ` : ''}${s.name}${retaining}, held by ${s.holder}`
}

/** `: 50 → 150 Gzip`, the entries of a collection that grew (`what` they are), or `''` if not known. */
function grownText({ before, after }, what) {
  return Number.isFinite(before) && Number.isFinite(after) ? `: ${countText(before)} → ${countText(after)} ${what}` : ''
}

/** The verdict of a native leak's report when JS objects were not seen to hold it (native-verdict.js). */
const NO_JS_HOLDER = 'no JS object holds it'

/**
 * A process's native leak that no JS object holds, from its newest report with a native
 * verdict: `{ verdict, explanation, next }` (`next`: the first step to run, `{ what, command }`,
 * or null); null when JS objects hold it or no report judged one.
 */
function unheldNativeOf(p) {
  const native = p.reports.findLast((r) => r.native)?.native
  if (native?.verdict !== NO_JS_HOLDER) return null
  return { verdict: native.verdict, explanation: native.explanation, next: native.next[0] ?? null }
}

/** `12,345`. */
function countText(n) {
  return n.toLocaleString('en-US')
}

/** The verdict as the lines a CI log shows. */
function verdictLines(command, verdict) {
  const lines = []
  for (const leak of verdict.leaks) {
    lines.push(`leakproof run: LEAK in ${leak.label}: ${leak.kinds.join(', ')}`)
    if (leak.holder) lines.push(`  grown collection: ${leak.holder}`)
    if (leak.suspect) lines.push(`  new objects: ${leak.suspect}`)
    if (leak.native) {
      lines.push(`  native memory: ${leak.native.verdict}.${leak.native.explanation ? ` ${leak.native.explanation}` : ''}`)
      const next = leak.native.next
      if (next) lines.push(`  run next${next.what ? `, ${next.what}` : ''}:`, `    ${next.command}`)
    }
    if (leak.site) lines.push(`  allocation site that grew most: ${placeText(leak.site)} (+${bytesText(leak.site.growthBytes ?? 0)})`)
    if (!leak.holder && !leak.suspect && !leak.native) lines.push('  no holder: the service stopped before a snapshot pair was written (run the load longer)')
  }
  if (verdict.failure !== null) lines.push(`leakproof run: no verdict${verdict.leaks.length > 0 ? ' beside the leak' : ''}: ${verdict.failure}`)
  if (verdict.exit === RUN_EXIT.CLEAN) {
    lines.push(`leakproof run: no leak in ${command.join(' ')} (${verdict.processes === 1 ? '1 process' : `${verdict.processes} processes`}, watched for ${seconds(verdict.watchedMs)})`)
  }
  return lines
}

/** `12 s`. */
function seconds(ms) {
  return `${Math.round(ms / 1000)} s`
}

module.exports = { runService, RUN_EXIT, RUN_SETTINGS, DEFAULT_GRACE_MS, holderOfReport, holderOfReports, unheldNativeOf, verdictLines }
