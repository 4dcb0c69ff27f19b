'use strict'

/**
 * The files of the service's modules, read one at a time, for script-files.js to find a
 * function's source in, with no stop of the event loop. The CommonJS modules are listed by
 * `Module._cache`; the ES modules by nothing a module can read (the ESM loader's registry is
 * Node's own), so they are found as the service found them: from its entry (`process.argv[1]`)
 * and every file read, through the specifiers of their `import`, `export … from` and
 * `import()`, resolved as Node resolves them closely enough to reach the file (relative
 * paths and file URLs, `node_modules` packages by their `exports`, `main` or subpath, and a
 * package's `#imports`), and as a TypeScript loader does (tsx: `./store.js` is `./store.ts`
 * where no `store.js` is). A specifier that names no file, or a file that is not a module of the
 * service (a condition's target never loaded, a match in a comment), costs a read and names
 * nothing: the function's source is looked for in each file, never assumed to be there.
 *
 * Order, likeliest first: the entry, then the app's files (outside `node_modules`), then the
 * packages'; among those, the ones reached through an import before the rest of the CommonJS
 * modules (in an ES module service, the CommonJS modules are mostly its packages' own
 * dependencies; in a CommonJS service, few files are imported), each in the order reached.
 * Reads are asynchronous; each file's text is scanned in one go (a file over MAX_FILE_BYTES is
 * not read).
 */
const fs = require('node:fs/promises')
const path = require('node:path')
const { scriptPath } = require('../../shared/script-path')
const { isBuiltin } = require('node:module')
const reflect = require('./reflect')

/**
 * The largest file read: a service bundled into one file (esbuild, webpack) is its entry, and
 * often over 8 MB; its text is held only while it is searched.
 */
const MAX_FILE_BYTES = 32 * 1024 * 1024
/**
 * A larger file has its imports looked for in its first IMPORTS_HEAD characters only (a bundle
 * imports little, and scanning 8 MB takes about 20 ms, a stop).
 */
const MAX_SCANNED = 1024 * 1024
const IMPORTS_HEAD = 64 * 1024
/** Specifiers resolved at most per crawl (each costs a few file-system calls). */
const MAX_SPECIFIERS = 4000
/**
 * `import … from 'x'`, `import 'x'`, `export … from 'x'`, `import('x')`: the specifier `x` (not
 * `Buffer.from('x')`, nor a method named import).
 */
