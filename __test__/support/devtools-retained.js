'use strict'

/**
 * A naive model of Chrome DevTools' retained sizes, to check the native analyzer on real
 * snapshots of the running Node version (front_end/entrypoints/heap_snapshot_worker/
 * HeapSnapshot.ts: computeIsEssentialEdge, markPageOwnedNodes,
 * buildDominatorTreeAndCalculateRetainedSizes).
 *
 * The rules are DevTools'; the algorithm is deliberately another: the fixed point of Cooper,
 * Harvey and Kennedy ("A Simple, Fast Dominance Algorithm", 2001) over predecessor lists, where
 * the analyzer uses semi-NCA. Fields are found by name in `snapshot.meta`, never by position.
 */
const fs = require('node:fs')

/**
 * Reads a `.heapsnapshot` into columns, by ordinal: `type`, `name`, `id`, `selfSize` per node,
 * `firstEdge` (one more than nodes), `edgeType`, `edgeName`, `edgeTo` (an ordinal) per edge.
 * Types are the names from the meta (`nodeTypes[type[n]]`).
 */
function readSnapshot(file) {
  const { snapshot, nodes, edges, strings } = JSON.parse(fs.readFileSync(file, 'utf8'))
  const meta = snapshot.meta
  const nodeFields = meta.node_fields.length
  const edgeFields = meta.edge_fields.length
  const nodeField = (name) => field(meta.node_fields, name)
  const edgeField = (name) => field(meta.edge_fields, name)
  const [typeAt, nameAt, idAt, sizeAt, countAt] = ['type', 'name', 'id', 'self_size', 'edge_count'].map(nodeField)
  const [edgeTypeAt, edgeNameAt, edgeToAt] = ['type', 'name_or_index', 'to_node'].map(edgeField)
  const nodeCount = nodes.length / nodeFields
  const edgeCount = edges.length / edgeFields
  const snap = {
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    strings,
    nodeCount,
    type: new Uint8Array(nodeCount),
    name: new Uint32Array(nodeCount),
    id: new Float64Array(nodeCount),
    selfSize: new Float64Array(nodeCount),
    firstEdge: new Uint32Array(nodeCount + 1),
    edgeType: new Uint8Array(edgeCount),
    edgeName: new Uint32Array(edgeCount),
    edgeTo: new Uint32Array(edgeCount),
  }
  for (let n = 0, e = 0; n < nodeCount; n++) {
    const at = n * nodeFields
    snap.type[n] = nodes[at + typeAt]
    snap.name[n] = nodes[at + nameAt]
    snap.id[n] = nodes[at + idAt]
    snap.selfSize[n] = nodes[at + sizeAt]
    snap.firstEdge[n] = e
    e += nodes[at + countAt]
    snap.firstEdge[n + 1] = e
  }
  for (let e = 0; e < edgeCount; e++) {
    const at = e * edgeFields
    snap.edgeType[e] = edges[at + edgeTypeAt]
    snap.edgeName[e] = edges[at + edgeNameAt]
    snap.edgeTo[e] = edges[at + edgeToAt] / nodeFields
  }
  return snap
}

function field(fields, name) {
  const at = fields.indexOf(name)
  if (at < 0) throw new Error(`snapshot meta has no field ${name}: ${fields.join(', ')}`)
  return at
}

/** The root is the first node, as in DevTools. */
const ROOT = 0

/**
 * Where the page objects start, by the rules of DevTools (markPageOwnedNodes): the targets of
 * the root's shortcut edges (the user roots: the global objects, or from V8 14 on their native
 * contexts) and the `(Document DOM trees)` root.
 */
function devtoolsPageEntries(snap) {
  return rootEdges(snap).filter(({ type, to }) => type === 'shortcut' || (type === 'element' && isDomTrees(snap, to)))
}

/**
 * Where memlab 2.0.5 starts its page objects (TraceFinder flagReachableNodesFromWindow):
 * every child of the root except those DevTools starts from.
 */
