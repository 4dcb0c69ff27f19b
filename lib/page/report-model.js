'use strict'

/**
 * The MODEL's shapes of what a report file says (collect.js reads the files): a pair's diff
 * or a diagnosis without snapshot, their suspects, grown collections, native verdict and
 * allocation sites. Every field is checked, as the file may come from an older leakproof or
 * be broken: a field that is missing or of the wrong type becomes null.
 */
const { nativeKindsText } = require('../diagnose/analyze')

/** Suspects, grown collections and growing handles kept per report. */
const TOP = 10

/** A number, or null for anything else (a field an older log lacks, or a broken one). */
function numberOrNull(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

/** A string, or null for anything else. */
function textOrNull(value) {
  return typeof value === 'string' ? value : null
}

/**
 * A report of the MODEL: what a page shows of a pair's diff or of a diagnosis without snapshot.
 * Each has its `evidence` (a diagnosis' `'census'`, `'sites'`, `'none'`; a pair's `'pair'` or
 * `'pair and census'`; null from an older leakproof); a pair its growth roots; a diagnosis'
 * suspects are the census' grown collections.
 */
function reportModel(content, name, time) {
  const list = (value) => (Array.isArray(value) ? value.slice(0, TOP) : [])
  const pair = content.kind === 'pair'
  return {
    time,
    kind: typeof content.kind === 'string' ? content.kind : null,
    name,
    evidence: textOrNull(content.evidence),
    ...(pair ? { growthRoots: list(content.growthRoots).map(growthRootModel) } : {}),
    suspects: pair ? list(content.suspects).map(suspectModel) : list(content.suspects).map(censusSuspectModel),
    grownCollections: pair ? list(content.grownCollections).map(collectionModel) : list(content.collections?.boundedMaps).map(boundedMapModel),
    growingHandles: pair ? list(content.growingHandles) : list(content.collections?.handles),
    native: nativeModel(content.native),
    lookedAt: Array.isArray(content.lookedAt) ? content.lookedAt : null,
    notLookedAt: Array.isArray(content.notLookedAt) ? content.notLookedAt : null,
  }
}

/**
 * A native leak's verdict of the MODEL (null when the report has none): whether JS objects
 * hold it, and when none do, what grew and the commands to run next.
 */
function nativeModel(native) {
  if (native === null || typeof native !== 'object' || typeof native.verdict !== 'string') return null
  const list = (value) => (Array.isArray(value) ? value : [])
  return {
    verdict: native.verdict,
    growthBytes: numberOrNull(native.growthBytes),
    explanation: textOrNull(native.explanation),
    mappings: list(native.mappings).map((m) => ({ label: textOrNull(m?.label) ?? textOrNull(m?.kind), growthBytes: numberOrNull(m?.growthBytes) })),
    next: list(native.next).filter((n) => typeof n?.command === 'string').map((n) => ({ what: textOrNull(n.what), command: n.command })),
  }
}

/** A suspect of the MODEL: its holder in the user's words and its readable path as one string. */
function suspectModel(suspect) {
  return {
    name: suspect?.name ?? null,
    count: numberOrNull(suspect?.count),
    retainedSize: numberOrNull(suspect?.retainedSize),
    share: numberOrNull(suspect?.share),
    holder: holderText(suspect?.holder),
    path: pathText(suspect?.readablePath),
  }
}

/**
 * A census suspect of the MODEL (a collection that grew between the census' passes): its
 * members' class, holder and path (already one string) as a pair's suspect has them, then the
 * entries before and after, the bytes one entry holds (`bytesPerEntrySource`: `'measured'`
 * or `'slope'`, an estimate from the leak's rate) and, where measured, its share of the leak.
 */
function censusSuspectModel(suspect) {
  return {
    name: suspect?.name ?? null,
    holder: holderText(suspect?.holder),
    path: textOrNull(suspect?.readablePath) ?? pathText(suspect?.readablePath),
    collections: numberOrNull(suspect?.collections),
    before: numberOrNull(suspect?.before),
    after: numberOrNull(suspect?.after),
    entriesPerSec: numberOrNull(suspect?.entriesPerSec),
    bytesPerEntry: numberOrNull(suspect?.bytesPerEntry),
    bytesPerEntrySource: textOrNull(suspect?.bytesPerEntrySource),
    share: numberOrNull(suspect?.share),
    memberHandle: textOrNull(suspect?.memberHandle),
  }
}

/**
 * A pair's grown collection: the fields of name, holder, before, after, path, its
 * entries' class (`memberClass`) and its share of the growth that it has, and the native memory it retains when it
 * retains some (`nativeBytes`, `nativeBytesBefore` where known, and `nativeKinds` as short
 * names: `zlib`).
 */
function collectionModel(collection) {
  const model = {}
  if (collection?.name !== undefined) model.name = collection.name
  if (collection?.holder != null) model.holder = holderText(collection.holder)
  if (collection?.before !== undefined) model.before = collection.before
  if (collection?.after !== undefined) model.after = collection.after
  if (Array.isArray(collection?.readablePath)) model.path = pathText(collection.readablePath)
  if (typeof collection?.memberClass === 'string') model.memberClass = collection.memberClass
  if (typeof collection?.share === 'number') model.share = collection.share
  if (collection?.nativeBytes > 0) {
    model.nativeBytes = collection.nativeBytes
    model.nativeKinds = nativeKindsText(collection)
    if (typeof collection.nativeBytesBefore === 'number') model.nativeBytesBefore = collection.nativeBytesBefore
  }
  return model
}

/**
 * A pair's growth root: `{ holder, share, newBytes, what }`, `what` in words: a chain's links
 * before and after, many roots' count and what they hold, else the class of what it holds.
 */
function growthRootModel(root) {
  const chain = root?.chain
  const many = root?.manyRoots
  const what = chain != null
    ? `chain of ${chain.class} via .${chain.via}: ${chain.before} → ${chain.after} links`
    : many != null
      ? `${many.count} new ${many.kind} roots${many.holds ? `, holding ${many.holds}` : ''}`
      : textOrNull(root?.memberClass)
  return {
    holder: holderText(root?.holder) ?? pathText(root?.readablePath) ?? textOrNull(root?.name),
    share: numberOrNull(root?.share),
    newBytes: numberOrNull(root?.newBytes),
    what,
  }
}

/** A diagnosis's grown BoundedMaps (by name) as grown collections. */
function boundedMapModel(map) {
  return { name: map?.name ?? null, before: numberOrNull(map?.sizeBefore), after: numberOrNull(map?.size) }
}

/** A holder in the user's words (its `description`), or null. */
function holderText(holder) {
  if (typeof holder === 'string') return holder
  return typeof holder?.description === 'string' ? holder.description : null
}

/** A readable retainer path as one string, `a → b → c`, or null. */
function pathText(readablePath) {
  return Array.isArray(readablePath) ? readablePath.map(String).join(' → ') : null
}

/**
 * The MODEL's sites: `[{ functionName, url, line, column, growthBytes, liveBytes, package,
 * appFrame }]`; `package` (a name) and `appFrame` (`{ functionName, url, line, column }`) are
 * null but on a site in a package that has them (lib/sites/growth.js).
 */
function sitesModel(sites) {
  if (!Array.isArray(sites)) return []
  return sites.map((site) => ({
    ...placeModel(site),
    growthBytes: numberOrNull(site?.growthBytes),
    liveBytes: numberOrNull(site?.liveBytes),
    package: typeof site?.package === 'string' ? site.package : null,
    appFrame: site?.appFrame ? placeModel(site.appFrame) : null,
  }))
}

/**
 * A place in the code as the MODEL has it: `{ functionName, url, line, column, built }`, null
 * where unknown; `built` is the built code's `file:line:column` where a source map placed it.
 */
function placeModel(frame) {
  const built = frame?.generated
  return {
    functionName: frame?.functionName ?? null,
    url: frame?.url ?? null,
    line: numberOrNull(frame?.line),
    column: numberOrNull(frame?.column),
    built: built ? textOrNull(`${built.url ?? built.file}:${built.line}:${built.column}`) : null,
  }
}

module.exports = { reportModel, sitesModel, numberOrNull, textOrNull }
