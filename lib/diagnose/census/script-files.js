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
 *    is held by a WeakRef from the pass that met it: gone, it is not looked for.
 * 3. The Debugger domain, enabled and disabled at once, which reports every script's URL: one
 *    stop of the event loop that grows with the scripts loaded (about 0.13 ms a script here),
 *    taken only when it is predicted within `maxStopMs`, counting the CommonJS modules and the
 *    ES modules way 2 reached.
 */
const { fileURLToPath } = require('node:url')
const reflect = require('./reflect')
const { ModuleFiles } = require('./module-files')

/** The Debugger round's stop per script loaded, measured here (70 ms for 560 scripts). */
const DEBUGGER_MS_PER_SCRIPT = 0.13
/** Node's own scripts a service has loaded besides its modules, about (550 in all for Express). */
const NODE_SCRIPTS = 350
/** Files read at most to find one report's functions. */
const MAX_FILES_READ = 400
/** Characters of a function's source looked for: enough to be one place in its file. */
const SOURCE_HEAD = 400

class ScriptFiles {
  #files = new Map() // script id -> file (or URL)
  #maxStopMs
  /** The ES modules' files the crawls of way 2 reached: scripts the Debugger round reports too. */
  #esModules = new Set()

  /** @param {{ maxStopMs: number }} options the longest stop the Debugger round may take. */
  constructor({ maxStopMs }) {
    this.#maxStopMs = maxStopMs
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
    if (this.#unnamed(roots).length > 0) await this.#findBySource(this.#unnamed(roots))
    const withinStop = useDebugger && this.#predictedDebuggerMs() <= this.#maxStopMs
    return withinStop ? this.resolveByDebugger(roots, view) : this.resolveKnown(roots)
  }

  /** Sets `file` on the roots whose scripts are known already (no file read, no stop). */
  resolveKnown(roots) {
    for (const r of roots) if (r.file === null && r.scriptId !== null) r.file = this.#files.get(r.scriptId) ?? null
    return { debuggerMs: 0 }
  }

  /**
   * Sets `file` on the roots, with a Debugger round first when some are still unnamed,
   * whatever its stop: `resolve` asks only when it is predicted within `maxStopMs`; a worker's
   * census (worker-census.js) stops the worker, not the service's main thread.
   */
  resolveByDebugger(roots, view) {
    let debuggerMs = 0
    if (this.#unnamed(roots).length > 0 && view !== null) {
      const started = performance.now()
      try {
        for (const [id, url] of view.scriptUrls()) if (!this.#files.has(id)) this.#files.set(id, fileOfUrl(url))
      } catch {
        // Left unnamed: the description says which line instead.
      }
      debuggerMs = performance.now() - started
    }
    this.resolveKnown(roots)
    return { debuggerMs }
  }

  /** The roots with a script id whose file is not known yet. */
  #unnamed(roots) {
    return roots.filter((r) => r.file === null && r.scriptId !== null && !this.#files.has(r.scriptId))
  }

  /**
   * The Debugger round's stop, predicted from the scripts this process has loaded: its
   * CommonJS modules, the ES modules found so far, and Node's own.
   */
  #predictedDebuggerMs() {
    const cache = reflect.ownValue(require('node:module'), '_cache')
    const modules = reflect.ownKeys(cache ?? {})?.length ?? 0
    return (modules + this.#esModules.size + NODE_SCRIPTS) * DEBUGGER_MS_PER_SCRIPT
  }

  /**
   * Looks for each root's function in the files of the service's modules whose scripts are not
   * known yet: a file holds it when the function's source text spans the function's line and column.
   */
  async #findBySource(roots) {
    const wanted = new Map() // script id -> { line, column, source }
    for (const r of roots) {
      if (wanted.has(r.scriptId)) continue
      const fn = r.fn?.deref()
      const source = typeof fn === 'function' ? reflect.functionSource(fn) : null
      if (source !== null) wanted.set(r.scriptId, { line: r.line, column: r.column, source: source.slice(0, SOURCE_HEAD), length: source.length })
    }
    if (wanted.size === 0) return
    const crawl = new ModuleFiles({ known: this.#files.values() })
    try {
      for await (const { file, text } of crawl.files(MAX_FILES_READ)) {
        for (const [scriptId, place] of wanted) {
          if (!holdsAt(text, place)) continue
          this.#files.set(scriptId, file)
          wanted.delete(scriptId)
          break
        }
        if (wanted.size === 0) break
      }
    } finally {
      for (const file of crawl.esModules) this.#esModules.add(file)
    }
  }
}

/**
 * Whether `text` holds the function at 1-based `line` and `column`: its source text is in the
 * file, around that place. (V8 places a function where its parameters start, its source text
 * begins at `function`, `async` or its name.)
 */
function holdsAt(text, { line, column, source, length }) {
  let at = text.indexOf(source)
  if (at === -1) return false
  let place = 0
  for (let l = 1; l < line; l++) {
    place = text.indexOf('\n', place)
    if (place === -1) return false
    place++
  }
  place += column - 1
  for (; at !== -1 && at <= place; at = text.indexOf(source, at + 1)) {
    if (place < at + length) return true
  }
  return false
}

/** A script URL as a person reads it: a path for a file, the URL otherwise; null for none. */
function fileOfUrl(url) {
  if (!url) return null
  return url.startsWith('file://') ? fileURLToPath(url) : url
}

module.exports = { ScriptFiles }
