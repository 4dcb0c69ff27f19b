'use strict'

/**
 * The file of a script V8 knows only by id. The inspector gives a function's place as a script
 * id, line and column (`[[FunctionLocation]]`); to say "a module-level variable of
 * /srv/app.js", the census needs the file. Three ways, cheapest first:
 *
 * 1. URLs already known: those of a sampling heap profile (the watcher's allocation sites
 *    keep one; the leaking code allocated, so its script is in it), and earlier answers.
 * 2. The function's own source, found around its line and column in a file of the service's
 *    modules: the CommonJS modules' and the ES modules' its entry and those files import
 *    (module-files.js), read asynchronously (no stop), the entry's first. This names an ES
 *    module's function in the first report, before any profile has its script. The function
 *    is held by a WeakRef from the pass that met it: gone, it is not looked for. A TypeScript
 *    file compiled in memory (tsx, ts-node) holds none of its functions' sources: once no file
 *    holds a function's source, its words are looked for in the TypeScript files read, the
 *    function's and those of the other functions of its script that its scopes hold (a
 *    compiler's helper is often the function met: source-match.js).
 * 3. The Debugger domain, enabled and disabled at once, which reports every script's URL: one
 *    stop of the event loop, taken only when predicted within `maxStopMs` (a worker's census,
 *    which stops the worker and not the service's main thread, within WORKER_MAX_STOP_MS).
 *
 * What that stop grows with, the same on Node 20, 22, 24 and 26: V8 hashes a script's source the
 * first time a round reports it, and keeps the hash, so each script costs its source's bytes
 * once (about 10 ms a MB: 200–250 ms the first time for a service that loaded a 20 MB bundle,
 * 20–40 ms for Node's own scripts alone); every round then costs each script loaded (its
 * event: 35–55 ms for 2,100) and the heap, whose every object enabling the debugger visits
 * (40–47 ms for 300 MB of small objects, first round or not). So the prediction counts the
 * scripts (the CommonJS modules, the ES modules way 2 reached, the entry, Node's own, and those
 * the last round reported beyond these: eval'd, `vm`'s), the bytes of the files no round has
 * reported yet (their sizes, stat'd asynchronously before the decision, once each), and the
 * heap in use; scaled by how much slower than predicted the last round was, when it was.
 */
const fs = require('node:fs')
const fsp = require('node:fs/promises')
const path = require('node:path')
const v8 = require('node:v8')
const { isMainThread } = require('node:worker_threads')
const { fileURLToPath } = require('node:url')
const reflect = require('./reflect')
const { ModuleFiles } = require('./module-files')
const { TYPESCRIPT, holdsAt, holdsStripped, compiledWords, fileWords, compiledFrom } = require('./source-match')
const { noteCompiledInMemory } = require('../../shared/source-maps')

/** The Debugger round's stop, what every round costs at least. */
const ROUND_MS = 5
/** Its stop per script loaded, every round. */
const MS_PER_SCRIPT = 0.025
/** Its stop per MB of the source of scripts no round has reported yet (V8 hashes each once). */
const MS_PER_NEW_SOURCE_MB = 11
/** Its stop per MB of heap in use, every round. */
const MS_PER_HEAP_MB = 0.15
/** The source of one of Node's own scripts, on average (12–16 KB on Node 20–26). */
const NODE_SCRIPT_BYTES = 16 * 1024
/**
 * The longest Debugger round a worker's census takes (`resolveByDebugger`): it stops the
 * worker, not the service's main thread, and the worker's pass already stops it for as long as
 * the main thread's census takes over its slices; but a worker serving requests stalls for as
 * long, so the round stays within the 250 ms any loop may be stopped, with room for the
 * prediction's error.
 */
const WORKER_MAX_STOP_MS = 200
/** Files stat'd at once to learn their sizes. */
const STATS_AT_ONCE = 32
/** Files read at most to find one report's functions. */
const MAX_FILES_READ = 400
/** Characters of a function's source looked for: enough to be one place in its file. */
const SOURCE_HEAD = 400
/** Functions of a script's scopes whose sources are tried, besides the one met, at most. */
const MAX_KIN = 12
const MB = 1024 * 1024

