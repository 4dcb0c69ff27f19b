'use strict'

/**
 * What a census pass asks the inspector (inspector-view.js), and how little: a function's
 * scopes (a module's scope once a pass, and never again for a function found to close over it
 * alone), an instance's `#private` fields (not for a built-in's, nor for a class found to have
 * none), a timer callback's place. What the inspector is not asked, since it would run the
 * service's code or refused, is noted as not reached.
 */
const { types } = require('node:util')
const reflect = require('./reflect')
const { root, isModuleScope } = require('./roots')

/**
 * Prototypes whose instances have no `#private` field: not asked about. (The inspector would
 * also describe what some of them hold: a WeakRef's target, a promise's result.)
 */
const BUILT_IN_PROTOTYPES = new Set([
  Object.prototype, Array.prototype, Map.prototype, Set.prototype, Function.prototype, Date.prototype, RegExp.prototype,
  WeakRef.prototype, FinalizationRegistry.prototype, Boolean.prototype, Number.prototype, String.prototype, Symbol.prototype, BigInt.prototype,
])

/** What one pass asks the inspector, and what it learned it need not ask again (see above). */
class InspectorReads {
  #view
  #moduleScoped
  #budget
  #notReached
  #meter
  #modulesRead = new Set() // module scopes read in this pass, by moduleScopeKey
  #privateless = new WeakSet() // prototypes whose instances have no #private field

  /**
   * @param {object} parts
   * @param {import('./inspector-view').InspectorView | null} parts.view null where no
   *   inspector session can be had: nothing is then read.
   * @param {WeakMap<Function, string>} parts.moduleScoped functions found to close over their
   *   module's scopes alone, by the keys of those scopes (moduleScopeKey, joined by `|`),
   *   across passes (see census.js).
   * @param {import('./pass-budget').PassBudget} parts.budget gives the functions whose scopes are read.
   * @param {import('./records').NotReached} parts.notReached where what is not read is noted.
   */
  constructor({ view, moduleScoped, budget, notReached }) {
    this.#view = view
    this.#moduleScoped = moduleScoped
    this.#budget = budget
    this.#notReached = notReached
    this.#meter = budget.listings
  }

  /**
   * What `fn`'s scopes hold: `{ variables, bound }`, `variables` the scopes' variables that
   * hold objects, each `{ name, value, root }` with a root of its own (a module's or a
   * closure's variable, roots.js), `bound` a bound function's target and arguments; null when
   * they are not read: no inspector, a module already read in this pass, past `maxFunctions`,
   * a read that would run code or was refused (those noted), or a built-in.
   */
  scopesOf(fn) {
    if (this.#view === null) return this.#skip('closures and module scopes', 'no inspector session could be opened in this thread')
    if (this.#moduleScopesRead(this.#moduleScoped.get(fn))) return null
    if (!this.#budget.takeFunction()) {
      return this.#skip('closures and module scopes past maxFunctions', `a pass reads the scopes of at most ${this.#budget.maxFunctions} functions`)
    }
    let details
    let moduleScopeOnly = true
    const moduleKeys = []
    try {
      details = this.#view.functionDetails(fn, (scriptId, scope) => {
        if (!isModuleScope(scope)) moduleScopeOnly = false
        else moduleKeys.push(moduleScopeKey(scriptId, scope))
        return this.#moduleScopeRead(scriptId, scope)
      }, this.#meter)
    } catch (err) {
      if (err instanceof reflect.WouldRunCode) return this.#skipRunsCode('closures of functions', err)
      return this.#skip('closures and module scopes the inspector refused', err.message)
    }
    if (details.location === null) return null
    const { scriptId, line, column } = details.location
    if (moduleScopeOnly && moduleKeys.length > 0 && details.bound.length === 0) this.#moduleScoped.set(fn, moduleKeys.join('|'))
    // Weakly: the function names its script's file at report time (script-files.js), if alive.
    const fnRef = new WeakRef(fn)
    const variables = []
    for (const scope of details.scopes) {
      const kind = isModuleScope(scope) ? 'module' : 'closure'
      for (const { name, value } of scope.variables) {
        variables.push({ name, value, root: root(kind, name, { scriptId, scopeOf: kind === 'module' ? '' : scope.name, line, column, fn: fnRef }) })
      }
    }
    return { variables, bound: details.bound }
  }

  /** Whether `scope`, a module scope of script `scriptId`, was read in this pass (and notes it). */
  #moduleScopeRead(scriptId, scope) {
    if (!isModuleScope(scope)) return false
    const key = moduleScopeKey(scriptId, scope)
    if (this.#modulesRead.has(key)) return true
    this.#modulesRead.add(key)
    return false
  }

  /** Whether every module scope `keys` names (as moduleScoped keeps them) was read in this pass. */
  #moduleScopesRead(keys) {
    return keys !== undefined && keys.split('|').every((key) => this.#modulesRead.has(key))
  }

  /**
   * Whether `object`'s class may give it `#private` fields the inspector can read: not a
   * built-in's, nor one whose instances were found to have none (and there is an inspector).
   */
  mayHavePrivateFields(object) {
    return this.#privatePrototype(object) !== null
  }

  /** The prototype `mayHavePrivateFields` goes by, or null when it says no. */
  #privatePrototype(object) {
    const proto = reflect.prototypeOf(object)
    if (this.#view === null || proto === null || BUILT_IN_PROTOTYPES.has(proto) || this.#privateless.has(proto) || types.isGeneratorObject(object)) return null
    return proto
  }

  /**
   * `object`'s `#private` fields that hold objects, `[{ name, value }]`, where its class may
   * have any (see mayHavePrivateFields; a class found to have none is not asked again); []
   * where not read (a read that would run code or was refused is noted).
   */
  privateFieldsOf(object) {
    const proto = this.#privatePrototype(object)
    if (proto === null) return []
    let fields
    try {
      fields = this.#view.privateFields(object, this.#meter)
    } catch (err) {
      if (err instanceof reflect.WouldRunCode) this.#skipRunsCode('#private fields of objects', err)
      else this.#skip('#private fields the inspector refused', err.message)
      return []
    }
    if (fields.length === 0) this.#privateless.add(proto)
    return fields
  }

  /** A function's `{ scriptId, line, column }`, or null (no inspector, a built-in, or the inspector refused). */
  locationOf(fn) {
    if (this.#view === null) return null
    try {
      return this.#view.functionLocation(fn, this.#meter)
    } catch {
      return null
    }
  }

  /** Notes `what` the inspector was not asked about, since it would have run the service's code; null. */
  #skipRunsCode(what, err) {
    return this.#skip(`${what} the inspector would run the service's code to describe`, `describing them runs getters or Proxy traps (${err.message}, for one)`)
  }

  /** Notes `what` as not reached, for `why`; null, as a read that did not happen. */
  #skip(what, why) {
    this.#notReached.add(what, why)
    return null
  }
}

/**
 * A module scope's key within a pass: its script and how deep it lies (a CommonJS module's
 * wrapper and the function a compiler runs the module's code in inside it are two).
 */
function moduleScopeKey(scriptId, scope) {
  return `${scriptId}:${scope.depth}`
}

module.exports = { InspectorReads }
