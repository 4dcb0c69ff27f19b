// Types of `leakproof/otel`: leakproof's signals as OpenTelemetry observable instruments.
import type { MeterProvider } from '@opentelemetry/api'

/** What `registerInstruments` returns. */
export interface OtelRegistration {
  /** Removes leakproof's collection callback: its instruments then observe nothing. Idempotent. */
  unregister(): void
}

/**
 * Creates leakproof's instruments (`leakproof.memory.floor`, `leakproof.leak.suspected`,
 * `leakproof.boundedmap.entries`, ...: see docs/metrics.md) on a Meter named `leakproof`
 * of `meterProvider`, by default `metrics.getMeterProvider()` of `@opentelemetry/api` (set
 * the global provider first, or pass yours). Gauges are ObservableGauges, counters
 * monotonic ObservableCounters. One callback reads this thread's watcher, the named
 * BoundedMaps and the reported listener-leak sites once per collection: nothing runs
 * between collections.
 *
 * Throws `ERR_LEAKPROOF_PEER_MISSING` when the app has no `@opentelemetry/api`, and
 * `ERR_LEAKPROOF_INVALID_ARGUMENT` for a `meterProvider` without `getMeter()`.
 */
export declare function registerInstruments(meterProvider?: MeterProvider): OtelRegistration
