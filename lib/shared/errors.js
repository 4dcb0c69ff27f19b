'use strict'

/**
 * Every error and warning code leakproof uses, and the checks that build its errors.
 *
 * Errors carry a stable `code` (`ERR_LEAKPROOF_*`) so callers can tell them apart without
 * parsing messages; warnings go through `process.emitWarning` with type `LeakproofWarning`
 * and a `LEAKPROOF_*` code. `docs/errors.md` has one row per code, and a test keeps that
 * table, this module and the Rust analyzer's codes in step.
 *
 * Messages name what was wrong the same way everywhere: `<api>: <what> must be <expected>;
 * got <value>`, where `<what>` is `options.<key>` for an option and the parameter's name
 * otherwise (`BoundedMap: options.max must be a positive integer; got 0`).
 */

/** Error codes, by short name. */
const CODES = Object.freeze({
  /** An option has the wrong type or an unusable value. */
  INVALID_OPTION: 'ERR_LEAKPROOF_INVALID_OPTION',
  /** An options object has a key the function does not know (a typo, usually). */
  UNKNOWN_OPTION: 'ERR_LEAKPROOF_UNKNOWN_OPTION',
  /** A positional argument has the wrong type. */
  INVALID_ARGUMENT: 'ERR_LEAKPROOF_INVALID_ARGUMENT',
  /** A BoundedMap was given none of `max`, `maxBytes` and `ttl`. */
  UNBOUNDED: 'ERR_LEAKPROOF_UNBOUNDED',
  /** A BoundedMap with `maxBytes` cannot size a value on its own and has no `sizeOf`. */
  SIZEOF_REQUIRED: 'ERR_LEAKPROOF_SIZEOF_REQUIRED',
  /** A `sizeOf` returned something other than a finite number of bytes >= 0. */
  INVALID_SIZE: 'ERR_LEAKPROOF_INVALID_SIZE',
  /** `watch(options)` while this thread already has a watcher. */
  ALREADY_WATCHING: 'ERR_LEAKPROOF_ALREADY_WATCHING',
  /** The native addon could not be loaded on this platform. */
  NATIVE_UNAVAILABLE: 'ERR_LEAKPROOF_NATIVE_UNAVAILABLE',
  /** A snapshot file could not be opened or read. */
  SNAPSHOT_IO: 'ERR_LEAKPROOF_SNAPSHOT_IO',
  /** A snapshot file ends before its data does. */
  SNAPSHOT_TRUNCATED: 'ERR_LEAKPROOF_SNAPSHOT_TRUNCATED',
  /** A snapshot file is not valid heap snapshot JSON, or its data contradicts itself. */
  SNAPSHOT_MALFORMED: 'ERR_LEAKPROOF_SNAPSHOT_MALFORMED',
  /** A snapshot file uses a layout this analyzer does not read. */
  SNAPSHOT_UNSUPPORTED: 'ERR_LEAKPROOF_SNAPSHOT_UNSUPPORTED',
  /** Two snapshots given to a diff do not come from one process (their node ids disagree). */
  SNAPSHOT_IDS_MISMATCH: 'ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH',
  /** A pair's diff child process ended before its result (a crash, the OOM killer, a kill, or the watcher's stop). */
  DIFF_PROCESS: 'ERR_LEAKPROOF_DIFF_PROCESS',
  /** A snapshot was asked for on demand from a watcher without a `dir`, or with `snapshots: 'off'`. */
  SNAPSHOTS_OFF: 'ERR_LEAKPROOF_SNAPSHOTS_OFF',
  /** A snapshot was asked for on demand while one is being written. */
  SNAPSHOT_IN_PROGRESS: 'ERR_LEAKPROOF_SNAPSHOT_IN_PROGRESS',
  /** A snapshot was asked for on demand within `cooldownMs` of the last one; `retryAfterMs` says when. */
  SNAPSHOT_COOLDOWN: 'ERR_LEAKPROOF_SNAPSHOT_COOLDOWN',
  /** An optional peer dependency a sub-entry needs (@opentelemetry/api, prom-client) is not installed. */
  PEER_MISSING: 'ERR_LEAKPROOF_PEER_MISSING',
  /** `leakproof report` / `writeReportPage()` was given a path that is not a readable directory. */
  REPORT_DIR: 'ERR_LEAKPROOF_REPORT_DIR',
  /** A watcher's method that acts was called after `stop()`. */
  WATCHER_STOPPED: 'ERR_LEAKPROOF_WATCHER_STOPPED',
  /** `leakproof attach`: no process has that PID, or it exited during the attach. */
  ATTACH_NO_PROCESS: 'ERR_LEAKPROOF_ATTACH_NO_PROCESS',
  /** `leakproof attach`: the process is not Node's. */
  ATTACH_NOT_NODE: 'ERR_LEAKPROOF_ATTACH_NOT_NODE',
  /** `leakproof attach`: the process belongs to another user (and the command does not run as root). */
  ATTACH_OTHER_USER: 'ERR_LEAKPROOF_ATTACH_OTHER_USER',
  /** `leakproof attach`: the process cannot open its inspector (`--disable-sigusr1`, a Node built without it, its port taken). */
  ATTACH_NO_INSPECTOR: 'ERR_LEAKPROOF_ATTACH_NO_INSPECTOR',
  /** `leakproof attach`: the process' inspector is already open (a debugger's, or `--inspect`). */
  ATTACH_INSPECTOR_IN_USE: 'ERR_LEAKPROOF_ATTACH_INSPECTOR_IN_USE',
  /** `leakproof attach`: this platform, or the process' Node, cannot run this build of leakproof. */
  ATTACH_UNSUPPORTED: 'ERR_LEAKPROOF_ATTACH_UNSUPPORTED',
  /** `leakproof attach`: leakproof is already attached to the process. */
  ALREADY_ATTACHED: 'ERR_LEAKPROOF_ALREADY_ATTACHED',
  /** `leakproof attach PID COMMAND`: no leakproof is attached to the process (with that directory). */
  NOT_ATTACHED: 'ERR_LEAKPROOF_NOT_ATTACHED',
  /** `leakproof attach`: the inspector or the control socket failed, or did not answer in time. */
  ATTACH_FAILED: 'ERR_LEAKPROOF_ATTACH_FAILED',
  /** `leakproof mcp`: a path outside the directories the server was started with (`--root`), or a link out of them. */
  MCP_OUTSIDE_ROOTS: 'ERR_LEAKPROOF_MCP_OUTSIDE_ROOTS',
  /** `leakproof mcp`: the file, directory or report a tool was asked about is not there. */
  MCP_NOT_FOUND: 'ERR_LEAKPROOF_MCP_NOT_FOUND',
  /** `leakproof mcp`: a tool, prompt or resource the server does not have. */
  MCP_UNKNOWN: 'ERR_LEAKPROOF_MCP_UNKNOWN',
  /** `assertNoLeak()` found that the function under test retains memory from call to call. */
  LEAK: 'ERR_LEAKPROOF_LEAK',
  /** An inspector call failed, was not answered in time, or its session closed first (the watcher's worker threads, allocation sites, census). */
  INSPECTOR_CALL: 'ERR_LEAKPROOF_INSPECTOR_CALL',
  /** A sampling heap profile (`.heapprofile`) could not be read, or is not one. */
  PROFILE_UNREADABLE: 'ERR_LEAKPROOF_PROFILE_UNREADABLE',
})

