'use strict'

/**
 * Where a piece of code comes from, by its script's file or URL: the application's own
 * files, a package's, Node's internals, or leakproof's own. What leakproof finds in a
 * service (allocation sites, what holds a growing collection) names the service's code,
 * never leakproof's.
 *
 * The rule is the Rust side's too (`src/core/diagnose/code_origin.rs`): both are tested on one
 * table of cases, `src/core/diagnose/code_origin_cases.json`.
 */
const path = require('node:path')

/** The folder of this copy of leakproof: where its package.json is, wherever it is installed. */
const PACKAGE_DIR = path.resolve(__dirname, '..', '..')

/**
 * The files and folders this copy ships (package.json `files`: `lib/`, `bin/`, `index.js`,
 * …), as absolute paths; a folder's ends with a separator. The repository's tests, benches
 * and demos are not among them: a test's fixture is an application.
 */
const SHIPPED = require('../../package.json').files.map((entry) => path.join(PACKAGE_DIR, entry))

/**
 * A script's file path from its URL: `file://` URLs (ES modules) decoded, paths as they are.
 * A URL whose escapes do not decode is kept as it is: a name, not a reason to throw.
 */
function fileOf(url) {
  if (!url.startsWith('file://')) return url
  const encoded = url.slice('file://'.length)
  try {
    return decodeURIComponent(encoded)
  } catch {
    return encoded
  }
}

/**
 * The package a file belongs to: the folder below its last `node_modules` (so pnpm's
 * `node_modules/.pnpm/x@1.0.0/node_modules/x/…` is `x`), with its scope (`@scope/name`);
 * null when the file is not in one. Either path separator.
 */
function packageOf(file) {
  const slashed = file.replaceAll('\\', '/')
  const at = slashed.lastIndexOf('/node_modules/')
  if (at < 0) return null
  const parts = slashed.slice(at + '/node_modules/'.length).split('/')
  const nameParts = parts[0].startsWith('@') ? 2 : 1
  // The package's folder and at least one file in it; a file directly in node_modules is none.
  return parts.length > nameParts ? parts.slice(0, nameParts).join('/') : null
}

/**
 * Whether `file` (a path, or a `file://` URL) is leakproof's own: one this copy ships, or a
 * file of an installed `leakproof` package (`node_modules/leakproof/…`), which is how a
 * profile written on another machine names leakproof's files.
 */
function isOwnFile(file) {
  const local = fileOf(file)
  if (SHIPPED.some((entry) => (entry.endsWith(path.sep) ? local.startsWith(entry) : local === entry))) return true
  return packageOf(local) === 'leakproof'
}

/**
 * Where a frame's code comes from, by its script's URL, as `{ kind, package }`: kind `'app'`
 * (the application's own files), `'package'` (a file of `package`, in `node_modules`),
 * `'node'` (Node's internals: `node:`, or `internal/` as Node named them before `node:`),
 * `'own'` (leakproof's own files, see `isOwnFile`) or `'builtin'` (no script: V8's built-ins
 * such as `Map` or `String.prototype.repeat`, and V8's states such as `(garbage collector)`);
 * `package` is null but for `'package'`.
 * @param {string} url
 * @returns {{ kind: 'app' | 'package' | 'node' | 'own' | 'builtin', package: string | null }}
 */
function originOf(url) {
  if (url === '') return { kind: 'builtin', package: null }
  if (url.startsWith('node:') || url.startsWith('internal/')) return { kind: 'node', package: null }
  if (isOwnFile(url)) return { kind: 'own', package: null }
  const name = packageOf(fileOf(url))
  return { kind: name === null ? 'app' : 'package', package: name }
}

module.exports = { originOf, isOwnFile }
