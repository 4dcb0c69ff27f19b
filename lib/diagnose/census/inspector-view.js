'use strict'

/**
 * What plain JavaScript cannot see of an object, read through an in-process inspector
 * session (`node:inspector`): a function's scopes (`[[Scopes]]`, where a module's variables
 * live), its place in its script (`[[FunctionLocation]]`), a bound function's target and
 * arguments, and an instance's `#private` fields. The inspector reads them as the debugger
 * does, without calling a getter or a Proxy trap.
 *
 * The inspector describes every value it hands out (value-mirror.cc), and a description can
 * run code: an Error's `stack` getter, a Proxy's trap met looking a property up the prototype
 * chain. So a function or an object is only asked about when `reflect.codeToInspect` finds
 * nothing that would run (else `reflect.WouldRunCode` is thrown), and a function's scopes are
 * read here, from the scope objects V8 builds for the inspector, not described one variable
 * at a time.
 *
 * The session (lib/shared/inspector-session.js) is synchronous: an in-process session answers
 * before `post` returns. Values
 * cross between the session's remote objects and this realm through one private box object:
 * a value put in the box is handed to the session by one `Runtime.callFunctionOn`, and remote
 * values come back into the box the same way. Every remote object the session hands out is
 * in one object group, released as soon as the read that asked for it returns, so the session
 * never keeps the service's objects alive, nor the scope objects V8 builds, past one read.
 */
const { InspectorSession } = require('../../shared/inspector-session')
const reflect = require('./reflect')

/** The object group of this view's remote objects, released after every read. */
const GROUP = 'leakproof-census'
/** The group of the box itself, kept until `close()`. */
const BOX_GROUP = 'leakproof-census-box'
/** Where the box is put for the one evaluation that finds it. */
const BOX_SLOT = Symbol.for('leakproof.census.box')

/** Scope kinds as the inspector describes them (`Closure (name)`, `Module`, `With Block`, …). */
const SCOPE_DESCRIPTION = /^(\w+)(?: Block)?(?: \((.*)\))?$/

/**
 * The one variable of a `with` statement's scope: its object (the scope's object is that
 * object itself, whose keys are not the code's variables, and could be a dictionary's).
 */
const WITH_OBJECT = '(with)'

/** This thread's objects as the inspector sees them, through a session of its own: see the module's comment. `close()` ends it. */
class InspectorView {
  #session = InspectorSession.connect()
  #box = { value: undefined }
  #boxId
  /** Remote calls made, for the census' cost. */
  calls = 0

  constructor() {
    globalThis[BOX_SLOT] = this.#box
    try {
      this.#boxId = this.#post('Runtime.evaluate', { expression: 'globalThis[Symbol.for("leakproof.census.box")]', objectGroup: BOX_GROUP }).result.objectId
    } finally {
      delete globalThis[BOX_SLOT]
    }
  }

  /** Ends the session; the view is not used after. */
  close() {
    try {
      this.#post('Runtime.releaseObjectGroup', { objectGroup: BOX_GROUP })
    } catch {
      // Already disconnected (the process is exiting).
    }
    this.#session.disconnect()
  }