const SPECIFIER = /(?<![.\w$])(?:from\s*|import\s*(?:\(\s*)?)(['"])([^'"\n\r]{1,300})\1/g
/** Extensions tried for a relative specifier without one (a CommonJS module's `import('./x')`). */
const EXTENSIONS = ['', '.js', '.mjs', '.cjs', '/index.js', '/index.mjs']
/** Then, as a TypeScript loader tries them: without one, or for a JavaScript one that names no file. */
const TYPESCRIPT_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '/index.ts', '/index.tsx']
const TYPESCRIPT_FOR = { '.js': ['.ts', '.tsx'], '.jsx': ['.tsx'], '.mjs': ['.mts'], '.cjs': ['.cts'] }

/**
 * Crawls the service's module files, likeliest first. `files()` yields `{ file, text }` for
 * each file read that is not in `known`; files in `known` are read only to follow their imports.
 * `esModules` counts the files reached through a specifier that `Module._cache` does not hold.
 */
class ModuleFiles {
  #tiers = [[], [], [], [], []] // the entry; the app's files imported, then cached; the packages', the same
  #seen = new Set()
  #cjs
  #packages = new Map() // a folder -> its package.json's content, or null
  #resolved = new Map() // folder and specifier -> the files
  #specifiers = 0
  /** Files reached through an import that are not CommonJS modules: ES modules, about. */
  esModules = new Set()

  #known
  #entries

  /**
   * @param {object} where
   * @param {Iterable<string>} where.known files (or URLs) whose scripts are known: files read for their imports only
   * @param {Array<string>} [where.entries] the entry files, first read: by default the process' (`process.argv[1]`, `require.main`)
   * @param {Iterable<string>} [where.cjsFiles] the CommonJS modules' files: by default `Module._cache`'s
   */
  constructor({ known, entries = defaultEntries(), cjsFiles = cachedModules() }) {
    this.#known = new Set([...known].filter((file) => path.isAbsolute(file)))
    this.#entries = entries
    this.#cjs = new Set(cjsFiles)
  }

  /** The files, read, at most `maxFiles` reads: `{ file, text }` each, `text` never null. */
  async *files(maxFiles) {
    await this.#addEntries()
    for (const file of this.#cjs) this.#add(file, true)
    for (const file of this.#known) this.#add(file, true)
    for (let read = 0, file = this.#next(); file !== undefined && read < maxFiles; file = this.#next()) {
      read++
      const text = await readSmall(file)
      if (text === null) continue
      if (!this.#known.has(file)) yield { file, text }
      await this.#follow(file, text)
    }
  }

  /** The entries, as Node found them (a CommonJS entry may lack its extension). */
  async #addEntries() {
    for (const main of this.#entries) {
      const entry = await existingFile(path.resolve(main), EXTENSIONS)
      if (entry !== null) this.#add(entry, false, 0)
    }
  }

  /** Queues `file`, once: `cached` for one listed rather than reached through an import. */
  #add(file, cached, tier = (file.includes(`${path.sep}node_modules${path.sep}`) ? 3 : 1) + (cached ? 1 : 0)) {
    if (this.#seen.has(file)) return
    this.#seen.add(file)
    this.#tiers[tier].push(file)
  }

  #next() {
    return this.#tiers.find((tier) => tier.length > 0)?.shift()
  }

  /** Adds the files `text` (the file `file`'s) imports. */
  async #follow(file, text) {
    const scanned = text.length > MAX_SCANNED ? text.slice(0, IMPORTS_HEAD) : text
    for (const [, , specifier] of scanned.matchAll(SPECIFIER)) {
      if (this.#specifiers >= MAX_SPECIFIERS) return
      this.#specifiers++
      const key = `${path.dirname(file)}\0${specifier}`
      if (!this.#resolved.has(key)) this.#resolved.set(key, await this.#resolve(specifier, file))
      for (const target of this.#resolved.get(key)) {
        if (!this.#cjs.has(target)) this.esModules.add(target)
        this.#add(target, false)
      }
    }
  }

  /** The files `specifier`, imported by `from`, may name (real paths), or none. */
  async #resolve(specifier, from) {
    if (isBuiltin(specifier) || (/^[a-z][a-z0-9+.-]*:/i.test(specifier) && !specifier.startsWith('file:'))) return []
    if (specifier.startsWith('file:')) {
      const file = scriptPath(specifier)
      return file === null ? [] : found(await existingFile(file, ['']))
    }
    if (specifier.startsWith('.') || specifier.startsWith('/')) return found(await relativeFile(path.resolve(path.dirname(from), specifier)))
    if (specifier.startsWith('#')) return this.#packageImports(specifier, from)
    return this.#packageFiles(specifier, from)
  }

  /** `name/sub` in the nearest `node_modules/name` above `from`: its `exports`' targets, or `main`, or the subpath. */
  async #packageFiles(specifier, from) {
    const parts = specifier.split('/')
    const nameLength = specifier.startsWith('@') ? 2 : 1
    const name = parts.slice(0, nameLength).join('/')
    const subpath = ['.', ...parts.slice(nameLength)].join('/')
    for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
      if (path.basename(dir) !== 'node_modules') {
        const root = path.join(dir, 'node_modules', name)
        const manifest = (await this.#manifest(root)) ?? ((await isFolder(root)) ? {} : null)
        if (manifest !== null) return this.#existing(root, manifest.exports !== undefined ? exportTargets(manifest.exports, subpath) : subpath === '.' ? [manifest.main ?? 'index.js', 'index.js'] : [subpath])
      }
      if (path.dirname(dir) === dir) return []
    }
  }

  /** `#name` by the `imports` of the nearest package.json above `from`. */
  async #packageImports(specifier, from) {
    for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
      const manifest = await this.#manifest(dir)
      if (manifest !== null) return manifest.imports === undefined ? [] : this.#existing(dir, exportTargets(manifest.imports, specifier))
      if (path.dirname(dir) === dir) return []
    }
  }

  /** The targets (relative to `root`) that are files, as real paths. */
  async #existing(root, targets) {
    const files = []
    for (const target of targets) {
      const file = await existingFile(path.resolve(root, target), EXTENSIONS)
      if (file !== null && !files.includes(file)) files.push(file)
    }
    return files
  }

  /** The content of the package.json in folder `dir`, or null for none Node would read: read once a crawl. */
  async #manifest(dir) {
    if (!this.#packages.has(dir)) {
      let manifest = null
      try {
        manifest = JSON.parse(await readSmall(path.join(dir, 'package.json')))
      } catch {
        // Not a package.json Node would read either.
      }
      this.#packages.set(dir, manifest !== null && typeof manifest === 'object' ? manifest : null)
    }
    return this.#packages.get(dir)
  }
}

