#!/usr/bin/env node
'use strict'

/**
 * `leakproof analyze FILE` and `leakproof diff BEFORE AFTER [LATER]`: the heap-snapshot
 * analyzer from a shell. Readable report on stdout (`--json` for machines), progress on stderr
 * for big files. `leakproof attach PID` (lib/attach/command.js): leakproof loaded into a running
 * process. `leakproof mcp` (lib/mcp/command.js): a Model Context Protocol server for coding
 * agents. `leakproof report DIR [DIR...] [-o FILE]`: the HTML report page of a watcher's
 * directory, or of several with their instances grouped by holder; prints the page's path.
 * `leakproof sites PATH`: the allocation sites of a saved sampling heap profile. Every command's
 * exit codes are lib/shared/exit-codes.js's table, which `--help` prints.
 */
const fs = require('node:fs')
const path = require('node:path')
const { analyzeSnapshot, diffSnapshots, DEFAULT_TOP, MATCHING } = require('../lib/diagnose/analyze')
const { analyzeText, diffText } = require('../lib/diagnose/report-text')
const { CODES } = require('../lib/shared/errors')
const { writeReportPage } = require('../lib/page')
const { runService, RUN_EXIT, DEFAULT_GRACE_MS } = require('../lib/leak-test/run')
const { readHeapProfile, rankProfile } = require('../lib/sites/heap-profiles')
const { bytesText } = require('../lib/shared/bytes-text')
const { placeText } = require('../lib/shared/place-text')
const { attachCommand, USAGE: ATTACH_USAGE } = require('../lib/attach/command')
const { mcpCommand, USAGE: MCP_USAGE } = require('../lib/mcp/command')
const { exitCodesOf, exitCodesHelp, FILE_COMMANDS } = require('../lib/shared/exit-codes')

/** The exit codes of the commands that read files, and of a command line before its command is known. */
const EXIT = exitCodesOf(...FILE_COMMANDS)

const USAGE = `Usage:
  leakproof analyze FILE [--top N] [--json]
      Classes by retained size and the largest objects with their retainer paths.
  leakproof diff BEFORE AFTER [LATER] [--top N] [--match ids|paths|auto] [--json]
      What AFTER holds that BEFORE did not, the collections that grew, and what holds them.
      With LATER: allocated between BEFORE and AFTER and still alive in LATER.
      Matched by node id, or by retainer path for snapshots of different processes.
  leakproof report DIR [DIR...] [-o FILE]
      One HTML page (opens offline) with the memory timeline, the leaks and their suspects,
      from what the watcher left in DIR. Written to FILE (default DIR/leakproof-report.html).
      Of several DIRs (pods' volumes, hosts' copies; -o FILE required), and of a DIR with
      several processes, the page opens with the fleet: the instances that leak, grouped
      by what holds the leak, and those that do not.
  leakproof sites PATH [--top N] [--json]
      The allocation sites of a sampling heap profile by live sampled bytes: PATH is a
      .heapprofile (the watcher's, or one DevTools saved) or a directory (its newest).
  leakproof run [--load CMD] [--dir DIR] [--grace-ms N] -- COMMAND [ARGS...]
      Runs a service (node app.js, npm start) under the watcher with test-time settings
      while your load test drives it. When the service exits, the --load command ends, or
      at SIGINT or SIGTERM (passed on to it), prints the verdict with what holds a leak,
      writes the report page, and exits with 0 (no leak), 1 (a leak) or 4 (no verdict).
      LEAKPROOF_* variables you set win over its settings.
${ATTACH_USAGE}
${MCP_USAGE}

Options:
  --top N    how many classes, objects, suspects, collections or sites to list (default 10)
  --match M  diff: ids, paths, or auto (default: ids when they name the same objects)
  --json     print the full result as JSON
  --quiet    no progress on stderr
  -o FILE    report: where to write the page (required with several directories)
  --load CMD  run: the load test, a shell command started beside the service; its end ends the run
  --dir DIR  run: an empty (or new) directory for the run (default ./leakproof-run-XXXXXX)
  --grace-ms N  run: how long the service has to exit after the signal, before SIGKILL (30000)
  --help     this text

${exitCodesHelp()}`

/** Files at least this big get progress lines on stderr. */
const PROGRESS_FROM_BYTES = 32 * 1024 * 1024

/** A command line that cannot be run: reported with the usage, and `EXIT.USAGE`. */
class UsageError extends Error {}