  /** Releases every remote object handed out since the last release. */
  #release() {
    this.#post('Runtime.releaseObjectGroup', { objectGroup: GROUP })
  }

  /**
   * Where `fn` is and what its scopes hold: `{ location, scopes, bound }`.
   * - `location`: `{ scriptId, line, column }` (1-based), or null for a built-in;
   * - `scopes`: innermost first, Global left out: `{ kind, name, topLevel, depth, variables: [{
   *   name, value }] }`, `kind` the inspector's word in lower case (`closure`, `module`, `script`,
   *   `block`, `catch`, `with`: its one variable is its object, WITH_OBJECT, …), `name` the
   *   function whose scope it is ('' for an anonymous one), `topLevel` whether only Script and
   *   Global scopes lie beyond it, or beyond an anonymous one only a CommonJS module's wrapper
   *   that holds its parameters alone (a CommonJS module's scope is its wrapper's, the
   *   outermost closure; tsx and webpack put a module's code in an anonymous function called
   *   at once inside it), `depth` how many scopes lie beyond it (one scope of a script at each),
   *   and only variables holding objects;
   * - `bound`: for a bound function, `[target, this, ...args]` (objects only), else [].
   * `alreadyRead(scriptId, scope)` is asked before a scope's variables are read: a module's
   * scope is the same for every function of the module, and is read once per pass. The
   * listings the read makes are noted in `meter`, if given (and so for the other reads).
   * @param {Function} fn
   * @param {(scriptId: string, scope: { kind: string, name: string, topLevel: boolean, depth: number }) => boolean} [alreadyRead]
   * @param {import('./reflect').ListingMeter | null} [meter]
   */
  functionDetails(fn, alreadyRead = () => false, meter = null) {
    return this.#released(() => this.#functionDetails(fn, alreadyRead, meter))
  }

  /** `functionDetails`, its remote objects not yet released. */
  #functionDetails(fn, alreadyRead, meter) {
    const internals = this.#internalProperties(fn, meter)
    const where = internals.get('[[FunctionLocation]]')?.value ?? null
    const location = where === null ? null : { scriptId: where.scriptId, line: where.lineNumber + 1, column: where.columnNumber + 1 }
    const scopes = []
    const scopeList = internals.get('[[Scopes]]')
    if (location !== null && scopeList?.objectId !== undefined) {
      const listed = scopesOf(this.#localValues([scopeList.objectId])[0])
      listed.forEach(({ kind, name, object }, i) => {
        const scope = { kind, name, topLevel: isTopLevel(listed, i, meter), depth: listed.length - 1 - i, variables: [] }
        if (alreadyRead(location.scriptId, scope)) return
        scope.variables = kind === 'with' ? [{ name: WITH_OBJECT, value: object }] : variablesOf(object, meter)
        scopes.push(scope)
      })
    }
    const boundParts = ['[[TargetFunction]]', '[[BoundThis]]', '[[BoundArgs]]'].map((n) => internals.get(n)).filter((v) => v?.objectId !== undefined)
    return { location, scopes, bound: this.#localValues(boundParts.map((v) => v.objectId)) }
  }

  /**
   * Where `fn` is: `{ scriptId, line, column }` (1-based), or null for a built-in.
   * @param {import('./reflect').ListingMeter | null} [meter]
   */
  functionLocation(fn, meter = null) {
    const where = this.#released(() => this.#internalProperties(fn, meter).get('[[FunctionLocation]]')?.value ?? null)
    return where === null ? null : { scriptId: where.scriptId, line: where.lineNumber + 1, column: where.columnNumber + 1 }
  }

  /**
   * `object`'s `#private` fields that hold objects: `[{ name: '#byId', value }]`.
   * @param {import('./reflect').ListingMeter | null} [meter]
   */
  privateFields(object, meter = null) {
    return this.#released(() => this.#remoteValues(this.#properties(this.#remoteIdOf(object, meter), meter).privateProperties ?? []))
  }

  /**
   * What `read` returns, its remote objects released at once: the scope objects V8 builds
   * for one function die young. Held until the slice's end, they outlive the scavenges of
   * a service's small young generation (2 MB on Node 24) and are promoted: measured, 22 MB of
   * old space and 28-38 MB of RSS in the first pass over a 150 MB heap (production/container.test.js).
   */
  #released(read) {
    try {
      return read()
    } finally {
      this.#release()
    }
  }

  /**
   * The URL of every script V8 has loaded, by script id: the Debugger domain reports each
   * one when enabled, and is disabled at once. One synchronous stop of the event loop that
   * grows with the scripts loaded, the bytes of their sources no round reported yet (V8 hashes
   * each once) and the heap (script-files.js predicts it; docs/diagnose.md, "The census: the
   * holder without a snapshot"), so it is asked for only to name the holders of a report.
   */
  scriptUrls() {
    const urls = new Map()
    const onScript = ({ params }) => urls.set(params.scriptId, params.url)
    this.#session.on('Debugger.scriptParsed', onScript)
    try {
      this.#post('Debugger.enable', {})
      this.#post('Debugger.disable', {})
    } finally {
      this.#session.off('Debugger.scriptParsed', onScript)
    }
    return urls
  }

  /**
   * A remote object id for a value of this realm, in the released group. Throws
   * `reflect.WouldRunCode` for a value whose description, or the listing of whose
   * properties, would run the service's code. Its listing is noted in `meter`.
   */
  #remoteIdOf(value, meter) {
    const runsCode = reflect.codeToInspect(value, meter)
    if (runsCode !== null) throw new reflect.WouldRunCode(runsCode)
    this.#box.value = value
    try {
      return this.#post('Runtime.callFunctionOn', { objectId: this.#boxId, functionDeclaration: 'function () { return this.value }', objectGroup: GROUP }).result.objectId
    } finally {
      this.#box.value = undefined
    }
  }

  /** The values of remote objects, in this realm, in order. */
  #localValues(objectIds) {
    if (objectIds.length === 0) return []
    try {
      this.#post('Runtime.callFunctionOn', {
        objectId: this.#boxId,
        functionDeclaration: 'function (...values) { this.value = values }',
        arguments: objectIds.map((objectId) => ({ objectId })),
        objectGroup: GROUP,
      })
      return this.#box.value
    } finally {
      this.#box.value = undefined
    }
  }

  /** `[{ name, value }]` for the properties (of `Runtime.getProperties`) that hold objects. */
  #remoteValues(properties) {
    const held = properties.filter((p) => p.value?.objectId !== undefined)
    const values = this.#localValues(held.map((p) => p.value.objectId))
    return held.map((p, i) => ({ name: p.name, value: values[i] }))
  }

  /** The internal properties (`[[Scopes]]`, …) of `value`, by name; the listings noted in `meter`. */
  #internalProperties(value, meter) {
    const { internalProperties = [] } = this.#properties(this.#remoteIdOf(value, meter), meter)
    return new Map(internalProperties.map((p) => [p.name, p.value]))
  }

  /**
   * `Runtime.getProperties` of a remote object's own properties (no getter runs), indexed ones
   * left out: an Array subclass' elements would all be described in the reply (680 ms and 19 MB
   * of JSON for 100,000). Its size is noted as a listing in `meter`, if given.
   */
  #properties(objectId, meter) {
    const reply = this.#post('Runtime.getProperties', { objectId, ownProperties: true, nonIndexedPropertiesOnly: true, generatePreview: false })
    meter?.note(reply.result.length + (reply.internalProperties?.length ?? 0) + (reply.privateProperties?.length ?? 0))
    return reply
  }

  /**
   * Posts a command and returns its answer (an in-process session answers synchronously),
   * counted in `calls`.
   * @returns {any}
   */
  #post(method, params) {
    this.calls++
    return this.#session.postSync(method, params)
  }
}

