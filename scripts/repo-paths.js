'use strict'

/**
 * `node scripts/repo-paths.js [ROOT]` (part of `npm run lint`): every path of this repository
 * that a comment or a doc names exists. Read are the comments of the code (JavaScript and
 * TypeScript through TypeScript's own parser, Rust and shell scripts by their comment marks) in
 * lib/, src/, scripts/, bin/, bench/, __test__/, demo/ and the root, and the whole text of the
 * Markdown files at the root and in docs/.
 *
 * What counts as a path of this repository, so that a user's example (`src/store.ts`,
 * `./session-store.js`, `dist/server.js`), a URL or a package's file is never taken for one:
 * - a path whose first segment is a top-level entry of the repository (`lib/watch/watcher.js`,
 *   `docs/capture.md`, `.ci/run`), read from the root; under src/, only a Rust file or a folder
 *   under one that exists (`src/core/…`): src/ is also where users keep their code;
 * - in a comment, the module of a relative `import(…)` type (`{import(…).Clock}`), read from
 *   the file's folder as Node resolves it (`.js`, `.d.ts`, `index.js`, …);
 * - in Markdown, a link's target (`[x](capture.md#anchor)`), read from the file's folder.
 * A path inside a longer one (an absolute path, a URL, a file in another repository or under
 * node_modules) is none, and so is one that git ignores (`bench/out/…`, what a run writes). Allowed after a path: `:line`, `:line-line`, `:line:column` and `#anchor`; a
 * path with `*` is a glob, which must match something. Files under a folder with a package.json
 * of its own (a fixture's project) are not read: their paths are that project's.
 *
 * Prints each path that does not exist as `file:line: path`, and the counts; exits 1 if any.
 */
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

/** The folders whose code's comments are read (and the root's own files). */
const CODE_DIRS = ['lib', 'src', 'scripts', 'bin', 'bench', '__test__', 'demo']
/** The endings of the code read, by how its comments are found. */
const JS_ENDINGS = ['.js', '.cjs', '.mjs']
const TS_ENDINGS = ['.ts', '.mts', '.cts']
/** Characters a path is made of: a run of them is a candidate. */
const PATH_RUN = /[\w.@*/-]+/g
/**
 * A type's module in a comment: a relative `import(…)` followed by a name of what it exports
 * (`import(…).Clock`) or closing the type (`{import(…)}`), not one quoted in prose.
 */
const TYPE_IMPORT = /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)(?=\.\w|\s*[}|>,\]])/g
/** What Node (or tsc) tries after a module's name, in order. */
const MODULE_ENDINGS = ['', '.js', '.cjs', '.mjs', '.json', '.d.ts', '.ts', '/index.js', '/index.d.ts']
/** A Markdown link's target, inline or by reference. */
const MD_LINK = /\]\(([^)\s]+)(?:\s+"[^"]*")?\)|^\s*\[[^\]]+\]:\s*(\S+)/gm

/**
 * The files of the repository at `root`: tracked and untracked but not ignored (git's view),
 * those still on disk.
 */
function repoFiles(root) {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
  return [...new Set(listed.split('\0').filter(Boolean))].filter((file) => fs.existsSync(path.join(root, file)))
}

/** Every folder that holds one of `files`, as a repository path without the trailing slash. */
function foldersOf(files) {
  const folders = new Set()
  for (const file of files) {
    for (let dir = path.posix.dirname(file); dir !== '.'; dir = path.posix.dirname(dir)) folders.add(dir)
  }
  return folders
}

/**
 * The comments of a JavaScript or TypeScript file, each `{ text, offset }`: every comment range
 * before and after each token of TypeScript's syntax tree (so none is taken from a string, a
 * template or a regular expression), each once.
 */
function scriptComments(ts, file, text) {
  const kind = JS_ENDINGS.some((e) => file.endsWith(e)) ? ts.ScriptKind.JS : ts.ScriptKind.TS
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind)
  const seen = new Map()
  const note = (pos, end) => {
    if (!seen.has(pos)) seen.set(pos, { text: text.slice(pos, end), offset: pos })
  }
  const visit = (node) => {
    ts.forEachLeadingCommentRange(text, node.pos, note)
    ts.forEachTrailingCommentRange(text, node.end, note)
    for (const child of node.getChildren(source)) visit(child)
  }
  visit(source)
  return [...seen.values()]
}

