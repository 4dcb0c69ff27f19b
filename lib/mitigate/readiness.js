'use strict'

/**
 * Whether this process should get traffic, as the restart policy sees it: `serving` until a
 * restart is due, then `restart-due` (a balancer should take it out of rotation) and
 * `draining` (it no longer accepts connections), until it exits. `leakproof/http`'s
 * `readinessHandler()` answers from it; `ready()` is for any other framework's route.
 *
 * A cluster worker whose primary starts its replacement first stays ready until it drains:
 * the pod as a whole keeps serving, and its own server stops getting connections when it
 * closes.
 */

/** @type {{ state: 'serving' | 'restart-due' | 'draining', since: number | null, kind: string | null, ready: boolean }} */
let current = { state: 'serving', since: null, kind: null, ready: true }

/** `true` while this process should get traffic; `false` once a restart is due. */
function ready() {
  return current.ready
}

/**
 * What readiness says and why, as plain data: `ready`, `state`, `since` (epoch ms, null while
 * serving) and the leaking `kind` that made the restart due (null while serving).
 */
function readiness() {
  return { ...current }
}

/**
 * Moves to `state` for a leak of `kind` at `now` (epoch ms, the watcher's clock); `ready` says
 * whether traffic should still come meanwhile.
 * @param {'restart-due' | 'draining'} state
 * @param {{ kind: string, ready?: boolean, now: number }} change
 */
function setReadiness(state, { kind, ready: stillReady = false, now }) {
  current = { state, since: now, kind, ready: stillReady }
}

module.exports = { ready, readiness, setReadiness }
