'use strict'

/**
 * The user's words for a path a compiler rewrote. Built code reaches what another module
 * exports through a variable the compiler named after the module, not after what the user
 * imported: `import { container } from './container'` becomes `container_1.container` (tsc),
 * `import_container.container` (esbuild and tsup, a CommonJS module in a bundle),
 * `_container__WEBPACK_IMPORTED_MODULE_0__.container` (webpack), `_container.container` (Babel
 * and swc). The user wrote `container`: the alias is taken off the front of the path.
 *
 * Only for a holder whose file a source map placed (built code): in code people write, a
 * variable named `retry_2` or `_cache` is theirs.
 */

/** The variables compilers give a module they import, whole. */
const IMPORT_ALIASES = [
  /^[A-Za-z_$][\w$]*_\d+$/, // tsc: the module's name and a number
  /^import_[\w$]+$/, // esbuild, tsup
  /^[\w$]*__WEBPACK_IMPORTED_MODULE_\d+__(?:_default)?$/, // webpack
  /^_[A-Za-z$][\w$]*$/, // Babel, swc
]

/**
 * `path` (`container_1.container.audit`) without the import alias it starts from
 * (`container.audit`); as it is when it starts from no alias, or is the alias alone.
 * @param {string} path
 */
function withoutImportAlias(path) {
  const dot = path.indexOf('.')
  if (dot <= 0 || !isImportAlias(path.slice(0, dot))) return path
  return path.slice(dot + 1)
}

/** Whether `name` is a variable a compiler gives an imported module. */
function isImportAlias(name) {
  return IMPORT_ALIASES.some((alias) => alias.test(name))
}

module.exports = { withoutImportAlias }
