'use strict'

/**
 * A report's first holder as a label that is the same wherever the same code leaks: on every
 * instance of a service, after every restart, in every copy of its files. It is what a fleet
 * groups by (the `leakproof_leak_holder_info` metric, the page over many directories, the MCP
 * server's overview), so it carries nothing that differs between processes: no counts, pids,
 * addresses, ids, temp directories, columns or install prefixes.
 *
 * `holder` is where the collection is declared and its class: the app's class and field whose
 * instance holds it (`AuditService.trail (Map)`, `site` the class's file), else its path from
 * the variable or export that declares it (`store.sessions (Map)`, `Socket handles (Socket)`;
 * `site` the file that holds it, `app/src/session.ts`, `''` where the report names none).
 * So the census and a snapshot pair, which reach a collection from different roots, agree.
 */

const fs = require('node:fs')
const { basename, dirname, join } = require('node:path')
const { withoutImportAlias } = require('../shared/compiler-names')

/** Longest label values, in characters: past them a value is cut with `…`. */
const MAX_HOLDER_CHARS = 96
const MAX_SITE_CHARS = 128
/** Temp directories, whose first folder (made per run, as by mkdtemp) a site leaves out. */
const TEMP_DIRS = /^(?:\/private)?(?:\/tmp|\/var\/tmp|\/dev\/shm|\/var\/folders\/[^/]+\/[^/]+\/T)(?=\/)/
/** This machine's, as `os.tmpdir()` names it (TMPDIR): macOS' `/var/folders/…/T`, a CI runner's. */
const TEMP_DIR = slashes(require('node:os').tmpdir()).replace(/\/$/, '')
/** The path segments a site keeps at most (after a package or temp prefix is taken off). */
const SITE_SEGMENTS = 3

/**
 * The first item of a report that names a holder, or null: of a pair, its first growth root,
 * else its first grown collection, else its first suspect with a holder; of a report without a
 * snapshot, the census' first grown collection; one held in Node's own code only when no other
 * is. Reads the event and its JSON file alike.
 * @param {any} report
 * @returns {{ holder: any, readablePath?: unknown, share?: unknown, madeAt?: any } | null}
 */
function firstNamed(report) {
  if (report === null || typeof report !== 'object') return null
  const list = (value) => (Array.isArray(value) ? value : [])
  const named = report.kind === 'pair' ? [...list(report.growthRoots), ...list(report.grownCollections), ...list(report.suspects)] : list(report.suspects)
  const held = named.filter((item) => item?.holder !== null && typeof item?.holder === 'object')
  // Node's own tables (`$Module._cache`) hold everything the app loaded: the app's holder first.
  return held.find((item) => !String(item.holder.file).startsWith('node:')) ?? held[0] ?? null
}

/**
 * A process's reports (oldest first) in the order they are asked what holds its leak: snapshot
 * pairs' newest first, then the others' newest first. A pair confirms a census with what the
 * new objects retain, so a census taken after it (for the leak growing worse) does not displace it.
 * @template R reports, each with its `kind`
 * @param {R[]} reports
 * @returns {R[]}
 */
function rankReports(reports) {
  const newestFirst = [...reports].reverse()
  const pair = (/** @type {any} */ r) => r.kind === 'pair'
  return [...newestFirst.filter(pair), ...newestFirst.filter((r) => !pair(r))]
}

/**
 * `items` grouped by their holder's label (`labelOf(item)`: `{ holder, site }`, or null when
 * no report names one; those form one group), in the order first seen: `[{ label, items }]`.
 * What a fleet is grouped by: the report page's and the MCP server's overview alike.
 * @template T
 * @param {T[]} items
 * @param {(item: T) => { holder: string, site: string } | null} labelOf
 * @returns {{ label: { holder: string, site: string } | null, items: T[] }[]}
 */
function groupByLabel(items, labelOf) {
  const groups = new Map()
  for (const item of items) {
    const label = labelOf(item)
    const key = label === null ? null : `${label.holder}\0${label.site}`
    if (!groups.has(key)) groups.set(key, { label, items: [] })
    groups.get(key).items.push(item)
  }
  return [...groups.values()]
}

