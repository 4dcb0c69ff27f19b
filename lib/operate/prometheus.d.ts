// Types of `leakproof/prometheus` (lib/operate/prometheus.js). prom-client is the
// application's own copy, an optional peer dependency: these types need it installed.
import type { Registry, RegistryContentType } from 'prom-client'

/** Options of `registerMetrics()`. */
export interface RegisterMetricsOptions {
  /**
   * The value of a `worker` label added to every leakproof series, so that prom-client's
   * `AggregatorRegistry` keeps workers apart; `false` for none. Default: the cluster worker's
   * `id` in a cluster worker, no label elsewhere.
   */
  worker?: string | false
}

/** What `registerMetrics()` returns. */
export interface MetricsHandle {
  /** The registry the metrics are on. */
  readonly registry: Registry<RegistryContentType>
  /** The `worker` label's value, or null without one. */
  readonly worker: string | null
  /** The names of the metrics registered (every metric of docs/metrics.md). */
  readonly names: string[]
  /** Removes leakproof's metrics, and only those, from the registry. Calling it again does nothing. */
  unregister(): void
}

/**
 * Registers leakproof's metrics on `registry` (prom-client's global `register` by default),
 * filled at each scrape. Registering again on the same registry returns the same handle.
 * Throws `ERR_LEAKPROOF_PEER_MISSING` when prom-client is not installed.
 */
export function registerMetrics(registry?: Registry<RegistryContentType>, options?: RegisterMetricsOptions): MetricsHandle
