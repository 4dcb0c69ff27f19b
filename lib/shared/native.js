'use strict'

/**
 * Finds and loads the native addon (the Rust half), once, on first use.
 *
 * Where it looks, in order:
 * 1. `LEAKPROOF_NATIVE_PATH`, a binary built by hand: used alone when set, never skipped over;
 * 2. `leakproof.<target>.node` beside the package: the build of a repository checkout;
 * 3. the platform package `@leakproof/binding-<target>`, which npm installs from the root
 *    package's `optionalDependencies` on the platform it fits (its `os`, `cpu` and `libc`).
 *
 * When nothing fits, every function that needs the addon throws `ERR_LEAKPROOF_NATIVE_UNAVAILABLE`
 * naming the platform, the architecture, the C library, the package looked for and why each
 * place failed; the JavaScript parts of leakproof go on working.
 */
const fs = require('node:fs')
const path = require('node:path')
const { CODES, codedError } = require('./errors')

/** This package's manifest: its version, and `napi` (the binary's name, the targets built). */
const manifest = require('../../package.json')

/** The npm scope and prefix of the platform packages: `@leakproof/binding-linux-x64-gnu`. */
const PACKAGE_PREFIX = '@leakproof/binding-'

const ARCHES = { x86_64: 'x64', aarch64: 'arm64' }
const SYSTEMS = { 'unknown-linux': 'linux', 'apple-darwin': 'darwin', 'pc-windows': 'win32' }

/**
 * napi-rs's platform name of a Rust target triple: `aarch64-unknown-linux-musl` is
 * `linux-arm64-musl`, `aarch64-apple-darwin` is `darwin-arm64`.
 */
function platformName(triple) {
  const [arch, vendor, system, abi] = triple.split('-')
  const name = `${SYSTEMS[`${vendor}-${system}`]}-${ARCHES[arch]}`
  return abi === undefined ? name : `${name}-${abi}`
}

/** The targets a release builds (package.json `napi.targets`), by platform name. */
const TARGETS = new Set(manifest.napi.targets.map(platformName))

/** The environment variable naming a binary built by hand. */
const OVERRIDE_VARIABLE = 'LEAKPROOF_NATIVE_PATH'

/**
 * The C library an `ldd` script belongs to: `'musl'` (Alpine's execs the musl loader), `'gnu'`
 * (glibc's names itself), or `null` when the text says neither.
 */
function libcOfLdd(text) {
  if (text.includes('musl')) return 'musl'
  if (text.includes('GNU C Library') || text.includes('glibc')) return 'gnu'
  return null
}

/**
 * Which C library this Linux process runs on: `'gnu'` (glibc) or `'musl'`. Reads the `ldd`
 * script first (a file read), then the process report's glibc version (slower, always there).
 */
function linuxLibc() {
  try {
    const libc = libcOfLdd(fs.readFileSync('/usr/bin/ldd', 'latin1'))
    if (libc !== null) return libc
  } catch {
    // No ldd script (distroless images): ask the process report.
  }
  // `excludeNetwork` (Node 20.13+) is missing from the Node types this package is checked with.
  const report = /** @type {any} */ (process.report)
  const excludeNetwork = report.excludeNetwork
  report.excludeNetwork = true
  try {
    return report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'
  } catch {
    return 'gnu' // no report either: the common case; a wrong guess fails to load, and says so
  } finally {
    report.excludeNetwork = excludeNetwork
  }
}

/**
 * The napi-rs platform name for a platform, architecture and C library, e.g.
 * `linux-x64-musl`; `null` where no binary is built.
 */
function targetName({ platform, arch, libc }) {
  let name = `${platform}-${arch}`
  if (platform === 'linux') name += `-${libc}`
  else if (platform === 'win32') name += '-msvc'
  return TARGETS.has(name) ? name : null
}

