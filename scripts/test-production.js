'use strict'

/**
 * `npm run test:production [-- [--also-on 20,22,26] FILES...]`: the tests at production timings
 * (__test__/production/), each file in a runner of its own, in two phases.
 *
 * First every file but the time-compressed ones, two at a time: their services wait on the
 * wall (a leak growing for minutes, a restart's turn), each on a fraction of a core, and each
 * judges its own service's stops, which two at a time on two cores keep within bounds. The
 * longest start first (`EXPECTED_SECONDS`, measured), so that no long file is left to run on
 * its own at the end; and no two files of one of the `EXCLUSIVE` groups run together. Then
 * the time-compressed ones (`ALONE`), one at a time with nothing beside them: a service whose
 * day lasts six minutes takes a starved minute for four production hours, and a healthy one
 * then reads as a leak.
 *
 * `--also-on` adds the `EVERY_VERSION` files on those Node majors (binaries by
 * scripts/node-bin.sh) to the first phase, where they fill the gaps between the long files.
 * Given FILES (paths), runs those only. Each file's output is printed whole when it ends, and a
 * table of every file's time at the end. Exits 1 when a file failed.
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const DIR = path.join('__test__', 'production')
/** Files whose services compress time (slow-leaks.test.js: c = 10 to 250): run with nothing beside them. */
const ALONE = new Set(['slow-leaks.test.js'])
/**
 * Groups of files of which no two run at once, whatever their Node. `census`: each judges its
 * census passes' stops, which another's passes would lengthen; source-words.test.js runs fourteen
 * services at once, and beside it the threads' main loop waited 304 ms for a core (CI,
 * 2026-11-27). `saturating`: the fast-leak and urgent tests judge a minute's detection under
 * their own saturating load, which a neighbour taking a core starves (beside the restart tests'
 * load a 6 MB/s leak went unreported for 100 s: a measured failure); the restart tests drive
 * their services as hard, and the native leaks' forked snapshot writers take a core for
 * seconds, as the demo's do. The service tests run four Express services at 1,400 requests a
 * second, two of them beside worker threads, and judge their loops while forked children write
 * (they failed once in CI beside the restart tests, after passing for days beside lighter
 * files). source-words.test.js runs thirteen services under load (sixteen then): beside it
 * the fast leak's load grew the heap under 5 MiB/s (a fresh-clone run, 2026-11-28), and beside
 * it and the restart tests in turn a worker-thread service's leak was reported at a 303 MB
 * heap, while its own agent service's pair came too late (CI, 2026-11-29).
 */
const EXCLUSIVE = {
  census: new Set(['container.test.js', 'source-words.test.js', 'threads.test.js']),
  saturating: new Set(['fast-leak.test.js', 'urgent.test.js', 'restart.test.js', 'native-leaks.test.js', 'demo.test.js', 'service.test.js', 'source-words.test.js']),
}
/** The exclusive groups the file named `name` is in (none, one or more). */
const groupsOf = (name) => Object.keys(EXCLUSIVE).filter((group) => EXCLUSIVE[group].has(name))
/**
 * Files `--also-on` adds on other Node majors (issue 20: the Buffer leak; 28: the census in a
 * container). .ci/run adds them on 26, the newest V8; on 20 and 22 what can differ in them runs in
 * the versioned node files (CONTRIBUTING.md, "What each Node version runs").
 * source-words.test.js (issue 56) was run on each by hand; in CI it runs on 24 only.
 */
const EVERY_VERSION = ['external.test.js', 'container.test.js']
/** Seconds each file took on this machine kind (2 cores, a fresh-clone .ci/run on 2026-11-28 at 22:09), for the order; a file not listed counts as long. */
const EXPECTED_SECONDS = { 'demo.test.js': 43, 'attach.test.js': 54, 'service.test.js': 235, 'restart.test.js': 227, 'native-leaks.test.js': 164, 'container.test.js': 87, 'fast-leak.test.js': 181, 'urgent.test.js': 90, 'external.test.js': 70, 'run.test.js': 60, 'slow-leaks.test.js': 346, 'threads.test.js': 324, 'source-words.test.js': 315, 'fleet.test.js': 70 }
const UNKNOWN_SECONDS = 600
const TOGETHER = 2
/** The runners under way, stopped with this script. */
const children = new Set()

/** `{ versions, files }` from the command line. */
function parseArguments(args) {
  const versions = []
  const files = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--also-on') versions.push(...String(args[++i] ?? '').split(',').filter(Boolean))
    else files.push(args[i])
  }
  for (const major of versions) if (!/^\d+$/.test(major)) throw new Error(`--also-on takes Node majors like 20,22; got ${JSON.stringify(major)}`)
  return { versions, files }
}

/** A job: one file on one Node. */
function job(file, node, label) {
  const name = path.basename(file)
  return { file, node, label, name, groups: groupsOf(name), expected: EXPECTED_SECONDS[name] ?? UNKNOWN_SECONDS }
}