class ScriptFiles {
  #files = new Map() // script id -> file (or URL)
  #maxStopMs
  /** The ES modules' files the crawls of way 2 reached: scripts the Debugger round reports too. */
  #esModules = new Set()
  /** The entry's real path, once found (an ES module entry is in no list), or null. */
  #entry = undefined
  /** Each loaded file's size in bytes, once stat'd (0 for one that could not be). */
  #sizes = new Map()
  /** The files a Debugger round reported: their sources are hashed, and cost no more. */
  #reported = new Set()
  /** Node's own scripts when the last round was taken: hashed then. */
  #nodeScriptsReported = 0
  /** Scripts the last round reported besides the files and Node's own counted: eval'd, `vm`'s. */
  #otherScripts = 0
  /** How much slower than predicted the last round was, at least 1. */
  #slowdown = 1
  #clock

  /**
   * @param {{ maxStopMs: number, clock: import('../../shared/clock').Clock }} options the longest
   *   stop the Debugger round may take, and the clock that times it (`monotonic()`).
   */
  constructor({ maxStopMs, clock }) {
    this.#maxStopMs = maxStopMs
    this.#clock = clock
  }

  /** Learns the scripts of a sampling heap profile's functions (`{ head }` of the inspector). */
  noteProfile(profile) {
    const pending = profile?.head ? [profile.head] : []
    while (pending.length > 0) {
      const node = pending.pop()
      const { scriptId, url } = node.callFrame ?? {}
      if (typeof url === 'string' && url !== '' && scriptId !== undefined) this.#files.set(String(scriptId), fileOfUrl(url))
      if (Array.isArray(node.children)) for (const child of node.children) pending.push(child)
    }
  }