/** The process' entry files: the script Node ran (`process.argv[1]`) and the CommonJS main module. */
function defaultEntries() {
  return [process.argv[1], require.main?.filename].filter((file) => typeof file === 'string' && file !== '')
}

/** The files of the CommonJS modules loaded (`Module._cache`'s keys). */
function cachedModules() {
  const cache = reflect.ownValue(require('node:module'), '_cache')
  return (reflect.ownKeys(cache ?? {}) ?? []).filter((f) => typeof f === 'string')
}

/**
 * The targets `exports` (or `imports`) gives `subpath` under any condition: every one, since
 * which conditions the service was loaded with is not known (a wrong one names nothing).
 */
function exportTargets(exports, subpath) {
  const conditionsOnly = typeof exports === 'string' || Array.isArray(exports) || !Object.keys(exports ?? {}).some((k) => k.startsWith('.') || k.startsWith('#'))
  if (conditionsOnly) return subpath === '.' ? leaves(exports) : []
  if (Object.hasOwn(exports, subpath)) return leaves(exports[subpath])
  for (const [key, value] of Object.entries(exports)) {
    const star = key.indexOf('*')
    if (star === -1) continue
    const [prefix, suffix] = [key.slice(0, star), key.slice(star + 1)]
    if (subpath.length < key.length - 1 || !subpath.startsWith(prefix) || !subpath.endsWith(suffix)) continue
    const match = subpath.slice(prefix.length, subpath.length - suffix.length)
    return leaves(value).map((target) => target.replaceAll('*', match))
  }
  return []
}

/** The string targets of a conditions object (nested, arrays too), type declarations left out. */
function leaves(value) {
  if (typeof value === 'string') return /\.d\.[cm]?ts$/.test(value) ? [] : [value]
  if (Array.isArray(value)) return value.flatMap(leaves)
  if (value === null || typeof value !== 'object') return []
  return Object.entries(value).flatMap(([condition, target]) => (condition === 'types' ? [] : leaves(target)))
}

/** The first of `file` + each of `extensions` that is a file, as its real path; null for none. */
async function existingFile(file, extensions) {
  for (const extension of extensions) {
    try {
      const real = await fs.realpath(file + extension)
      if ((await fs.stat(real)).isFile()) return real
    } catch {
      // Not this one.
    }
  }
  return null
}

/**
 * The file a relative specifier resolved to `file` names: with one of EXTENSIONS, else as a
 * TypeScript loader finds it; null for none.
 */
async function relativeFile(file) {
  const javascript = path.extname(file)
  const typescript = TYPESCRIPT_FOR[javascript]
  return (
    (await existingFile(file, EXTENSIONS)) ??
    (typescript === undefined ? await existingFile(file, TYPESCRIPT_EXTENSIONS) : await existingFile(file.slice(0, -javascript.length), typescript))
  )
}

/** Whether `dir` is a folder. */
async function isFolder(dir) {
  try {
    return (await fs.stat(dir)).isDirectory()
  } catch {
    return false
  }
}

/** `[file]`, or none for null. */
function found(file) {
  return file === null ? [] : [file]
}

/** A file's text, or null when it cannot be read or is larger than MAX_FILE_BYTES. */
async function readSmall(file) {
  try {
    const stat = await fs.stat(file)
    if (!stat.isFile() || stat.size > MAX_FILE_BYTES) return null
    return await fs.readFile(file, 'utf8')
  } catch {
    return null
  }
}

module.exports = { ModuleFiles }