/** This process's platform, architecture and C library (`null` off Linux). */
function hostPlatform() {
  const { platform, arch } = process
  return { platform, arch, libc: platform === 'linux' ? linuxLibc() : null }
}

/**
 * Loads a `.node` file as a native addon (never as JavaScript, whatever its name), or says in a
 * few words why it could not.
 */
function tryLoad(file, attempts) {
  if (!fs.existsSync(file)) {
    attempts.push(`${file}: not found`)
    return null
  }
  const addon = { exports: {} }
  try {
    process.dlopen(addon, file)
  } catch (err) {
    attempts.push(`${file}: ${err.message.split('\n')[0]}`)
    return null
  }
  if (typeof addon.exports.systemMemory !== 'function') {
    attempts.push(`${file}: not leakproof's addon`)
    return null
  }
  return addon.exports
}

/** Loads the platform package's binary if it is installed and of this package's version. */
function tryPackage(packageName, attempts) {
  let installed
  try {
    installed = require.resolve(`${packageName}/package.json`)
  } catch {
    attempts.push(`${packageName}: not installed (npm leaves an optional dependency out with --omit=optional, or when it cannot get it: leakproof installed from a tarball or a registry without ${packageName} beside it)`)
    return null
  }
  const { version, main } = JSON.parse(fs.readFileSync(installed, 'utf8'))
  if (version !== manifest.version) {
    attempts.push(`${packageName}: version ${version} installed, leakproof ${manifest.version} needs the same version`)
    return null
  }
  return tryLoad(path.join(path.dirname(installed), main), attempts)
}

/** Looks in the three places in order; returns `{ binding }` or `{ host, packageName, attempts }`. */
function locate() {
  const attempts = []
  const override = process.env[OVERRIDE_VARIABLE]
  const host = hostPlatform()
  const target = targetName(host)
  const packageName = target === null ? null : PACKAGE_PREFIX + target
  if (override !== undefined && override !== '') {
    const binding = tryLoad(path.resolve(override), attempts)
    return binding ? { binding } : { host, packageName, attempts: [`${OVERRIDE_VARIABLE}=${attempts[0]}`] }
  }
  if (target === null) {
    attempts.push('no binary is built for this platform')
    return { host, packageName, attempts }
  }
  const binding =
    tryLoad(path.join(__dirname, '..', '..', `${manifest.napi.binaryName}.${target}.node`), attempts) ?? tryPackage(packageName, attempts)
  return binding ? { binding } : { host, packageName, attempts }
}

/** The error thrown by every function that needs the addon when it could not be loaded. */
function unavailableError({ host, packageName, attempts }) {
  const where = `${host.platform}-${host.arch}${host.libc ? ` (${host.libc === 'gnu' ? 'glibc' : host.libc})` : ''}`
  const wanted = packageName ?? `a ${PACKAGE_PREFIX}* package (none is published for ${where})`
  const err = codedError(
    Error,
    CODES.NATIVE_UNAVAILABLE,
    `no native addon for ${where}: looked for ${wanted} (${attempts.join('; ')}). ` +
      'BoundedMap, RingBuffer, listener tracking and liveSites() work without it.',
  )
  Object.assign(err, { platform: host.platform, arch: host.arch, libc: host.libc, packageName, attempts })
  return err
}

let located

/**
 * The native binding; throws `ERR_LEAKPROOF_NATIVE_UNAVAILABLE` (a new error each call) when
 * no usable binary was found. The search runs once per thread. Typed by the binding.d.ts the
 * build generates from the Rust (checked in, and held to the build by `npm run lint`), so that
 * `tsc` over lib/ sees a renamed field.
 * @returns {typeof import('../../binding')}
 */
function nativeBinding() {
  located ??= locate()
  if (located.binding) return located.binding
  throw unavailableError(located)
}

module.exports = { nativeBinding, targetName, platformName, hostPlatform, libcOfLdd, TARGETS, PACKAGE_PREFIX }