/**
 * The scopes of a `[[Scopes]]` list as V8 builds it for the inspector (V8Debugger's
 * getTargetScopes: `{ description: 'Closure (name)', object }` each, `object` holding the
 * scope's variables as data properties), innermost first, Global left out.
 */
function scopesOf(list) {
  const scopes = []
  const length = reflect.isArray(list) ? reflect.collectionSize(list) : 0
  for (let i = 0; i < length; i++) {
    const entry = reflect.ownValue(list, String(i))
    const description = reflect.ownValue(entry, 'description')
    const [, kind = '', name = ''] = SCOPE_DESCRIPTION.exec(typeof description === 'string' ? description : '') ?? []
    if (kind !== 'Global') scopes.push({ kind: kind.toLowerCase(), name, object: reflect.ownValue(entry, 'object') })
  }
  return scopes
}

/** The parameters of the function Node wraps a CommonJS module in. */
const WRAPPER_PARAMETERS = new Set(['exports', 'require', 'module', '__filename', '__dirname'])

/**
 * Whether scope `i` of `listed` is a script's top level: only Script scopes lie beyond it, or
 * it is an anonymous closure beyond which lies only an anonymous closure (a CommonJS module's
 * wrapper) holding nothing but the wrapper's parameters. tsx compiles a module's code into
 * `(()=>{ … })()`, and webpack a bundle's into `(() => { … })()`: the user's module-level
 * variables are that function's, and the wrapper's scope holds only the `require` and `module`
 * it uses. The listing of the wrapper's variable names is noted in `meter`.
 */
function isTopLevel(listed, i, meter) {
  const beyond = listed.slice(i + 1).filter((s) => s.kind !== 'script')
  if (beyond.length === 0) return true
  const [wrapper] = beyond
  if (beyond.length > 1 || listed[i].kind !== 'closure' || listed[i].name !== '' || wrapper.kind !== 'closure' || wrapper.name !== '') return false
  return (reflect.ownKeys(wrapper.object, meter) ?? ['']).every((name) => WRAPPER_PARAMETERS.has(String(name)))
}

/** `[{ name, value }]` for the variables of a scope object that hold objects (read, never described); the listing noted in `meter`. */
function variablesOf(scopeObject, meter) {
  const variables = []
  for (const name of reflect.ownKeys(scopeObject, meter) ?? []) {
    const value = reflect.ownValue(scopeObject, name)
    if (reflect.isObjectLike(value)) variables.push({ name: String(name), value })
  }
  return variables
}

module.exports = { InspectorView }