/** `{ command, files, top, match, json, quiet, help, out }` from the arguments; throws a UsageError. */
function parseArgs(argv) {
  const args = { command: undefined, files: [], top: DEFAULT_TOP, match: undefined, json: false, quiet: false, help: false, out: undefined }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') args.json = true
    else if (arg === '--quiet') args.quiet = true
    else if (arg === '--help' || arg === '-h') args.help = true
    else if (arg === '--top' || arg.startsWith('--top=')) {
      const value = arg === '--top' ? argv[++i] : arg.slice('--top='.length)
      const top = Number(value)
      if (!Number.isSafeInteger(top) || top <= 0) {
        throw new UsageError(`--top needs a positive integer, got ${JSON.stringify(value ?? '')}`)
      }
      args.top = top
    } else if (arg === '--match' || arg.startsWith('--match=')) {
      args.match = arg === '--match' ? argv[++i] : arg.slice('--match='.length)
      if (!MATCHING.includes(args.match)) {
        throw new UsageError(`--match needs one of ${MATCHING.join(', ')}, got ${JSON.stringify(args.match ?? '')}`)
      }
    } else if (arg === '-o' || arg === '--out') {
      args.out = argv[++i]
      if (!args.out) throw new UsageError(`${arg} needs a file name`)
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`)
    else if (args.command === undefined) args.command = arg
    else args.files.push(arg)
  }
  if (args.help) return args
  checkCommand(args)
  return args
}

/** Throws a UsageError when the command or its number of files is wrong. */
function checkCommand(args) {
  if (args.out !== undefined && args.command !== 'report') throw new UsageError('-o is only for report')
  if (args.match !== undefined && args.command !== 'diff') throw new UsageError('--match is only for diff')
  if (args.command === 'report') {
    if (args.files.length === 0) throw new UsageError('report takes one directory, or more')
    const distinct = new Set(args.files.map((dir) => path.resolve(dir))).size
    if (distinct > 1 && args.out === undefined) throw new UsageError(`report of ${distinct} directories needs -o FILE: the page is of them all, and none of them is its place`)
  } else if (args.command === 'sites') {
    if (args.files.length !== 1) throw new UsageError('sites takes one .heapprofile file or directory')
  } else if (args.command === 'analyze') {
    if (args.files.length !== 1) throw new UsageError('analyze takes one snapshot file')
  } else if (args.command === 'diff') {
    if (args.files.length < 2 || args.files.length > 3) {
      throw new UsageError('diff takes two or three snapshot files')
    }
  } else if (args.command === undefined) {
    throw new UsageError('no command given')
  } else {
    throw new UsageError(`unknown command ${JSON.stringify(args.command)}`)
  }
}

/** A progress callback writing to stderr, or undefined when the files are small or --quiet. */
function progressReporter(args) {
  if (args.quiet) return undefined
  const big = args.files.some((f) => {
    try {
      return fs.statSync(f).size >= PROGRESS_FROM_BYTES
    } catch {
      return false
    }
  })
  if (!big) return undefined
  const tty = process.stderr.isTTY
  let lastLine = ''
  const reporter = (p) => {
    const file = path.basename(args.files[p.snapshot] ?? '')
    let line
    if (p.phase === 'parse') {
      const pct = Math.floor((100 * p.done) / Math.max(1, p.total))
      // Without a terminal, one line per quarter.
      line = `${file}: reading ${tty ? pct : Math.floor(pct / 25) * 25}%`
    } else {
      line = `${file}: ${p.phase}`
    }
    if (line === lastLine) return
    lastLine = line
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`)
  }
  reporter.finish = () => {
    if (tty && lastLine) process.stderr.write('\r\x1b[K')
  }
  return reporter
}

/**
 * `leakproof report DIR [DIR...] [-o FILE]`: writes the page, prints its path on stdout and
 * the MODEL's notes on stderr. A directory that cannot be read, or a page that cannot be
 * written, is `EXIT.UNREADABLE`.
 */
async function runReport(args) {
  let result
  try {
    result = await writeReportPage(args.files, args.out === undefined ? {} : { out: args.out })
  } catch (err) {
    const coded = typeof err.code === 'string' && Object.values(CODES).includes(err.code)
    if (!coded && err.syscall === undefined) throw err
    process.stderr.write(`leakproof: report: ${err.message}${coded ? ` [${err.code}]` : ''}\n`)
    return EXIT.UNREADABLE.code
  }
  for (const note of result.notes) process.stderr.write(`leakproof: ${note}\n`)
  process.stdout.write(`${result.path}\n`)
  return EXIT.OK.code
}

/**
 * `leakproof sites PATH`: the ranking of a saved sampling profile on stdout (`--json`: as
 * JSON, `{ file, sites }`). A profile that cannot be read is `EXIT.UNREADABLE`.
 */