/** The comments of Rust code (`//…`, `/* … *\/`), outside string and character literals. */
function rustComments(text) {
  const comments = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i)
      const stop = end === -1 ? text.length : end
      comments.push({ text: text.slice(i, stop), offset: i })
      i = stop
    } else if (c === '/' && text[i + 1] === '*') {
      let depth = 1
      let j = i + 2
      while (j < text.length && depth > 0) {
        if (text.startsWith('/*', j)) [depth, j] = [depth + 1, j + 2]
        else if (text.startsWith('*/', j)) [depth, j] = [depth - 1, j + 2]
        else j++
      }
      comments.push({ text: text.slice(i, j), offset: i })
      i = j
    } else if (c === 'r' && /^r#*"/.test(text.slice(i, i + 8)) && !/\w/.test(text[i - 1] ?? '')) {
      const hashes = /^r(#*)"/.exec(text.slice(i))[1]
      const end = text.indexOf(`"${hashes}`, i + hashes.length + 2)
      i = end === -1 ? text.length : end + hashes.length + 1
    } else if (c === '"') {
      let j = i + 1
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      i = j + 1
    } else if (c === "'") {
      // A character literal ('x', '\n', '\u{…}'); otherwise a lifetime, which holds no comment mark.
      const literal = /^'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'/.exec(text.slice(i, i + 12))
      i += literal === null ? 1 : literal[0].length
    } else {
      i++
    }
  }
  return comments
}

