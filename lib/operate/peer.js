'use strict'

const errors = require('../shared/errors')

/**
 * The app's copy of an optional peer dependency (`prom-client`, `@opentelemetry/api`),
 * found from leakproof's directory upwards, as the app's own `require` finds it when
 * leakproof sits in its node_modules. Missing: a coded `PEER_MISSING` error that says what
 * to install; any other failure to load it is thrown as it is.
 * @param {string} name the package, or a module of it (`@modelcontextprotocol/sdk/server/index.js`).
 * @param {string} who the API that needs it, for the message (`'leakproof/otel: registerInstruments()'`).
 * @param {string} [packageName] the package to install, when `name` is a module of it.
 */
function requirePeer(name, who, packageName = name) {
  try {
    return require(name)
  } catch (err) {
    if (err?.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes(`'${name}'`)) throw err
    const missing = errors.codedError(
      Error,
      errors.CODES.PEER_MISSING,
      `${who} needs ${packageName}, an optional peer dependency of leakproof: install it in the app (npm install ${packageName})`,
    )
    missing.cause = err
    throw missing
  }
}

module.exports = { requirePeer }