async function runSites(args) {
  let read
  try {
    read = await readHeapProfile(args.files[0])
  } catch (err) {
    if (err.code !== CODES.PROFILE_UNREADABLE) throw err
    process.stderr.write(`leakproof: sites: ${err.message} [${err.code}]\n`)
    return EXIT.UNREADABLE.code
  }
  const sites = rankProfile(read.profile, args.top)
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ file: read.file, sites }, null, 2)}\n`)
    return EXIT.OK.code
  }
  const lines = [`${read.file}: allocation sites by live sampled bytes, the application's and its packages' first`]
  if (sites.length === 0) lines.push('  none: nothing sampled is alive')
  sites.forEach((site, i) => lines.push(`${String(i + 1).padStart(3)}. ${bytesText(site.liveBytes).padStart(9)}  ${placeText(site)}`))
  process.stdout.write(`${lines.join('\n')}\n`)
  return EXIT.OK.code
}

/**
 * `{ dir, load, graceMs, command }` of `leakproof run`: its options, then the service's command
 * after `--` (or from the first argument that is not an option); throws a UsageError.
 */
function parseRunArgs(argv) {
  const args = { dir: undefined, load: undefined, graceMs: DEFAULT_GRACE_MS, command: [] }
  let i = 0
  for (; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      i++
      break
    }
    if (arg === '--dir') {
      args.dir = argv[++i]
      if (!args.dir) throw new UsageError('--dir needs a directory')
    } else if (arg === '--load') {
      args.load = argv[++i]
      if (!args.load) throw new UsageError('--load needs a command')
    } else if (arg === '--grace-ms') {
      const value = argv[++i]
      args.graceMs = Number(value)
      if (!Number.isSafeInteger(args.graceMs) || args.graceMs < 0) throw new UsageError(`--grace-ms needs a whole number of ms, got ${JSON.stringify(value ?? '')}`)
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option of run ${arg}`)
    else break
  }
  args.command = argv.slice(i)
  if (args.command.length === 0) throw new UsageError('run needs the command of the service, after --')
  return args
}

/** `leakproof run`: the service under the watcher; resolves with RUN_EXIT's code. */
async function runCommand(argv) {
  if (argv.includes('--help') && !argv.includes('--')) {
    process.stdout.write(`${USAGE}\n`)
    return EXIT.OK.code
  }
  const args = parseRunArgs(argv)
  try {
    return (await runService(args)).exitCode
  } catch (err) {
    if (err.code !== CODES.INVALID_OPTION && err.syscall === undefined) throw err
    process.stderr.write(`leakproof run: ${err.message}\n`)
    return (err.syscall === undefined ? RUN_EXIT.USAGE : RUN_EXIT.NO_VERDICT).code
  }
}

/** Runs the command line; resolves with the exit code. */
async function main(argv) {
  let args
  try {
    if (argv[0] === 'run') return await runCommand(argv.slice(1))
    if (argv[0] === 'attach') return await attachCommand(argv.slice(1))
    if (argv[0] === 'mcp') return await mcpCommand(argv.slice(1))
    args = parseArgs(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`leakproof: ${err.message}\n\n${USAGE}\n`)
    return EXIT.USAGE.code
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return EXIT.OK.code
  }
  if (args.command === 'report') return runReport(args)
  if (args.command === 'sites') return runSites(args)
  const onProgress = progressReporter(args)
  const options = { top: args.top }
  if (onProgress) options.onProgress = onProgress
  let result
  try {
    if (args.command === 'analyze') {
      result = await analyzeSnapshot(args.files[0], options)
    } else {
      if (args.files[2] !== undefined) options.stillAliveIn = args.files[2]
      if (args.match !== undefined) options.match = args.match
      result = await diffSnapshots(args.files[0], args.files[1], options)
    }
  } catch (err) {
    onProgress?.finish()
    if (typeof err.code !== 'string' || !Object.values(CODES).includes(err.code)) throw err
    process.stderr.write(`leakproof: ${err.message} [${err.code}]\n`)
    return (err.code === CODES.NATIVE_UNAVAILABLE ? EXIT.NATIVE_UNAVAILABLE : EXIT.UNREADABLE).code
  }
  onProgress?.finish()
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  else if (args.command === 'analyze') process.stdout.write(`${analyzeText(args.files[0], result, args.top)}\n`)
  else process.stdout.write(`${diffText(args.files, result, args.top)}\n`)
  return EXIT.OK.code
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    process.stderr.write(`leakproof: internal error: ${err.stack}\n`)
    process.exitCode = EXIT.INTERNAL.code
  },
)
