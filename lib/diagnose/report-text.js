'use strict'

/**
 * Reports as text for a terminal, one printer per shape so that none drifts from the shape it
 * prints: a snapshot's analysis and a diff (`leakproof analyze|diff`), the watcher's reports of
 * both kinds (a snapshot pair's, a leak's without one: `npm run demo`), and the census' grown
 * collections (`leakproof attach PID census`).
 */
const { nativeMemoryText } = require('./analyze')
const { bytesText } = require('../shared/bytes-text')
const { placeText } = require('../shared/place-text')
const { firstNamed } = require('./holder-label')

/** `12,345`. */
const count = (n) => n.toLocaleString('en-US')

/** `  3. ` before the `i`th item of a list. */
const rank = (i) => `${String(i + 1).padStart(3)}. `

/** `; 87% of the growth`: how much of the new bytes an item explains (nothing when unknown). */
function shareText({ share }) {
  return typeof share === 'number' ? `; ${Math.round(share * 100)}% of the growth` : ''
}

/**
 * What holds an object of a snapshot, first in the code's words (`held by cache (Map), a
 * module-level variable of /srv/app.js …`) when it could be named, then its path with Node's
 * own machinery folded into one step.
 */
function holderLines(item, indent) {
  const lines = []
  if (item.holder) lines.push(`${indent}held by ${item.holder.description}`)
  lines.push(`${indent}${item.holder ? 'via ' : ''}${item.readablePath.join(' → ')}`)
  return lines
}

/** The readable report of `leakproof analyze`: classes by retained size, the largest objects and their holders. */
function analyzeText(file, r, top) {
  const lines = [
    `${file}: ${count(r.nodes)} objects, ${count(r.edges)} references, ${bytesText(r.totalSize)}`,
    '',
    `Classes by retained size (top ${Math.min(top, r.classes.length)} of ${count(r.classes.length)})`,
    `  ${'retained'.padStart(10)}  ${'self'.padStart(10)}  ${'count'.padStart(10)}  class`,
  ]
  for (const c of r.classes.slice(0, top)) {
    lines.push(`  ${bytesText(c.retainedSize).padStart(10)}  ${bytesText(c.selfSize).padStart(10)}  ${count(c.count).padStart(10)}  ${c.name}`)
  }
  lines.push('', 'Largest objects by retained size')
  r.largest.forEach((o, i) => {
    lines.push(`${rank(i)}${o.name} @${o.id}: retains ${bytesText(o.retainedSize)} (self ${bytesText(o.selfSize)})`)
    lines.push(...holderLines(o, '     '))
  })
  return lines.join('\n')
}

/** What a growth root holds, in words: a chain's links, many roots, or the class of its new objects. */
function growthRootWhat({ chain, manyRoots, memberClass }) {
  if (chain !== null) return `a chain of ${chain.class} via .${chain.via}: ${count(chain.before)} → ${count(chain.after)} links`
  if (manyRoots !== null) return `${count(manyRoots.count)} new ${manyRoots.kind} roots${manyRoots.holds ? ` holding ${manyRoots.holds}` : ''}`
  return memberClass === null ? 'new objects' : `new ${memberClass}`
}

/**
 * The body of a diff (a `diffSnapshots()` result or a pair report, which has its fields): the
 * new objects, the holders of the growth, the suspects, the collections that grew and, with
 * `byClass`, the new objects by class; `top` of each list.
 */
function diffBodyLines(r, { top, byClass, stillAlive = false }) {
  const byPaths = r.matchedBy === 'paths'
  const lines = [byPaths ? 'Matched by retainer path (the ids name other objects): "new" is net growth by class' : 'Matched by node id']
  const still = stillAlive ? ' (allocated between the first two, alive in the third)' : ''
  lines.push('', `New objects${still}: ${count(r.newCount)}, ${bytesText(r.newBytes)}`)
  lines.push('', 'What holds the growth: objects in both snapshots that hold the new ones')
  if (r.growthRoots.length === 0) lines.push('  none')
  r.growthRoots.slice(0, top).forEach((g, i) => {
    lines.push(`${rank(i)}${g.name}: ${growthRootWhat(g)}, ${bytesText(g.newBytes)} new${shareText(g)}`)
    lines.push(...holderLines(g, '     '))
  })
  lines.push('', 'Suspects: classes of new objects by retained size')
  if (r.suspects.length === 0) lines.push('  none')
  r.suspects.slice(0, top).forEach((s, i) => {
    const native = s.nativeBytes > 0 ? `, ${bytesText(s.nativeBytes)} native` : ''
    lines.push(`${rank(i)}${s.name}: ${count(s.count)} new, ${bytesText(s.bytes)} own, retaining ${bytesText(s.retainedSize)}${native}${shareText(s)}`)
    lines.push(...holderLines(s, '     '))
  })
  lines.push('', 'Collections that grew')
  if (r.grownCollections.length === 0) lines.push('  none')
  r.grownCollections.slice(0, top).forEach((c, i) => {
    const entries = `${count(c.before)} → ${count(c.after)} ${c.memberClass ?? 'entries'}`
    lines.push(`${rank(i)}${c.name} @${c.id}: ${entries}, retaining ${bytesText(c.retainedSize)}${nativeMemoryText(c, bytesText)}${shareText(c)}`)
    lines.push(...holderLines(c, '     '))
  })
  if (byClass) {
    lines.push('', 'New objects by class (most bytes first)')
    for (const c of r.newByClass.slice(0, top)) lines.push(`  ${bytesText(c.bytes).padStart(10)}  ${count(c.count).padStart(10)}  ${c.name}`)
  }
  return lines
}