/** Warning codes (`process.emitWarning`, type `LeakproofWarning`), by short name. */
const WARNINGS = Object.freeze({
  /** A BoundedMap bounded only by `ttl` can grow without limit between expiries. */
  TTL_ONLY: 'LEAKPROOF_TTL_ONLY',
  /** Listener tracking found a call site whose listeners keep growing. */
  LISTENER_LEAK: 'LEAKPROOF_LISTENER_LEAK',
  /** The watcher failed at something (a snapshot, a report) and went on watching. */
  WATCH_ERROR: 'LEAKPROOF_WATCH_ERROR',
  /** Memory ran near its limit: BoundedMaps that shrink under pressure gave memory back. */
  MEMORY_PRESSURE: 'LEAKPROOF_MEMORY_PRESSURE',
  /** Reading the signals at a metrics scrape failed; that scrape has no leakproof series. */
  METRICS_ERROR: 'LEAKPROOF_METRICS_ERROR',
  /** A deprecated name was called (a `DeprecationWarning`, once per name); the message names its replacement. */
  DEPRECATED: 'LEAKPROOF_DEPRECATED',
})

/** Emits a `LeakproofWarning` with one of the `WARNINGS` codes. */
function warn(code, message) {
  process.emitWarning(message, { type: 'LeakproofWarning', code })
}