function memlabPageEntries(snap) {
  return rootEdges(snap).filter(({ type, to }) => type !== 'shortcut' && !(type === 'element' && isDomTrees(snap, to)))
}

function rootEdges(snap) {
  const edges = []
  for (let e = snap.firstEdge[ROOT]; e < snap.firstEdge[ROOT + 1]; e++) {
    edges.push({ type: snap.edgeTypes[snap.edgeType[e]], to: snap.edgeTo[e] })
  }
  return edges
}

function isDomTrees(snap, n) {
  return snap.nodeTypes[snap.type[n]] === 'synthetic' && snap.strings[snap.name[n]] === '(Document DOM trees)'
}

/** DevTools' rules: its page objects, and the table's half of a WeakMap entry skipped. */
const DEVTOOLS = { pageEntries: devtoolsPageEntries, skipWeakMapTable: true }

/**
 * memlab 2.0.5's reading of the same rules (TraceFinder computeDominatorsAndRetainedSizes): its
 * own page, and both halves of a WeakMap entry kept. Which unreached nodes it searches from
 * first is not modelled; that only matters for what the root does not reach.
 */
const MEMLAB = { pageEntries: memlabPageEntries, skipWeakMapTable: false }

/** The page objects: what the entries of `rules` reach through non-weak edges. */
function pageOwned(snap, rules) {
  const page = new Uint8Array(snap.nodeCount)
  const stack = rules.pageEntries(snap).map(({ to }) => to)
  for (const n of stack) page[n] = 1
  while (stack.length) {
    const n = stack.pop()
    for (let e = snap.firstEdge[n]; e < snap.firstEdge[n + 1]; e++) {
      const to = snap.edgeTo[e]
      if (!page[to] && snap.edgeTypes[snap.edgeType[e]] !== 'weak') {
        page[to] = 1
        stack.push(to)
      }
    }
  }
  return page
}

const WEAK_MAP_EDGE = /^\d+ \/ part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap \(table @(\d+)\)$/

/**
 * The essential edges, one flag per edge (DevTools' computeIsEssentialEdge): not weak, not a
 * self edge, not the table's half of a WeakMap entry (if `rules` says so), not a shortcut from
 * anything but the root, not from outside the page objects into them.
 */
function essentialEdges(snap, rules = DEVTOOLS) {
  const page = pageOwned(snap, rules)
  const essential = new Uint8Array(snap.edgeTo.length)
  for (let n = 0; n < snap.nodeCount; n++) {
    for (let e = snap.firstEdge[n]; e < snap.firstEdge[n + 1]; e++) {
      const to = snap.edgeTo[e]
      const type = snap.edgeTypes[snap.edgeType[e]]
      if (type === 'weak' || to === n) continue
      if (rules.skipWeakMapTable && type === 'internal') {
        const table = WEAK_MAP_EDGE.exec(snap.strings[snap.edgeName[e]])
        if (table && Number(table[1]) === snap.id[n]) continue
      }
      if (n !== ROOT && (type === 'shortcut' || (page[to] && !page[n]))) continue
      essential[e] = 1
    }
  }
  return essential
}

/**
 * Predecessor lists over the essential edges, plus DevTools' attachments for what the root does
 * not reach: first each node with no essential retainer (then what it reaches), then every node
 * still unreached, each hangs from the root.
 */