/**
 * The label of a report's first holder: `{ holder, site, share }` (`share`: how much of the
 * leak it explains, 0 to 1, or null where not measured), or null when the report names none.
 * The label the watcher wrote into the report (`holderLabel`, see `ownHolderLabel`) where it
 * has one; else made here, `root` the directory sites are relative to (see `siteOf`).
 * @param {any} report a `report` event, or a report file's content
 * @param {{ root?: string | null }} [options]
 * @returns {{ holder: string, site: string, share: number | null } | null}
 */
function holderLabel(report, { root = null } = {}) {
  const item = firstNamed(report)
  if (item === null) return null
  const share = typeof item.share === 'number' && Number.isFinite(item.share) ? Math.min(1, Math.max(0, item.share)) : null
  const written = report.holderLabel
  if (typeof written?.holder === 'string' && typeof written.site === 'string') {
    return { holder: cut(written.holder, MAX_HOLDER_CHARS), site: cut(written.site, MAX_SITE_CHARS), share }
  }
  const { holder } = item
  const className = text(holder.className).replace(/^function (\S+) at .*$/, 'function $1')
  const owner = declaringClass(item, className)
  if (owner !== null) return { holder: cut(stableText(`${owner.className}.${owner.field} (${className})`), MAX_HOLDER_CHARS), site: siteOf(owner, root), share }
  const { path, site } = namedPlace(item, root)
  const name = path === '' ? `(${text(holder.kind) || 'unnamed'})` : path
  return { holder: cut(stableText(`${name} (${className || '?'})`), MAX_HOLDER_CHARS), site, share }
}

/**
 * Where a report's first holder is named from, class or not: `{ path, site }`, the path from
 * where it is declared (`declaredPath`) and the file of its root; null when it names none.
 * @param {any} report
 * @param {{ root?: string | null }} [options]
 */
function namedFrom(report, { root = null } = {}) {
  const item = firstNamed(report)
  return item === null ? null : namedPlace(item, root)
}

/** `{ path, site }` of a named item (see `namedFrom`). */
function namedPlace(item, root) {
  return { path: declaredPath(item), site: siteOf(item.holder, root) }
}

/**
 * The class of the app's own files whose instance holds a collection in a field (the
 * holder's `owner`, which the census and the pair both give), where the item is a
 * collection: a chain's links and many roots are no field's. Null otherwise.
 */
function declaringClass(item, className) {
  const owner = item.holder.owner
  const named = owner !== null && typeof owner === 'object' && [owner.className, owner.field, owner.file].every((value) => typeof value === 'string' && value !== '')
  const collection = item.chain == null && item.manyRoots == null && className !== '' && !className.startsWith('chain via') && !['handles', 'timers'].includes(item.holder.kind)
  return named && collection ? owner : null
}

/**
 * The path of a named item from where its collection is declared, the same whichever evidence
 * named it: a census' path is its text (`store.sessions`), a pair's holder name is already the
 * path. What a module exports is named as the module writes it (`store.sessions` of store.js,
 * not `module.exports.store.sessions`), a private field as code writes it, and built code's by
 * what the user imported (compiler-names.js).
 */
function declaredPath(item) {
  const { holder } = item
  const path = typeof item.readablePath === 'string' && item.readablePath !== '' ? item.readablePath : text(holder.name)
  const exported = privateFieldsAsWritten(path.replace(/^module\.exports\.(?=[A-Za-z_$])/, ''))
  return holder.generated !== undefined ? withoutImportAlias(exported) : exported
}

/** `path` with its `#private` fields as code and the census write them (`.#history`), not as a snapshot's edges are (`["#history"]`). */
function privateFieldsAsWritten(path) {
  return path.replace(/\["(#[^"]+)"\]/g, '.$1')
}

/**
 * The label of a report this process made, `{ holder, site }` or null, for the watcher to write
 * into it: sites under the service's folder are relative to it, so copies of a service in
 * folders of their own (`/srv/a/app.js`, `/srv/b/app.js`) give one site (`app.js`) where the
 * path alone cannot tell the folder is the copy's, and one service run from its sources (tsx,
 * ts-node, type stripping: `src/server.ts`) or built (`dist/server.js`, a bundle) gives one
 * site (`src/store.ts`).
 * @param {object} report
 */
function ownHolderLabel(report) {
  const label = holderLabel({ ...report, holderLabel: undefined }, { root: serviceDir() })
  return label === null ? null : { holder: label.holder, site: label.site }
}