/**
 * `fn` under its former name `formerName`: the first call warns (`DeprecationWarning`, code
 * `LEAKPROOF_DEPRECATED`, so that `--no-deprecation` silences it as Node's own) that its name
 * is `fn.name` now; every call does what `fn` does.
 */
function deprecated(formerName, fn) {
  let warned = false
  const former = function (...args) {
    if (!warned) {
      warned = true
      process.emitWarning(`leakproof: ${formerName}() is deprecated: it is ${fn.name}() now, and does the same`, { type: 'DeprecationWarning', code: WARNINGS.DEPRECATED })
    }
    return fn.apply(this, args)
  }
  Object.defineProperty(former, 'name', { value: formerName })
  return former
}

/**
 * Runs `fn` with Node's process warnings that mention `api` left out, and returns what it
 * returns. For Node APIs the watcher calls on its own (`vm.measureMemory`), which Node
 * calls experimental and warns about on first use: the warning would read as if the user's
 * code had called them.
 */
function withoutWarningsAbout(api, fn) {
  const emitWarning = process.emitWarning
  process.emitWarning = function (warning, ...rest) {
    if (String(warning?.message ?? warning).includes(api)) return
    return emitWarning.call(process, warning, ...rest)
  }
  try {
    return fn()
  } finally {
    process.emitWarning = emitWarning
  }
}

/** Describes a value for an error message without calling user code. */
function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

/** Builds an error of class `Ctor` with one of the `CODES` as its `code` property. */
function codedError(Ctor, code, message) {
  const err = new Ctor(message)
  err.code = code
  return err
}

/** TypeError for an option (or argument, by `what`) of the wrong type. */
function invalidOptionType(where, what, expected, value) {
  return codedError(TypeError, CODES.INVALID_OPTION, `${where}: ${what} must be ${expected}; got ${describe(value)}`)
}

/** RangeError for an option (or argument, by `what`) of the right type but an unusable value. */
function invalidOptionRange(where, what, expected, value) {
  return codedError(RangeError, CODES.INVALID_OPTION, `${where}: ${what} must be ${expected}; got ${describe(value)}`)
}

/** Checks that `value` is a positive safe integer (a count). */
function checkPositiveInteger(where, what, value) {
  if (typeof value !== 'number') throw invalidOptionType(where, what, 'a positive integer', value)
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw invalidOptionRange(where, what, 'a positive integer', value)
  }
  return value
}

/** Checks that `value` is a finite number greater than zero (a duration or a byte budget). */
function checkPositiveFinite(where, what, value) {
  if (typeof value !== 'number') throw invalidOptionType(where, what, 'a positive finite number', value)
  if (!(value > 0) || value === Infinity) {
    throw invalidOptionRange(where, what, 'a positive finite number', value)
  }
  return value
}

/** Checks that `value` is a function. */
function checkFunction(where, what, value) {
  if (typeof value !== 'function') throw invalidOptionType(where, what, 'a function', value)
  return value
}

/** Checks that `options` (named `what` in errors) is a plain options object with only the `known` keys. */
function checkOptionsObject(where, options, known, what = 'options') {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidOptionType(where, what, 'an object', options)
  }
  const within = what === 'options' ? '' : ` in ${what}`
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw codedError(
        TypeError,
        CODES.UNKNOWN_OPTION,
        `${where}: unknown option ${JSON.stringify(key)}${within}; known options are ${known.join(', ')}`,
      )
    }
  }
  return options
}

module.exports = {
  CODES,
  WARNINGS,
  warn,
  deprecated,
  describe,
  codedError,
  invalidOptionType,
  invalidOptionRange,
  checkPositiveInteger,
  checkPositiveFinite,
  checkFunction,
  checkOptionsObject,
  withoutWarningsAbout,
}
