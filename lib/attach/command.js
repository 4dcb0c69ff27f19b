'use strict'

/**
 * `leakproof attach PID [COMMAND] [options]` from a shell: its arguments, its output in words
 * (or `--json`), and its exit codes (`ATTACH_EXIT`, from lib/shared/exit-codes.js).
 */
const path = require('node:path')
const errors = require('../shared/errors')
const { configFromEnv } = require('../watch/env-config')
const { writeReportPage } = require('../page')
const { bytesText } = require('../shared/bytes-text')
const { placeText } = require('../shared/place-text')
const { censusHolderText } = require('../diagnose/report-text')
const { attach } = require('./attach')
const { defaultDir, checkSocketPath, sendCommand, reachable } = require('./control')
const { exitCodesOf } = require('../shared/exit-codes')

/** The exit codes of `leakproof attach` by name, each with what it means (the table's, lib/shared/exit-codes.js). */
const ATTACH_EXIT = exitCodesOf('attach')

/** The codes of a refused attach: the process was left as it was. */
const REFUSALS = new Set([
  errors.CODES.ATTACH_NO_PROCESS,
  errors.CODES.ATTACH_NOT_NODE,
  errors.CODES.ATTACH_OTHER_USER,
  errors.CODES.ATTACH_NO_INSPECTOR,
  errors.CODES.ATTACH_INSPECTOR_IN_USE,
  errors.CODES.ATTACH_UNSUPPORTED,
  errors.CODES.ALREADY_ATTACHED,
  errors.CODES.ALREADY_WATCHING,
])

/** The sub-commands, each with the longest it may take (`seconds` of sampling on top). */
const COMMANDS = { status: 10_000, census: 120_000, snapshot: 600_000, sites: 30_000, report: 0, detach: 10_000 }

/** Seconds `--census-only` and `sites` sample for, unless `--seconds` says. */
const DEFAULT_SECONDS = 10
/** The most `--seconds` may be: the sampling runs in a process in production. */
const MAX_SECONDS = 600

const USAGE = `  leakproof attach PID [--dir DIR] [--census-only [--seconds N]] [--json]
      Loads leakproof into a running Node process started without it (Linux): opens its
      inspector on 127.0.0.1 for the attach only, starts the watcher with the LEAKPROOF_*
      variables set in this command's environment (as the preload reads them), and closes the
      inspector again. Its events go to DIR/leakproof-events.jsonl (default DIR:
      ${path.join('$TMPDIR', 'leakproof-attach-PID')}). --census-only: no watcher; one census of
      collections and N seconds (default ${DEFAULT_SECONDS}) of allocation sampling, what grew,
      then it detaches.
  leakproof attach PID status|census|snapshot|sites|report|detach [--dir DIR] [--seconds N] [--json]
      On an attached process: the watcher's status; a census of collections now (what grew
      since the last one, or the largest); a heap snapshot (by a forked child on Linux); the
      allocation sites that grow over N seconds; the report page of DIR; detach (stops all
      it started).`

/** A command line that cannot be run. */
class AttachUsageError extends Error {}

/** `{ pid, command, dir, censusOnly, seconds, json }` from `argv`; throws an AttachUsageError. */
function parseAttachArgs(argv) {
  const args = { pid: undefined, command: undefined, dir: undefined, censusOnly: false, seconds: DEFAULT_SECONDS, json: false, out: undefined }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') args.json = true
    else if (arg === '--census-only') args.censusOnly = true
    else if (arg === '--dir') {
      args.dir = argv[++i]
      if (!args.dir) throw new AttachUsageError('--dir needs a directory')
    } else if (arg === '-o' || arg === '--out') {
      args.out = argv[++i]
      if (!args.out) throw new AttachUsageError(`${arg} needs a file name`)
    } else if (arg === '--seconds') {
      const value = argv[++i]
      args.seconds = Number(value)
      if (!(args.seconds > 0 && args.seconds <= MAX_SECONDS)) throw new AttachUsageError(`--seconds needs a number of seconds from 1 to ${MAX_SECONDS}, got ${JSON.stringify(value ?? '')}`)
    } else if (arg.startsWith('-')) throw new AttachUsageError(`unknown option of attach ${arg}`)
    else if (args.pid === undefined) {
      if (!/^[1-9]\d{0,9}$/.test(arg)) throw new AttachUsageError(`attach needs a process id, got ${JSON.stringify(arg)}`)
      args.pid = Number(arg)
    } else if (args.command === undefined) {
      if (!(arg in COMMANDS)) throw new AttachUsageError(`unknown attach command ${JSON.stringify(arg)}; one of ${Object.keys(COMMANDS).join(', ')}`)
      args.command = arg
    } else throw new AttachUsageError(`unexpected argument ${JSON.stringify(arg)}`)
  }
  if (args.pid === undefined) throw new AttachUsageError('attach needs a process id')
  if (args.censusOnly && args.command !== undefined) throw new AttachUsageError('--census-only attaches: it takes no command')
  if (args.out !== undefined && args.command !== 'report') throw new AttachUsageError('-o is only for report')
  args.dir = path.resolve(args.dir ?? process.env.LEAKPROOF_DIR ?? defaultDir(args.pid))
  return args
}

