'use strict'

/**
 * `node scripts/binding-types.js` (part of `npm run lint`): the checked-in binding.d.ts is what
 * the build generates from the Rust. binding.d.ts types everything that crosses between Rust
 * and JS (`nativeBinding()`, and the public types built on it), so a field renamed in Rust
 * must show up there, in git, where tsc and reviewers see it.
 *
 * `napi build` (npm install's `prepare`, `npm run build`) writes binding.d.ts over the
 * checked-in file, so the working copy alone proves nothing. Instead:
 * 1. the last build must be newer than every Rust source, Cargo.toml and Cargo.lock (else:
 *    run `npm run build`);
 * 2. its types are rendered afresh, by the napi CLI's own `generateTypeDef`, from the
 *    intermediate type definitions napi-derive wrote while compiling (target/napi-rs/), with
 *    the options the build uses;
 * 3. that text must equal binding.d.ts as git has it (the index: staged counts as checked
 *    in), and the working copy (not edited by hand since).
 * No compiling: about half a second. Prints what differs and how to fix it; exits 1 then.
 */
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { generateTypeDef } = require('@napi-rs/cli')

const ROOT = path.join(__dirname, '..')
const DTS = 'binding.d.ts'
const manifest = require('../package.json')

/** The crate's name, from Cargo.toml's `[package]`. */
function crateName() {
  const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8')
  return /^\[package\][^[]*?^name\s*=\s*"([^"]+)"/ms.exec(cargo)[1]
}

/** Every file the generated types depend on: the Rust sources, build.rs and Cargo's manifests. */
function rustInputs() {
  const sources = fs.readdirSync(path.join(ROOT, 'src'), { recursive: true }).filter((f) => f.endsWith('.rs')).map((f) => path.join('src', f))
  return [...sources, 'build.rs', 'Cargo.toml', 'Cargo.lock'].filter((f) => fs.existsSync(path.join(ROOT, f)))
}

/** The intermediate type-def file of the newest build, `{ dir, mtimeMs }`, or null. */
function newestTypeDefs(crate) {
  const napiDir = path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target'), 'napi-rs')
  if (!fs.existsSync(napiDir)) return null
  let newest = null
  for (const entry of fs.readdirSync(napiDir)) {
    const file = path.join(napiDir, entry, crate)
    if (!entry.startsWith(`${crate}-`) || !fs.existsSync(file)) continue
    const { mtimeMs } = fs.statSync(file)
    if (newest === null || mtimeMs > newest.mtimeMs) newest = { dir: path.join(napiDir, entry), mtimeMs }
  }
  return newest
}

/** binding.d.ts as git has it in the index, or null when it is not tracked. */
function checkedIn() {
  try {
    return execFileSync('git', ['show', `:${DTS}`], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 })
  } catch {
    return null
  }
}

/** The first line where `a` and `b` differ, 1-based, with both texts of it. */
function firstDifference(a, b) {
  const [x, y] = [a.split('\n'), b.split('\n')]
  const i = x.findIndex((line, n) => line !== y[n])
  const at = i === -1 ? x.length : i
  return `line ${at + 1}: ${JSON.stringify(x[at] ?? '(end)')} / ${JSON.stringify(y[at] ?? '(end)')}`
}

async function main() {
  const crate = crateName()
  const built = newestTypeDefs(crate)
  if (built === null) return [`no build's type definitions under target/napi-rs/: run \`npm run build\``]
  const stale = rustInputs().filter((f) => fs.statSync(path.join(ROOT, f)).mtimeMs > built.mtimeMs)
  if (stale.length > 0) return [`the addon was built before ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ` and ${stale.length - 3} more` : ''} changed: run \`npm run build\``]
  const napi = manifest.napi ?? {}
  const { dts } = await generateTypeDef({
    typeDefDir: built.dir,
    cwd: ROOT,
    configDtsHeader: napi.dtsHeader,
    configDtsHeaderFile: napi.dtsHeaderFile,
    constEnum: napi.constEnum,
    runtimeStringEnum: napi.runtimeStringEnum,
    declareBindingTarget: false, // --no-js: no loader's `binding` declaration
  })
  const problems = []
  const tracked = checkedIn()
  if (tracked === null) problems.push(`${DTS} is not checked in: \`git add ${DTS}\``)
  else if (tracked !== dts) problems.push(`${DTS} in git differs from what the build generates (${firstDifference(tracked, dts)}): the seam changed; review \`git diff ${DTS}\` and commit it`)
  const working = fs.existsSync(path.join(ROOT, DTS)) ? fs.readFileSync(path.join(ROOT, DTS), 'utf8') : ''
  if (working !== dts) problems.push(`${DTS} differs from what the build generates (${firstDifference(working, dts)}): it is generated, not edited; run \`npm run build\``)
  return problems
}

main().then(
  (problems) => {
    for (const problem of problems) console.error(`binding-types: ${problem}`)
    process.exitCode = problems.length > 0 ? 1 : 0
  },
  (err) => {
    console.error(`binding-types: ${err.stack}`)
    process.exitCode = 1
  },
)