  /**
   * Sets `file` on each root (`{ scriptId, line, column, fn: WeakRef }`) that has a script id
   * and no file: from the URLs known, then from the functions' sources, and, with
   * `useDebugger`, from a Debugger round when some are still unnamed and it is predicted
   * within `maxStopMs`. A root none of them names keeps `file: null`. Resolves with
   * `{ debuggerMs }`, the stop of the Debugger round, or 0.
   * @param {Array<object>} roots
   * @param {import('./inspector-view').InspectorView | null} view
   * @param {{ useDebugger: boolean }} how
   */
  async resolve(roots, view, { useDebugger }) {
    if (this.#unnamed(roots).length > 0) await this.#findBySource(this.#unnamed(roots), view)
    if (!useDebugger || view === null || this.#unnamed(roots).length === 0) return this.resolveKnown(roots)
    await this.#learnSizes(this.#maxStopMs)
    return this.#resolveWithin(roots, view, this.#maxStopMs)
  }

  /** Sets `file` on the roots whose scripts are known already (no file read, no stop). */
  resolveKnown(roots) {
    for (const r of roots) if (r.file === null && r.scriptId !== null) r.file = this.#files.get(r.scriptId) ?? null
    return { debuggerMs: 0 }
  }

  /**
   * Sets `file` on the roots, in one go, with a Debugger round first when some are still
   * unnamed and it is predicted within WORKER_MAX_STOP_MS (or `maxStopMs`, if longer): for a
   * worker's census (in-worker.js), which stops the worker, not the service's main thread. The
   * sizes of the worker's module files are stat'd synchronously, a stop of the worker too.
   */
  resolveByDebugger(roots, view) {
    const maxStopMs = Math.max(this.#maxStopMs, WORKER_MAX_STOP_MS)
    if (view === null || this.#unnamed(roots).length === 0) return this.resolveKnown(roots)
    const files = this.#loadedFiles()
    if (this.#predictedDebuggerMs(files) <= maxStopMs) for (const file of files) if (!this.#sizes.has(file)) this.#sizes.set(file, sizeNow(file))
    return this.#resolveWithin(roots, view, maxStopMs)
  }

  /** Sets `file` on the roots, with a Debugger round first when some are unnamed and it is predicted within `maxStopMs`. */
  #resolveWithin(roots, view, maxStopMs) {
    let debuggerMs = 0
    if (this.#unnamed(roots).length > 0) {
      const files = this.#loadedFiles()
      const predicted = this.#predictedDebuggerMs(files)
      if (predicted <= maxStopMs) debuggerMs = this.#debuggerRound(view, files, predicted)
    }
    this.resolveKnown(roots)
    return { debuggerMs }
  }

  /**
   * Takes the Debugger round (predicted to stop `predicted` ms): learns every script's file,
   * and what the round cost against its prediction. Returns its stop.
   */
  #debuggerRound(view, files, predicted) {
    const nodeScripts = nodeScriptsLoaded()
    const started = this.#clock.monotonic()
    let urls = null
    try {
      urls = view.scriptUrls()
    } catch {
      // Left unnamed: the description says which line instead.
    }
    const debuggerMs = this.#clock.monotonic() - started
    if (urls !== null) {
      for (const [id, url] of urls) {
        const file = fileOfUrl(url)
        if (!this.#files.has(id)) this.#files.set(id, file)
        if (file !== null) this.#reported.add(file)
      }
      this.#nodeScriptsReported = nodeScripts
      this.#otherScripts = Math.max(0, urls.size - files.size - nodeScripts)
      this.#slowdown = Math.max(1, (this.#slowdown * debuggerMs) / predicted)
    }
    return debuggerMs
  }

  /** The roots with a script id whose file is not known yet. */
  #unnamed(roots) {
    return roots.filter((r) => r.file === null && r.scriptId !== null && !this.#files.has(r.scriptId))
  }

  /**
   * The Debugger round's stop, predicted from what this process has loaded: its scripts (the
   * `files`, Node's own and the others the last round reported), the source bytes of those no
   * round reported yet (a file whose size is not known yet counts none), and its heap.
   * @param {Set<string>} files
   */
  #predictedDebuggerMs(files) {
    const nodeScripts = nodeScriptsLoaded()
    let newBytes = Math.max(0, nodeScripts - this.#nodeScriptsReported) * NODE_SCRIPT_BYTES
    for (const file of files) if (!this.#reported.has(file)) newBytes += this.#sizes.get(file) ?? 0
    const scripts = files.size + nodeScripts + this.#otherScripts
    const heapMb = v8.getHeapStatistics().used_heap_size / MB
    return this.#slowdown * (ROUND_MS + scripts * MS_PER_SCRIPT + (newBytes / MB) * MS_PER_NEW_SOURCE_MB + heapMb * MS_PER_HEAP_MB)
  }

  /** The files of the scripts loaded that this process can list: its CommonJS modules, the ES modules found, its entry. */
  #loadedFiles() {
    const cache = reflect.ownValue(require('node:module'), '_cache')
    const files = new Set((reflect.ownKeys(cache ?? {}) ?? []).filter((file) => typeof file === 'string' && path.isAbsolute(file)))
    for (const file of this.#esModules) files.add(file)
    if (typeof this.#entry === 'string') files.add(this.#entry)
    return files
  }

  /**
   * Learns, asynchronously, the sizes of the loaded files not stat'd yet, and the entry's real
   * path: unless the round is predicted over `maxStopMs` without them (they would only add).
   */
  async #learnSizes(maxStopMs) {
    if (this.#entry === undefined) this.#entry = isMainThread && typeof process.argv[1] === 'string' ? await fsp.realpath(process.argv[1]).catch(() => null) : null
    const files = this.#loadedFiles()
    if (this.#predictedDebuggerMs(files) > maxStopMs) return
    const unknown = [...files].filter((file) => !this.#sizes.has(file))
    for (let i = 0; i < unknown.length; i += STATS_AT_ONCE) {
      const batch = unknown.slice(i, i + STATS_AT_ONCE)
      const sizes = await Promise.all(batch.map((file) => fsp.stat(file).then((stat) => stat.size, () => 0)))
      batch.forEach((file, j) => this.#sizes.set(file, sizes[j]))
    }
  }

  /**
   * Looks for each root's function in the files of the service's modules whose scripts are not
   * known yet: a file holds it when the function's source text spans the function's line and
   * column. Then, for those still unnamed, in the TypeScript files the crawl read: one holds
   * it when it holds the words of the function, or of another function of its script,
   * compiled (source-match.js; those are asked of `view` then, and only then); after every
   * file was looked at as it is, so that words never name a file whose text V8 runs.
   * @param {Array<object>} roots
   * @param {import('./inspector-view').InspectorView | null} view
   */
  async #findBySource(roots, view) {
    const wanted = new Map() // script id -> { line, column, source, length, fn }
    for (const r of roots) {
      if (wanted.has(r.scriptId)) continue
      const fn = r.fn?.deref()
      const place = typeof fn === 'function' ? sourcePlace(fn, r.line, r.column) : null
      if (place !== null) wanted.set(r.scriptId, { ...place, fn: r.fn })
    }
    if (wanted.size === 0) return
    const typescript = [] // the TypeScript files read
    const crawl = new ModuleFiles({ known: this.#files.values() })
    try {
      for await (const { file, text } of crawl.files(MAX_FILES_READ)) {
        if (TYPESCRIPT.test(file)) typescript.push(file)
        const found = [...wanted].find(([, place]) => holdsAt(text, place) || (TYPESCRIPT.test(file) && holdsStripped(text, place)))
        if (found !== undefined) this.#named(found[0], file, wanted)
        if (wanted.size === 0) return
      }
    } finally {
      for (const file of crawl.esModules) this.#esModules.add(file)
    }
    await this.#findCompiled(wanted, typescript, view)
  }

  /**
   * Looks for the scripts of `wanted` (as #findBySource makes it) in the TypeScript files
   * `files` by their functions' words (source-match.js): the words of each one's function and
   * of the other functions of its script that its scopes hold, found at the first file read.
   * A file that holds them is noted as compiled in memory from its text (source-maps.js).
   */
  async #findCompiled(wanted, files, view) {
    const compiled = new Map() // script id -> the words of its functions
    for (const file of files) {
      const text = await readText(file)
      if (text === null) continue
      const words = fileWords(text)
      for (const [scriptId, place] of wanted) {
        if (!compiled.has(scriptId)) compiled.set(scriptId, compiledSources(place, scriptId, view))
        if (!compiled.get(scriptId).some((sourceWords) => compiledFrom(words, sourceWords))) continue
        noteCompiledInMemory(file)
        this.#named(scriptId, file, wanted)
        break
      }
      if (wanted.size === 0) return
    }
  }

  /** Names script `scriptId` by `file`, no longer `wanted`. */
  #named(scriptId, file, wanted) {
    this.#files.set(scriptId, file)
    wanted.delete(scriptId)
  }
}

/** A file's text, or null when it cannot be read now. */
async function readText(file) {
  try {
    return await fsp.readFile(file, 'utf8')
  } catch {
    return null
  }
}

/** `{ line, column, source, length }` of a function (`source` its first SOURCE_HEAD characters), or null where it has none. */
function sourcePlace(fn, line, column) {
  const source = reflect.functionSource(fn)
  return typeof source === 'string' ? { line, column, source: source.slice(0, SOURCE_HEAD), length: source.length } : null
}

/**
 * The words (compiledWords) of the function of `place` and of the functions of script
 * `scriptId` that its scopes hold (`view` tells their scripts; none without it), each that
 * has enough of them: a compiler's helper met first (tsx's exports are esbuild's getters)
 * holds the module's own functions in a scope.
 */
function compiledSources(place, scriptId, view) {
  const sources = [place]
  const fn = place.fn?.deref()
  if (view !== null && typeof fn === 'function') {
    try {
      const kin = view.functionDetails(fn).scopes.flatMap((scope) => scope.variables.map((v) => v.value)).filter((v) => typeof v === 'function' && v !== fn)
      for (const other of kin.slice(0, MAX_KIN)) {
        if (view.functionLocation(other)?.scriptId !== scriptId) continue
        const found = sourcePlace(other, 0, 0)
        if (found !== null) sources.push(found)
      }
    } catch {
      // Not read (a read that would run the service's code, or refused): the function's own words only.
    }
  }
  return sources.map(compiledWords).filter((words) => words !== null)
}


/** Node's own scripts loaded (`process.moduleLoadList`'s built-in modules), or 200 where it is not listed. */
function nodeScriptsLoaded() {
  const list = reflect.ownValue(process, 'moduleLoadList')
  if (!reflect.isArray(list)) return 200
  let count = 0
  for (const entry of list) if (typeof entry === 'string' && entry.startsWith('NativeModule ')) count++
  return count
}

/** A file's size in bytes, synchronously (0 for one that cannot be stat'd). */
function sizeNow(file) {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

/** A script URL as a person reads it: a path for a file, the URL otherwise; null for none. */
function fileOfUrl(url) {
  if (!url) return null
  return url.startsWith('file://') ? fileURLToPath(url) : url
}

module.exports = { ScriptFiles }