/**
 * The LEAKPROOF_* settings of this command's environment for the watcher, checked as the
 * preload checks them; where it would ignore one, this refuses (exit 2) before anything is
 * sent. LEAKPROOF_DIR is `--dir`'s default and LEAKPROOF_LOG is the directory's log.
 */
function watcherEnv(env) {
  const settings = Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('LEAKPROOF_') && name !== 'LEAKPROOF_DIR' && name !== 'LEAKPROOF_LOG'))
  const { problems } = configFromEnv(settings)
  // The preload's words, less its fallback: here a bad value refuses the attach.
  if (problems.length > 0) throw new AttachUsageError(`${problems.map((p) => p.replace(/^ignoring /, '').replace(/; using the default.*$/, '')).join('; ')}; nothing was sent to the process`)
  return settings
}

/** `leakproof attach …`; resolves with ATTACH_EXIT's code. */
async function attachCommand(argv, { stdout = process.stdout, stderr = process.stderr, env = process.env } = {}) {
  let args
  let settings
  try {
    args = parseAttachArgs(argv)
    settings = args.command === undefined && !args.censusOnly ? watcherEnv(env) : {}
    if (args.command === undefined) checkSocketPath(args.dir, args.pid)
  } catch (err) {
    if (!(err instanceof AttachUsageError) && err.code !== errors.CODES.INVALID_OPTION) throw err
    const message = err instanceof AttachUsageError ? `attach: ${err.message}` : err.message
    stderr.write(`leakproof ${message}\n(leakproof --help has its usage)\n`)
    return ATTACH_EXIT.USAGE.code
  }
  const print = (result, text) => stdout.write(`${args.json ? JSON.stringify(result, null, 2) : text(result)}\n`)
  try {
    if (args.command === 'report') {
      print(await writeReportPage(reachable(args.dir, args.pid, () => true) ?? args.dir, args.out === undefined ? {} : { out: args.out }), (r) => r.path)
    } else if (args.command !== undefined) {
      const result = await sendCommand({ pid: args.pid, dir: args.dir, command: args.command, seconds: args.seconds, timeoutMs: COMMANDS[args.command] + args.seconds * 1000 })
      print(result, (r) => TEXT[args.command](r, args))
    } else {
      const attached = await attach(args.pid, { dir: args.dir, env: settings, censusOnly: args.censusOnly })
      if (!args.censusOnly) print(attached, attachedText)
      else print({ attached, ...(await censusOnly(args)) }, (r) => `${attachedText(r.attached)}\n${censusOnlyText(r)}`)
    }
    return ATTACH_EXIT.OK.code
  } catch (err) {
    if (typeof err.code !== 'string' || !err.code.startsWith('ERR_LEAKPROOF_')) {
      if (err.syscall === undefined) throw err
    }
    stderr.write(`leakproof ${err.message}${err.code ? ` [${err.code}]` : ''}\n`)
    if (REFUSALS.has(err.code)) return ATTACH_EXIT.REFUSED.code
    return err.code === errors.CODES.NOT_ATTACHED ? ATTACH_EXIT.NOT_ATTACHED.code : ATTACH_EXIT.FAILED.code
  }
}