function flowGraph(snap, essential) {
  const preds = Array.from({ length: snap.nodeCount }, () => [])
  for (let n = 0; n < snap.nodeCount; n++) {
    for (let e = snap.firstEdge[n]; e < snap.firstEdge[n + 1]; e++) if (essential[e]) preds[snap.edgeTo[e]].push(n)
  }
  const reached = new Uint8Array(snap.nodeCount)
  const postorder = []
  const visit = (start) => {
    reached[start] = 1
    const stack = [[start, snap.firstEdge[start]]]
    while (stack.length) {
      const top = stack[stack.length - 1]
      const [n] = top
      let next = -1
      while (top[1] < snap.firstEdge[n + 1] && next < 0) {
        const e = top[1]++
        if (essential[e] && !reached[snap.edgeTo[e]]) next = snap.edgeTo[e]
      }
      if (next < 0) {
        postorder.push(stack.pop()[0])
      } else {
        reached[next] = 1
        stack.push([next, snap.firstEdge[next]])
      }
    }
  }
  visit(ROOT)
  const attach = (n) => {
    preds[n].push(ROOT)
    visit(n)
  }
  for (let n = 0; n < snap.nodeCount; n++) if (!reached[n] && preds[n].length === 0) attach(n)
  const rest = []
  for (let n = 0; n < snap.nodeCount; n++) if (!reached[n]) rest.push(n)
  for (const n of rest) preds[n].push(ROOT)
  for (const n of rest) if (!reached[n]) visit(n)
  // The root last in postorder, as if it had been visited first.
  postorder.splice(postorder.indexOf(ROOT), 1)
  postorder.push(ROOT)
  return { preds, postorder }
}

/** Immediate dominator of every node (the root's is itself), by iteration to a fixed point. */
function dominators(snap, essential) {
  const { preds, postorder } = flowGraph(snap, essential)
  const rank = new Uint32Array(snap.nodeCount)
  postorder.forEach((n, i) => (rank[n] = i))
  const NONE = -1
  const idom = new Int32Array(snap.nodeCount).fill(NONE)
  idom[ROOT] = ROOT
  const intersect = (a, b) => {
    while (a !== b) {
      while (rank[a] < rank[b]) a = idom[a]
      while (rank[b] < rank[a]) b = idom[b]
    }
    return a
  }
  for (let changed = true; changed; ) {
    changed = false
    for (let i = postorder.length - 2; i >= 0; i--) {
      const n = postorder[i]
      let dom = NONE
      for (const p of preds[n]) if (idom[p] !== NONE) dom = dom === NONE ? p : intersect(p, dom)
      if (idom[n] !== dom) {
        idom[n] = dom
        changed = true
      }
    }
  }
  return { idom, postorder }
}

/**
 * Retained sizes of `snap` by `rules` (DevTools' unless told): `idom` (the immediate dominator)
 * and `retained`, by ordinal.
 */
function retainedSizes(snap, rules = DEVTOOLS) {
  const { idom, postorder } = dominators(snap, essentialEdges(snap, rules))
  const retained = Float64Array.from(snap.selfSize)
  for (const n of postorder) if (n !== ROOT) retained[idom[n]] += retained[n]
  return { idom, retained }
}

/** True when `d` is `n` or dominates it in `idom`. */
function dominates(idom, d, n) {
  for (; n !== ROOT; n = idom[n]) if (n === d) return true
  return d === ROOT
}

/**
 * The retained size of each class (`key(n)`): the sum over the nodes of the class that no other
 * node of the class dominates, as a Map from class to bytes.
 */
function classRetained(snap, { idom, retained }, key) {
  const children = Array.from({ length: snap.nodeCount }, () => [])
  for (let n = 0; n < snap.nodeCount; n++) if (n !== ROOT) children[idom[n]].push(n)
  const totals = new Map()
  const open = new Map()
  const enter = (n) => {
    const k = key(n)
    if (!open.get(k)) totals.set(k, (totals.get(k) ?? 0) + retained[n])
    open.set(k, (open.get(k) ?? 0) + 1)
  }
  enter(ROOT)
  const stack = [[ROOT, 0]]
  while (stack.length) {
    const top = stack[stack.length - 1]
    const [n, i] = top
    if (i < children[n].length) {
      top[1]++
      enter(children[n][i])
      stack.push([children[n][i], 0])
    } else {
      stack.pop()
      open.set(key(n), open.get(key(n)) - 1)
    }
  }
  return totals
}

module.exports = {
  ROOT,
  DEVTOOLS,
  MEMLAB,
  readSnapshot,
  pageOwned,
  essentialEdges,
  retainedSizes,
  dominates,
  classRetained,
}