/**
 * Runs `jobs`, up to `width` at a time, never two files of one `EXCLUSIVE` group at once. The
 * next job is the one with the most time ahead of it: a file's own time, or, for a file in
 * groups, the longest of their times, each the time of every one of the group still waiting
 * (they cannot overlap, so they are a chain). Resolves with each job's `{ ...job, status, seconds }`.
 */
function runJobs(jobs, width) {
  const waiting = [...jobs]
  const results = []
  const busyGroups = new Set()
  let running = 0
  const chainSeconds = (group) => waiting.filter((j) => j.groups.includes(group)).reduce((sum, j) => sum + j.expected, 0)
  const priority = (j) => Math.max(j.expected, ...j.groups.map(chainSeconds))
  return new Promise((resolve) => {
    const startNext = () => {
      while (running < width) {
        const ready = waiting.filter((j) => j.groups.every((group) => !busyGroups.has(group)))
        if (ready.length === 0) break
        const next = ready.reduce((best, j) => (priority(j) > priority(best) ? j : best))
        waiting.splice(waiting.indexOf(next), 1)
        running++
        for (const group of next.groups) busyGroups.add(group)
        runOne(next).then((result) => {
          running--
          for (const group of next.groups) busyGroups.delete(group)
          results.push(result)
          startNext()
        })
      }
      if (running === 0 && waiting.length === 0) resolve(results)
    }
    startNext()
  })
}

/** Runs one job's file under Node's test runner, its output kept and printed whole at its end. */
function runOne(j) {
  const started = Date.now()
  console.log(`… ${j.file} on ${j.label} started`)
  return new Promise((resolve) => {
    const child = spawn(path.join(j.node, 'node'), ['--test', '--test-concurrency=1', j.file], { cwd: ROOT, env: { ...process.env, PATH: `${j.node}${path.delimiter}${process.env.PATH}` } })
    children.add(child)
    const output = []
    child.stdout.on('data', (chunk) => output.push(chunk))
    child.stderr.on('data', (chunk) => output.push(chunk))
    child.on('close', (code, signal) => {
      children.delete(child)
      const seconds = Math.round((Date.now() - started) / 1000)
      const status = code === 0 ? 'pass' : `fail (${signal ?? `exit ${code}`})`
      const text = Buffer.concat(output).toString()
      process.stdout.write(`== ${j.file} on ${j.label}: ${status}, ${seconds} s\n${text}\n`)
      resolve({ ...j, status, seconds, text })
    })
  })
}

async function main() {
  const { versions, files: named } = parseArguments(process.argv.slice(2))
  const files = named.length > 0 ? named : fs.readdirSync(path.join(ROOT, DIR)).filter((name) => name.endsWith('.test.js')).sort().map((name) => path.join(DIR, name))
  const jobs = files.map((file) => job(file, path.dirname(process.execPath), `Node ${process.version}`))
  for (const major of versions) {
    const bin = execFileSync('bash', [path.join(__dirname, 'node-bin.sh'), major], { encoding: 'utf8' }).trim()
    const label = `Node ${execFileSync(path.join(bin, 'node'), ['--version'], { encoding: 'utf8' }).trim()}`
    for (const name of EVERY_VERSION) jobs.push(job(path.join(DIR, name), bin, label))
  }
  const first = await runJobs(jobs.filter((j) => !ALONE.has(j.name)), TOGETHER)
  const second = await runJobs(jobs.filter((j) => ALONE.has(j.name)), 1)
  const results = [...first, ...second]
  console.log('== test:production, each file and its time (EXPECTED_SECONDS in scripts/test-production.js orders them)')
  for (const r of results) console.log(`${r.status.padEnd(4)} ${String(r.seconds).padStart(4)} s (expected ${r.expected} s)  ${r.file} on ${r.label}`)
  for (const r of results.filter((r) => r.status !== 'pass')) console.log(`== why ${r.file} on ${r.label} failed\n${whyFailed(r.text)}`)
  process.exitCode = results.every((r) => r.status === 'pass') ? 0 : 1
}

/** Lines kept of a failed file's diagnostics and of its failures, each. */
const WHY_LINES = 200

/**
 * What a failed file's output says of its failure, repeated after the table: a CI log that
 * shows only its end still shows why. Its diagnostics (`ℹ` or `#` lines), then the runner's
 * closing list of failing tests, or the output's end when it has none (a crash).
 */
function whyFailed(text) {
  const lines = text.split('\n')
  const diagnostics = lines.filter((line) => /^\s*(ℹ|#) (?!(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms|Subtest:) )/.test(line))
  const failingAt = lines.findIndex((line) => /✖ failing tests:/.test(line))
  const failures = failingAt >= 0 ? lines.slice(failingAt) : lines.filter((line) => !diagnostics.includes(line)).slice(-WHY_LINES)
  return [...diagnostics.slice(-WHY_LINES), ...failures.slice(0, WHY_LINES)].join('\n')
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of children) child.kill(signal)
    process.kill(process.pid, signal)
  })
}
main().catch((err) => {
  console.error(`test:production: ${err.message}`)
  process.exitCode = 2
})
