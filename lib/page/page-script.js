'use strict'

/**
 * The report page's own script, built from the browser modules in browser/ (page.js, the entry,
 * and the modules it requires): each is put in the page whole, as its text, in a function that
 * gives it `module`, `exports` and a `require` of the page's own, as Node would; the script then
 * runs page.js's `main`. Nothing is listed by hand: the modules are found by following their
 * `require`s, so Node's tests and the page run the same files.
 *
 * A browser module requires with `const { a, b } = require('…')` only. Another browser module
 * is put in whole; of a module outside browser/ (bytes-text.js, holder-label.js: Node modules
 * that also run elsewhere) the page gets the functions named, as their source text, so each
 * must be a function declaration that uses nothing outside itself. Anything else is refused
 * here, when the page is built, not in the browser.
 */
const fs = require('node:fs')
const path = require('node:path')

/** The folder of the browser modules, and the one the page starts with. */
const BROWSER_DIR = path.join(__dirname, 'browser')
const ENTRY = path.join(BROWSER_DIR, 'page.js')

/** Module ids in the page: paths under lib/, so the script says where each came from. */
const LIB = path.join(__dirname, '..')

/** The only `require` a browser module makes: `const { a, b } = require(…)` of a relative path, on a line of its own. */
const REQUIRE_LINE = /^const \{([\w\s,]+)\} = require\('(\.{1,2}\/[^']+)'\)$/

/** The id of `file` in the page: its path under lib/, with `/`. */
function moduleId(file) {
  return path.relative(LIB, file).split(path.sep).join('/')
}

/**
 * What `file`'s text requires: `{ request, names, target }` for each `require` line, `target`
 * the file it resolves to. Throws on a `require` of any other form.
 */
function requiresOf(file, text) {
  const found = []
  for (const line of text.split('\n')) {
    const code = line.trim()
    if (!code.includes('require(') || code.startsWith('*') || code.startsWith('/')) continue
    const match = REQUIRE_LINE.exec(code)
    if (match === null) throw new Error(`${moduleId(file)}: the report page's modules require with \`const { … } = require(…)\` of a relative path only, not \`${code}\``)
    const [, names, request] = match
    const target = require.resolve(path.resolve(path.dirname(file), request))
    found.push({ request, names: names.split(',').map((n) => n.trim()).filter(Boolean), target })
  }
  return found
}

/**
 * The source text of the module the page makes of `names` from `file` (a module outside
 * browser/): each function as Node has it, then their exports. Throws when a name is not a
 * function declaration (an arrow function or a method may use what is around it).
 */
function namedFunctionsSource(file, names) {
  const exported = require(file)
  const sources = [...names].map((name) => {
    const source = typeof exported[name] === 'function' ? String(exported[name]) : ''
    if (!source.startsWith(`function ${name}(`)) throw new Error(`the report page takes ${name} from ${moduleId(file)}, where it is not a function declaration`)
    return source
  })
  return `${sources.join('\n')}\nmodule.exports = { ${[...names].join(', ')} }`
}

/**
 * Every module of the page: `{ id, source, requires }` (`requires`: each request of the module
 * to the id it resolves to), ENTRY's and the browser modules it requires whole, the functions
 * they require from other modules as one module per file.
 */
function pageModules() {
  const whole = new Map()
  const named = new Map() // a file outside browser/ → the names required from it
  const visit = (file) => {
    if (whole.has(file)) return
    const source = fs.readFileSync(file, 'utf8')
    const required = requiresOf(file, source)
    whole.set(file, { id: moduleId(file), source, requires: Object.fromEntries(required.map((r) => [r.request, moduleId(r.target)])) })
    for (const { names, target } of required) {
      if (path.dirname(target) === BROWSER_DIR) visit(target)
      else named.set(target, new Set([...(named.get(target) ?? []), ...names]))
    }
  }
  visit(ENTRY)
  const takenFrom = [...named].map(([file, names]) => ({ id: moduleId(file), source: namedFunctionsSource(file, names), requires: {} }))
  return [...whole.values(), ...takenFrom]
}

/**
 * Runs in the page, put there as its source text: makes each module on its first `require`,
 * as Node does, and calls the entry's `main`. Uses nothing but its arguments.
 * @param {Record<string, { requires: Record<string, string>, define: Function }>} modules
 * @param {string} entry
 */
function startPage(modules, entry) {
  const made = new Map()
  const load = (id) => {
    if (!made.has(id)) {
      const module = { exports: {} }
      made.set(id, module)
      modules[id].define(module, module.exports, (request) => load(modules[id].requires[request]))
    }
    return made.get(id).exports
  }
  load(entry).main()
}

/**
 * The page's own script: its modules, each in the function that defines it, and their start.
 * Throws where a module's text would end the page's `<script>` element.
 */
function pageScript() {
  const modules = pageModules().map(({ id, source, requires }) => {
    if (/<\/script/i.test(source)) throw new Error(`${id} holds a closing script tag, which would end the page's script`)
    return `${JSON.stringify(id)}: { requires: ${JSON.stringify(requires)}, define(module, exports, require) {\n${source}\n} },`
  })
  return ['"use strict";', `(${startPage})({`, ...modules, `}, ${JSON.stringify(moduleId(ENTRY))});`].join('\n')
}

module.exports = { pageScript, pageModules }