/** The readable report of `leakproof diff FILES…`. */
function diffText(files, r, top) {
  const lines = r.snapshots.map((s, i) => `${files[i]}: ${count(s.nodes)} objects, ${bytesText(s.totalSize)}`)
  lines.push(...diffBodyLines(r, { top, byClass: true, stillAlive: files.length === 3 }))
  return lines.join('\n')
}

/**
 * A collection the census saw grow (or, before a second pass, one of the largest), in two
 * lines: its path, class, entries and their rate, then its holder in the code's words and,
 * for many roots, the line that made them.
 */
function censusHolderText(h, i) {
  const change = h.before === null ? `${count(h.after)} entries` : `${count(h.before)} → ${count(h.after)} entries (${count(Math.round(h.entriesPerSec))}/s)`
  const of = h.name !== h.holder.className ? ` of ${h.name}` : ''
  return `${rank(i)}${h.readablePath} (${h.holder.className}): ${change}${of}\n     held by ${h.holder.description}`
}

/** What named a report's holder, in words, by its `evidence`. */
const EVIDENCE = {
  census: "the census of reachable collections (no snapshot: the service did not stop to write one)",
  sites: 'allocation sites only (the census named no collection)',
  none: 'nothing: neither the census nor the sampled allocation sites',
  pair: 'the diff of the snapshot pair',
  'pair and census': 'the diff of the snapshot pair, confirming the census taken at the leak',
}

/**
 * The holder a report names first, in the code's words, or null when it names none: the
 * census' first grown collection; of a pair, its first growth root, else its first grown
 * collection, else its first suspect, with a holder.
 */
function firstHolder(report) {
  return firstNamed(report)?.holder.description ?? null
}

/**
 * A watcher's report (the `report` event, or its JSON file) as text: what named the holder
 * and the holder first, then a pair's diff or, without a snapshot, the census' collections,
 * the growing allocation sites and what was not looked at; `top` of each list.
 */
function reportText(report, { top = 5 } = {}) {
  const holder = firstHolder(report)
  const lines = [`holder: ${holder ?? 'none named'}`, `named by: ${EVIDENCE[report.evidence] ?? report.evidence}`]
  if (report.kind === 'pair') {
    lines.push(`snapshots: ${report.baseline} → ${report.followUp}`)
    for (const k of report.leaking) lines.push(`${k.kind} grew ${bytesText(k.growthBytes)} between them`)
    lines.push(...diffBodyLines(report, { top, byClass: false }))
    if (report.census !== null) {
      lines.push('', "The census' holders at the leak, and whether the pair names them too")
      for (const h of report.census.holders) lines.push(`  ${h.confirmed ? 'confirmed' : 'not seen '}  ${h.holder}`)
    }
  } else {
    const { why, detail } = report.heapSnapshot
    lines.push(`no snapshot pair: ${why}${detail ? ` (${detail})` : ''}`)
    if (report.census !== null) {
      const seconds = Math.round((report.census.until - report.census.since) / 1000)
      lines.push('', `Collections that grew over ${seconds} s (${report.census.passes.length} passes of the census)`)
      if (report.suspects.length === 0) lines.push('  none')
      report.suspects.slice(0, top).forEach((s, i) => lines.push(censusHolderText(s, i)))
    }
    if (report.sites !== null) {
      lines.push('', `Allocation sites whose live bytes grew (over ${Math.round(report.sites.windowMs / 1000)} s of sampling)`)
      if (report.sites.sites.length === 0) lines.push('  none')
      report.sites.sites.slice(0, top).forEach((s, i) => lines.push(`${rank(i)}+${bytesText(s.growthBytes).padStart(9)}  ${placeText(s)}`))
    }
    // The heap snapshot's reason is the line above.
    const notLookedAt = report.notLookedAt.filter((n) => n.what !== 'heap snapshot')
    if (notLookedAt.length > 0) lines.push('', 'Not looked at', ...notLookedAt.map((n) => `  ${n.what}: ${n.why}`))
  }
  if (report.native !== null) lines.push('', `native memory: ${report.native.verdict}${report.native.explanation ? `: ${report.native.explanation}` : ''}`)
  return lines.join('\n')
}

module.exports = { analyzeText, diffText, reportText, firstHolder, censusHolderText }