/** The comments of a shell script: from a `#` that starts a word to the line's end (not the `#!` line). */
function shellComments(text) {
  const comments = []
  for (const match of text.matchAll(/(^|[ \t])(#(?!!).*)$/gm)) comments.push({ text: match[2], offset: match.index + match[1].length })
  return comments
}

/** Whether `text` is a shell script: its first line runs a shell. */
const isShellScript = (text) => /^#!.*\b(sh|bash|dash|zsh)\b/.test(text)

/**
 * The path `run` (a whole run of path characters) names in the repository, from the root, or
 * null when it names none (see the module doc): a run that starts with `/` (an absolute path, a
 * URL's `//host/…`) or `.` has no top-level entry for its first segment, nor has one that goes
 * on from a path outside the repository (`node_modules/pkg/lib/…`, `$HOME/lib/…`, `~/lib/…`).
 */
function repoPathOf(run, repo) {
  const name = run.replace(/[.-]+$/, '')
  if (!name.includes('/') || name.startsWith('.')) return null
  const [first, second] = name.split('/')
  if (!repo.topLevel.has(first)) return null
  if (first === 'src' && second !== undefined && second !== '' && !name.endsWith('.rs')) {
    // A user's src/ (`src/store.ts`, `src/main`) unless it goes down a folder this one has.
    if (/\.\w+$/.test(name) || !repo.folders.has(`src/${second}`)) return null
  }
  return name
}

/** Whether `target` (a repository path, perhaps a folder with a trailing slash, perhaps a glob) exists. */
function exists(target, repo) {
  const clean = target.replace(/\/+$/, '')
  if (clean === '' || clean === '.') return true
  if (clean.includes('*')) {
    const pattern = new RegExp(`^${clean.split('/').map((part) => part.split('*').map(escapeRegExp).join(part === '**' ? '.*' : '[^/]*')).join('/')}(/|$)`)
    return repo.files.some((file) => pattern.test(file))
  }
  return repo.fileSet.has(clean) || repo.folders.has(clean)
}

function escapeRegExp(text) {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
}

/** The line of `offset` in `text`, counting from 1. */
function lineAt(text, offset) {
  let line = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++
  return line
}

/** The paths that `chunk` (at `offset` of its file) names and that do not exist, as `{ path, offset, target }`. */
function stalePaths(chunk, offset, repo) {
  const stale = []
  for (const match of chunk.matchAll(PATH_RUN)) {
    const target = repoPathOf(match[0], repo)
    if (target !== null && !exists(target, repo)) stale.push({ path: match[0].replace(/[.-]+$/, ''), offset: offset + match.index, target })
  }
  return stale
}

/** The modules of the `import('…')` types in `comment` (at `offset`) that resolve to no file, as `{ path, offset, target }`. */
function staleImports(comment, offset, from, repo) {
  const stale = []
  for (const match of comment.matchAll(TYPE_IMPORT)) {
    const target = path.posix.normalize(path.posix.join(from, match[1]))
    if (!MODULE_ENDINGS.some((ending) => repo.fileSet.has(target + ending))) stale.push({ path: match[1], offset: offset + match.index, target })
  }
  return stale
}

/** Of `targets` (repository paths), those git ignores: what a run writes (bench/out/…, target/). */
function ignoredOf(root, targets) {
  if (targets.length === 0) return new Set()
  try {
    const out = execFileSync('git', ['check-ignore', '--no-index', '--stdin', '-z'], { cwd: root, input: targets.join('\0'), encoding: 'utf8' })
    return new Set(out.split('\0').filter(Boolean))
  } catch (err) {
    if (err.status === 1) return new Set() // none is ignored
    throw err
  }
}

/** The Markdown link targets of `text` that name no file of the repository, as `{ path, offset }`. */
function staleLinks(text, from, repo) {
  const stale = []
  for (const match of text.matchAll(MD_LINK)) {
    const raw = match[1] ?? match[2]
    if (/^[a-z][a-z+.-]*:/i.test(raw) || raw.startsWith('#') || raw.startsWith('<')) continue
    const target = decodeURI(raw.split('#')[0])
    const resolved = target.startsWith('/') ? target.slice(1) : path.posix.normalize(path.posix.join(from, target))
    if (!exists(resolved, repo)) stale.push({ path: raw, offset: match.index, target: resolved })
  }
  return stale
}

/**
 * The files read (see the module doc): code in CODE_DIRS and the root, Markdown at the root and
 * in docs/, none under a fixture's project (a folder below the root with its own package.json).
 */
function filesToRead(repo) {
  const projects = repo.files.filter((f) => f.endsWith('/package.json')).map((f) => path.posix.dirname(f) + '/')
  const code = (file) => JS_ENDINGS.some((e) => file.endsWith(e)) || TS_ENDINGS.some((e) => file.endsWith(e)) || file.endsWith('.rs') || file.endsWith('.sh')
  return repo.files.filter((file) => {
    if (projects.some((dir) => file.startsWith(dir))) return false
    const top = file.split('/')[0]
    if (file.endsWith('.md')) return !file.includes('/') || top === 'docs'
    if (!file.includes('/')) return code(file)
    return (CODE_DIRS.includes(top) && code(file)) || (top === '.ci' && !path.posix.basename(file).includes('.'))
  })
}

/** Every stale path in the repository at `root`: `{ file, line, path }`, in file order. */
function findStale(root) {
  const files = repoFiles(root)
  const repo = { files, fileSet: new Set(files), folders: foldersOf(files), topLevel: new Set(files.map((f) => f.split('/')[0])) }
  const ts = require('typescript')
  const found = []
  const read = filesToRead(repo)
  for (const file of read) {
    const text = fs.readFileSync(path.join(root, file), 'utf8')
    const from = path.posix.dirname(file)
    let stale
    if (file.endsWith('.md')) {
      stale = [...stalePaths(text, 0, repo), ...staleLinks(text, from, repo)]
    } else {
      const comments = file.endsWith('.rs')
        ? rustComments(text)
        : file.endsWith('.sh') || isShellScript(text)
          ? shellComments(text)
          : scriptComments(ts, file, text)
      stale = comments.flatMap((c) => [...stalePaths(c.text, c.offset, repo), ...staleImports(c.text, c.offset, from, repo)])
    }
    for (const s of stale.sort((a, b) => a.offset - b.offset)) found.push({ file, line: lineAt(text, s.offset), path: s.path, target: s.target })
  }
  const ignored = ignoredOf(root, [...new Set(found.map((s) => s.target.replace(/\/+$/, '')))])
  return { found: found.filter((s) => !ignored.has(s.target.replace(/\/+$/, ''))).map(({ file, line, path }) => ({ file, line, path })), read: read.length }
}

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'))
  const { found, read } = findStale(root)
  for (const s of found) console.log(`${s.file}:${s.line}: ${s.path} does not exist`)
  console.log(`repo-paths: ${read} files read, ${found.length} path${found.length === 1 ? '' : 's'} that do not exist`)
  process.exitCode = found.length > 0 ? 1 : 0
}

module.exports = { findStale }