/**
 * The service's folder: the nearest folder up from its main script (links followed) with a
 * package.json, the script's own folder when none has one; null without a main script
 * (`node -e`, the REPL).
 */
function serviceDir() {
  if (serviceDirKept !== undefined) return serviceDirKept
  serviceDirKept = null
  try {
    if (process.argv[1]) serviceDirKept = slashes(packageDirOf(dirname(fs.realpathSync(process.argv[1]))))
  } catch {
    // No main script to read: no folder.
  }
  return serviceDirKept
}
let serviceDirKept

/** The nearest folder from `dir` up with a package.json, not past a `node_modules`; else `dir`. */
function packageDirOf(dir) {
  for (let at = dir; basename(at) !== 'node_modules'; at = dirname(at)) {
    if (fs.existsSync(join(at, 'package.json'))) return at
    if (dirname(at) === at) break
  }
  return dir
}

/**
 * The file of the holder's place, else `''`: relative to `root` when under it (and not in a
 * package), else as `stablePath` gives it. Not its line: the census places a variable at a
 * function whose scope holds it and a pair at another one, or at none for a module's variable,
 * so the same variable would get several lines. Nor, for many roots, the line that made them
 * (`madeAt`): the allocation sites that find it come after some reports and not at all in
 * others, so one leak would get two sites.
 */
function siteOf(holder, root) {
  const file = typeof holder.file === 'string' ? holder.file : ''
  if (file === '') return ''
  const path = slashes(file.replace(/^file:\/\//, ''))
  const own = root !== null && path.startsWith(`${root === '/' ? '' : root}/`) && !path.includes('/node_modules/')
  return cut(own ? path.slice(root.length).replace(/^\//, '').split('/').map(stableText).join('/') : stablePath(path), MAX_SITE_CHARS)
}

/** `path` with `/` for `\\`. */
function slashes(path) {
  return path.replace(/\\/g, '/')
}

/**
 * A script's path as every instance spells it: a `file://` URL as its path; inside a package,
 * from the last `node_modules/` on; inside a temp directory, from below the directory made
 * there; then at most the last three segments, ids in them as `*`.
 * @param {string} file
 */
function stablePath(file) {
  let path = slashes(file.replace(/^file:\/\//, ''))
  const packaged = path.lastIndexOf('/node_modules/')
  if (packaged !== -1) return path.slice(packaged + '/node_modules/'.length).split('/').map(stableText).join('/')
  const temp = path.startsWith(`${TEMP_DIR}/`) ? TEMP_DIR : TEMP_DIRS.exec(path)?.[0]
  if (temp !== undefined) path = path.slice(temp.length + 1).replace(/^[^/]+\//, '')
  return path.split('/').filter((segment) => segment !== '').slice(-SITE_SEGMENTS).map(stableText).join('/')
}

/**
 * `value` without what differs between processes running the same code, each as `*`:
 * addresses (`0x…`), UUIDs, hex ids of eight digits or more, random ids (twelve letters and
 * digits or more, three digits and three capitals among them) and numbers of four digits or
 * more (counts, pids, ports, timestamps; an id of digits only is one). Runs of spaces as one.
 * @param {string} value
 */
function stableText(value) {
  return value
    .replace(/0x[0-9a-f]+/gi, '*')
    .replace(/(?<![0-9a-z])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-z])/gi, '*')
    .replace(/(?<![0-9a-z])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}(?![0-9a-z])/gi, '*')
    .replace(/(?<![0-9A-Za-z])(?=(?:[A-Za-z]*[0-9]){3})(?=(?:[0-9a-z]*[A-Z]){3})(?=[0-9A-Z]*[a-z])[0-9A-Za-z]{12,}(?![0-9A-Za-z])/g, '*')
    .replace(/\d[\d,._]*\d/g, (digits) => (digits.replace(/\D/g, '').length >= 4 ? '*' : digits))
    .replace(/\s+/g, ' ')
    .trim()
}

/** `value` if a string, else `''`. */
function text(value) {
  return typeof value === 'string' ? value : ''
}

/** `value` cut to `max` characters, the last one `…` when cut. */
function cut(value, max) {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`
}

module.exports = { holderLabel, ownHolderLabel, namedFrom, privateFieldsAsWritten, groupByLabel, firstNamed, rankReports, stablePath, stableText }