/** The census-only run on a fresh attach, detached afterwards whatever happened. */
async function censusOnly(args) {
  const request = { pid: args.pid, dir: args.dir }
  try {
    const found = await sendCommand({ ...request, command: 'census-only', seconds: args.seconds, timeoutMs: COMMANDS.census * 2 + args.seconds * 1000 })
    return { ...found, detached: await sendCommand({ ...request, command: 'detach', timeoutMs: COMMANDS.detach }) }
  } catch (err) {
    await sendCommand({ ...request, command: 'detach', timeoutMs: COMMANDS.detach }).catch(() => {})
    throw err
  }
}

/** What an attach did, in words. */
function attachedText({ started, inspectorOpenMs, tookMs }) {
  const lines = [`attached to process ${started.pid} (Node ${started.node}) in ${tookMs} ms; its inspector was open ${inspectorOpenMs} ms and now refuses connections`]
  if (started.watching) {
    const o = started.options
    lines.push(`watching: a floor every ${o.intervalMs / 1000} s, warm-up ${o.warmupMs / 1000} s; events in ${started.log}`)
    lines.push(`next: leakproof attach ${started.pid} status | census | snapshot | sites | report | detach${started.dir === defaultDir(started.pid) ? '' : ` --dir ${started.dir}`}`)
  }
  return lines.join('\n')
}

/** A census result in words: what grew since the last pass, or the largest collections. */
function censusText(r) {
  const head = `census: ${r.collections} collections in ${r.durationMs} ms${r.complete ? '' : ' (incomplete: the limits stopped it)'}`
  if (r.grown === null) return [`${head}; the largest (run census again later to see what grows):`, ...r.largest.map(censusHolderText)].join('\n')
  const seconds = Math.round((r.time - r.since) / 1000)
  return [`${head}; grown over the last ${seconds} s:`, ...(r.grown.length === 0 ? ['  none'] : r.grown.map(censusHolderText))].join('\n')
}

/** Allocation sites in words. */
function sitesText({ sites, seconds }) {
  const lines = [`allocation sites whose live bytes grew over ${seconds} s of sampling:`]
  if (sites.length === 0) lines.push('  none')
  sites.forEach((s, i) => lines.push(`${String(i + 1).padStart(3)}. +${bytesText(s.growthBytes).padStart(9)}  ${placeText(s)}`))
  return lines.join('\n')
}

/** The census-only run in words. */
function censusOnlyText(r) {
  return [censusText(r.census), sitesText(r), `detached after ${Math.round(r.detached.attachedForMs / 100) / 10} s`].join('\n')
}

/** Each sub-command's result in words. */
const TEXT = {
  status: (s) => {
    const trends = s.memory.map((m) => `${m.kind} ${bytesText(m.floorBytes)}${m.slopeBytesPerSec ? ` (${bytesText(m.slopeBytesPerSec)}/s)` : ''}${m.leaking ? ' LEAKING' : ''}`)
    const leak = s.lastLeak === null ? 'none' : `${s.lastLeak.kind} at ${new Date(s.lastLeak.time).toISOString()}`
    const threads = (s.threads ?? []).map((w) => `thread ${w.threadId}${w.pool ? ` (${w.pool})` : ''} ${bytesText(w.floorBytes ?? w.heapUsed)}${w.leaking ? ' LEAKING' : ''}`)
    const lines = [`watching since ${new Date(s.attachedAt).toISOString()}; floors: ${trends.join(', ') || 'none yet'}`, `leaks reported: heap ${s.leaks.heap}, external ${s.leaks.external}, native ${s.leaks.native}; the last: ${leak}; reports: ${s.reports}`]
    if (threads.length > 0) lines.push(`worker threads: ${threads.join(', ')}`)
    return [...lines, `events: ${s.log}`].join('\n')
  },
  census: censusText,
  snapshot: (r) => (r.snapshot === null ? `snapshot ${r.id} (${r.role}) was not written: see the snapshot-skipped event in the log` : `snapshot ${r.id} (${r.role}): ${r.snapshot.path} (${bytesText(r.snapshot.bytes ?? 0)})`),
  sites: sitesText,
  detach: (r) => `detached from process ${r.pid} after ${Math.round(r.attachedForMs / 1000)} s`,
}

module.exports = { attachCommand, watcherEnv, USAGE, COMMAND_TIMEOUT_MS: COMMANDS }
