// Compiled by `tsc` in `npm run lint`: leakproof/otel's declarations with the OTel SDK's MeterProvider.
import { registerInstruments, type OtelRegistration } from 'leakproof/otel'
import { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } from '@opentelemetry/sdk-metrics'
import { metrics } from '@opentelemetry/api'

const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 60_000,
})
const provider = new MeterProvider({ readers: [reader] })
const registration: OtelRegistration = registerInstruments(provider)
registration.unregister()

metrics.setGlobalMeterProvider(provider)
const onGlobal = registerInstruments()
onGlobal.unregister()
// @ts-expect-error: a MeterProvider, not a Meter's name
registerInstruments('leakproof')
