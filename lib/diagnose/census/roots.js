'use strict'

/**
 * The roots the census' paths start from (a module's variable, a closure's, a global, the
 * exports, the active handles, a timer list) and the steps it names them by, as code would
 * write them (walk.js records collections under them; census.js describes them).
 */
const path = require('node:path')
const reflect = require('./reflect')
const { spread } = require('./handles')
const { isOwnFile } = require('../../shared/code-origin')

/** A property name that code writes after a dot. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** Roots that are variables: what is found under them is named from the variable. */
const VARIABLE_ROOTS = new Set(['module', 'closure', 'timers'])

/**
 * A root of paths: what a person would name. `kind` is `module` (a module-level variable),
 * `closure` (a variable of a function's scope), `global`, `exports` (a module's exports),
 * `handle` (an active handle), `handles` (the active handles of one class), `timers`; or
 * `owner`, no root of paths but located as one: the class whose instance holds a collection
 * in its `field` (walk.js). `scriptId` and `line`/`column` (of the function whose
 * scope was read, or a timer's callback) are resolved to a file when a report names the root,
 * with the help of `fn`, a WeakRef to that function (script-files.js).
 */
function root(kind, name, fields = {}) {
  return { kind, name, scriptId: null, scopeOf: '', line: 0, column: 0, file: null, fn: null, ...fields }
}

/** A global's name that is a class's, by convention. */
const CLASS_NAME = /^[A-Z]/

/**
 * Where a pass starts, in the order walked (`first`, then `deferred` once all else is):
 * - the exports of every CommonJS module: the app's own files first; its packages'
 *   (`deferred`) once all else is walked, so that a collection a package keeps for the app is
 *   named from the app's variable where the app holds it;
 * - the handles that keep the loop alive, then the open client sockets that do not (unref'd,
 *   from `clientSockets`, handles.js): all counted (`handles`); of the unref'd, `spreadCount`
 *   spread over them walked for what their listeners close over (sockets left open one per call
 *   hold alike, and walking thousands would take the pass' objects); `droppedSockets`, the
 *   client sockets past the count held;
 * - the non-standard properties of `globalThis`.
 * Each root to walk is `{ value, step, root }`.
 * @param {import('./handles').ClientSockets | null} clientSockets
 * @param {number} spreadCount
 */
function startingRoots(clientSockets, spreadCount) {
  const first = []
  const deferred = []
  const cache = reflect.ownValue(require('node:module'), '_cache')
  for (const file of reflect.ownKeys(cache ?? {}) ?? []) {
    const mod = reflect.ownValue(cache, file)
    if (typeof file !== 'string' || !reflect.isObjectLike(mod)) continue
    const start = { value: reflect.ownValue(mod, 'exports'), step: 'module.exports', root: root('exports', 'module.exports', { file }) }
    ;(file.includes(`${path.sep}node_modules${path.sep}`) ? deferred : first).push(start)
  }
  const nodeProcess = /** @type {any} */ (process) // _getActiveHandles: Node's, undocumented
  const active = typeof nodeProcess._getActiveHandles === 'function' ? nodeProcess._getActiveHandles() : []
  const unrefd = clientSockets?.unrefd(new Set(active)) ?? []
  for (const handle of [...active, ...spread(unrefd, spreadCount)]) first.push({ value: handle, step: reflect.className(handle), root: root('handle', reflect.className(handle)) })
  const standard = reflect.standardGlobalNames()
  for (const key of reflect.ownKeys(globalThis) ?? []) {
    // Capitalized globals are classes: Node's own web interfaces among them, which on Node
    // 22 and later load their modules when first read (V8 lazy data properties: FormData
    // loads undici), so a pass would load 100+ of Node's modules and count them as growth.
    if (standard.has(key) || (typeof key === 'string' && CLASS_NAME.test(key))) continue
    first.push({ value: reflect.ownValue(globalThis, key), step: `globalThis${propertyStep(key)}`, root: root('global', String(key)) })
  }
  return { first, deferred, handles: [...active, ...unrefd], droppedSockets: clientSockets?.dropped ?? 0 }
}

/** lib/cache/: BoundedMap and RingBuffer hold the service's data, walked as any object's. */
const USER_DATA_DIR = `${path.sep}lib${path.sep}cache${path.sep}`

/**
 * What the census never walks of leakproof's own modules not in `seen`, which it adds them
 * to: each one's exports, the functions among them and, for classes, their prototypes, so that
 * instances of its classes (a watcher and its parts, reached through its timers or the
 * service's variable) are not walked either. They are leakproof's bookkeeping, never a report's
 * holder, and were 12% of a small Express service's pass, 40% of a script's. Not lib/cache/'s
 * modules, nor their classes wherever exported (index.js): a BoundedMap or RingBuffer holds
 * the service's data.
 * @param {Set<string>} seen the files already given
 */
function ownModuleValues(seen) {
  const cache = reflect.ownValue(require('node:module'), '_cache')
  const own = []
  for (const file of reflect.ownKeys(cache ?? {}) ?? []) {
    // lib/cache/'s modules are read every time: their classes are exempt wherever re-exported.
    if (typeof file !== 'string' || !isOwnFile(file) || (seen.has(file) && !file.includes(USER_DATA_DIR))) continue
    const exports = reflect.ownValue(reflect.ownValue(cache, file), 'exports')
    if (reflect.isObjectLike(exports)) own.push({ file, exports, functions: exportedFunctions(exports) })
  }
  const userData = new Set(own.filter(({ file }) => file.includes(USER_DATA_DIR)).flatMap(({ functions }) => functions))
  const values = []
  for (const { file, exports, functions } of own) {
    if (file.includes(USER_DATA_DIR)) continue
    seen.add(file)
    values.push(exports)
    for (const fn of functions) {
      if (userData.has(fn)) continue
      const prototype = reflect.ownValue(fn, 'prototype')
      values.push(fn, ...(reflect.isObjectLike(prototype) ? [prototype] : []))
    }
  }
  return values
}

/** The functions a module exports: its exports, or their own properties that are functions. */
function exportedFunctions(exports) {
  if (typeof exports === 'function') return [exports]
  return (reflect.ownKeys(exports) ?? []).map((key) => reflect.ownValue(exports, key)).filter((value) => typeof value === 'function')
}

/** The key that matches a root across passes: what it is, not when it was found. */
function rootKey(pathRoot) {
  return `${pathRoot.kind}:${pathRoot.file ?? pathRoot.scriptId ?? ''}:${pathRoot.scopeOf}:${pathRoot.name}`
}

/** The step to a property, as code would write it. */
function propertyStep(key) {
  if (typeof key === 'symbol') return `[${String(key)}]`
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

/**
 * Whether a scope holds a module's own variables: an ES module's, or a CommonJS module's
 * (the top-level closure: the module's anonymous wrapper function's, or the anonymous
 * function a compiler runs the module's code in inside it; inspector-view.js).
 */
function isModuleScope(scope) {
  return scope.kind === 'module' || (scope.kind === 'closure' && scope.name === '' && scope.topLevel)
}

module.exports = { root, rootKey, propertyStep, isModuleScope, startingRoots, ownModuleValues, VARIABLE_ROOTS }
