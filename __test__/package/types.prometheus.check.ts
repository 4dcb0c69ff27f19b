// Compiled by `tsc` in `npm run lint`: the declarations of leakproof/prometheus must type-check
// against prom-client's own, with its global registry, a new one and an OpenMetrics one.
import { registerMetrics, type MetricsHandle, type RegisterMetricsOptions } from 'leakproof/prometheus'
import { AggregatorRegistry, Registry, collectDefaultMetrics, openMetricsContentType, register, type OpenMetricsContentType } from 'prom-client'

const onGlobal: MetricsHandle = registerMetrics()
const registry = new Registry()
collectDefaultMetrics({ register: registry })
const options: RegisterMetricsOptions = { worker: 'api-1' }
const handle = registerMetrics(registry, options)
const names: string[] = handle.names
const worker: string | null = handle.worker
handle.registry.metrics().then((text: string) => text.length)
handle.unregister()
const openMetrics = new Registry<OpenMetricsContentType>()
openMetrics.setContentType(openMetricsContentType)
registerMetrics(openMetrics, { worker: false })
registerMetrics(new AggregatorRegistry())
console.log(onGlobal.registry === register, names, worker)

// @ts-expect-error the worker label is a string or false
registerMetrics(registry, { worker: 3 })
// @ts-expect-error no such option
registerMetrics(registry, { prefix: 'app_' })
