'use strict'

/**
 * The roots the census' paths start from (a module's variable, a closure's, a global, the
 * exports, the active handles, a timer list) and the steps it names them by, as code would
 * write them (walk.js records collections under them; census.js describes them).
 */

/** A property name that code writes after a dot. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** Roots that are variables: what is found under them is named from the variable. */
const VARIABLE_ROOTS = new Set(['module', 'closure', 'timers'])

/**
 * A root of paths: what a person would name. `kind` is `module` (a module-level variable),
 * `closure` (a variable of a function's scope), `global`, `exports` (a module's exports),
 * `handle` (an active handle), `handles` (the active handles of one class), `timers`. `scriptId` and `line`/`column` (of the function whose
 * scope was read, or a timer's callback) are resolved to a file when a report names the root,
 * with the help of `fn`, a WeakRef to that function (script-files.js).
 */
function root(kind, name, fields = {}) {
  return { kind, name, scriptId: null, scopeOf: '', line: 0, column: 0, file: null, fn: null, ...fields }
}

/** The key that matches a root across passes: what it is, not when it was found. */
function rootKey(r) {
  return `${r.kind}:${r.file ?? r.scriptId ?? ''}:${r.scopeOf}:${r.name}`
}

/** The step to a property, as code would write it. */
function propertyStep(key) {
  if (typeof key === 'symbol') return `[${String(key)}]`
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

/**
 * Whether a scope holds a module's own variables: an ES module's, or a CommonJS module's
 * (the outermost closure, that of the module's anonymous wrapper function).
 */
function isModuleScope(scope) {
  return scope.kind === 'module' || (scope.kind === 'closure' && scope.name === '' && scope.outermost)
}

module.exports = { root, rootKey, propertyStep, isModuleScope, VARIABLE_ROOTS }
