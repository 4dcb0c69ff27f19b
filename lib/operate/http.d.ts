// Types of `leakproof/http`: an authenticated admin request handler for a running watcher, and a readiness route.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Watcher } from '../watch/types'
export { ready, readiness } from '../mitigate/types'
export type { Readiness } from '../mitigate/types'

/** Options of `adminHandler`. */
export interface AdminHandlerOptions {
  /**
   * The bearer token requests must carry (`Authorization: Bearer <token>`): at least 16
   * printable ASCII characters without spaces. Read it from a secret store or an
   * environment variable; never write it in code.
   */
  token: string
  /** The path the routes are under, from the root, without a trailing slash. @default '/leakproof' */
  prefix?: string
  /** The watcher to serve. @default this thread's running watcher, looked up at each request (503 while none runs) */
  watcher?: Watcher
  /** Failed authentications from one remote address per window before it is locked out. @default 10 */
  maxFailuresPerAddress?: number
  /** Failed authentications from all addresses per window before everyone is locked out. @default 100 */
  maxFailuresTotal?: number
  /** The failure window, in milliseconds. @default 60000 */
  failureWindowMs?: number
  /** The clock of the failure window, in milliseconds. @default Date.now */
  now?: () => number
}

/**
 * A request listener for `node:http` (404 outside its prefix) and Express/Connect middleware
 * (`next()` outside its prefix, called before it returns).
 */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

/**
 * An admin request handler: `GET <prefix>/status`, `POST <prefix>/snapshot` (202, 409,
 * 429 with `Retry-After`), `GET <prefix>/reports/latest`; JSON answers, never cached;
 * `GET <prefix>/profile/heap`, the newest allocation-sampling profile as gzipped pprof.
 * It never serves snapshot files. Every request under the prefix needs the bearer token
 * (401 otherwise); too many failures lock their address, then everyone, out for the rest of
 * the window (429). Mounting on node:http, Express and Fastify: docs/admin-http.md.
 *
 * Throws `ERR_LEAKPROOF_INVALID_OPTION` without a usable token (missing, not a string,
 * shorter than 16 characters) or prefix, `ERR_LEAKPROOF_UNKNOWN_OPTION` for an unknown option.
 */
export declare function adminHandler(options: AdminHandlerOptions): AdminHandler

/** Every option of `adminHandler` with its default. */
export declare const DEFAULTS: Readonly<Required<Omit<AdminHandlerOptions, 'token' | 'watcher'>>> & { token: undefined; watcher: undefined }

/** Tokens shorter than this are refused. */
export declare const MIN_TOKEN_LENGTH: number

/** Request bodies larger than this are refused with 413. */
export declare const MAX_BODY_BYTES: number

/** Options of `readinessHandler`. */
export interface ReadinessHandlerOptions {
  /** The path it answers, exactly (plain segments, no trailing slash); GET and HEAD. @default '/ready' */
  path?: string
}

/**
 * A readiness route for load balancers and Kubernetes probes, unauthenticated: 200
 * `{ ready: true, state: 'serving' }`, then 503 with the state once the restart policy takes
 * the process out (docs/mitigate.md#readiness). Other paths: `next()`, or 404. Throws
 * `ERR_LEAKPROOF_INVALID_OPTION` for a bad path, `ERR_LEAKPROOF_UNKNOWN_OPTION`.
 */
export declare function readinessHandler(options?: ReadinessHandlerOptions): AdminHandler
