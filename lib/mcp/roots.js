'use strict'

/**
 * `Roots`: the only places `leakproof mcp` reads. Every path an agent passes is resolved
 * against them: a relative path from the first root, an absolute one as it is; it must lie
 * under a root both as written and once its symbolic links are followed (no `..` and no link
 * out). The directories of processes this server attached to (the agent's snapshots and event
 * log) are added while it runs.
 */
const fs = require('node:fs')
const path = require('node:path')
const { CODES, codedError } = require('../shared/errors')
const { isUnder } = require('../shared/is-under')

/** The directories a server may read, as given and with their links followed. */
class Roots {
  /** @type {{ given: string, real: string }[]} */
  #dirs = []

  /** @param {string[]} dirs existing directories; throws a coded error for one that is not */
  constructor(dirs) {
    for (const dir of dirs) this.add(dir)
  }

  /** The roots as given (absolute), for the server's description and its errors. */
  get list() {
    return this.#dirs.map((d) => d.given)
  }

  /** Adds directory `dir` (resolved from the working directory); throws unless it is one. */
  add(dir) {
    const given = path.resolve(dir)
    let real
    try {
      real = fs.realpathSync(given)
    } catch {
      throw codedError(Error, CODES.MCP_NOT_FOUND, `mcp: --root ${given} does not exist`)
    }
    if (!fs.statSync(real).isDirectory()) throw codedError(Error, CODES.MCP_NOT_FOUND, `mcp: --root ${given} is not a directory`)
    if (!this.#dirs.some((d) => d.real === real)) this.#dirs.push({ given, real })
  }

  /**
   * `file` (a tool's argument `what`) resolved and checked: the real path of an existing entry
   * under a root that `is` accepts (its stats), or a coded error that says which rule it broke.
   * @param {string} what the argument's name, for messages
   * @param {string} file
   * @param {{ kind: string, is: (stats: fs.Stats) => boolean }} expected
   */
  resolve(what, file, { kind, is }) {
    const given = path.resolve(this.#dirs[0].given, file)
    const outside = (why) => codedError(Error, CODES.MCP_OUTSIDE_ROOTS, `mcp: ${what} ${JSON.stringify(file)} ${why}; the server reads only under ${this.list.join(', ')}`)
    if (!this.#dirs.some((d) => isUnder(given, d.given) || isUnder(given, d.real))) throw outside('is outside its roots')
    let real
    try {
      real = fs.realpathSync(given)
    } catch {
      const where = path.isAbsolute(file) ? '' : ` (${given}: a relative path starts at the first root)`
      throw codedError(Error, CODES.MCP_NOT_FOUND, `mcp: ${what} ${JSON.stringify(file)}: no such ${kind}${where}`)
    }
    if (!this.#dirs.some((d) => isUnder(real, d.real))) throw outside(`leads by a symbolic link to ${real}, outside its roots`)
    if (!is(fs.statSync(real))) throw codedError(Error, CODES.MCP_NOT_FOUND, `mcp: ${what} ${JSON.stringify(file)} is not a ${kind}`)
    return real
  }

  /**
   * The server's root, for tool `tool`'s `dir` left out, when it has exactly one; with several
   * (more `--root`s, or the directory of a process it attached to), a coded refusal that lists them.
   */
  sole(tool) {
    if (this.#dirs.length === 1) return this.#dirs[0].given
    throw codedError(TypeError, CODES.INVALID_ARGUMENT, `${tool}: dir must be given: the server has ${this.#dirs.length} roots (${this.list.join(', ')}); name one of them or a directory under one`)
  }

  /** An existing regular file under a root (see `resolve`). */
  file(what, file) {
    return this.resolve(what, file, { kind: 'file', is: (s) => s.isFile() })
  }

  /** An existing directory under a root (see `resolve`). */
  dir(what, dir) {
    return this.resolve(what, dir, { kind: 'directory', is: (s) => s.isDirectory() })
  }
}

module.exports = { Roots }
