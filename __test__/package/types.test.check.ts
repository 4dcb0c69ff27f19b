// Compiled by `tsc` in `npm run lint`: leakproof/test's declarations as a test uses them.
import { assertNoLeak, measureLeak, LeakError, DEFAULTS, type LeakMeasurement } from 'leakproof/test'

async function check(): Promise<void> {
  await assertNoLeak(() => undefined)
  await assertNoLeak(async (call: number) => { await Promise.resolve(call) }, { callsPerRound: 200, rounds: 12, warmUpRounds: 5, minBytesPerCall: 32, confidence: 0.999, snapshots: false })
  const measured: LeakMeasurement = await measureLeak(() => [])
  const kind: 'heap' | 'external' | null = measured.kind
  const perCall: number = measured.heap.bytesPerCall + measured.external.bytesPerCall
  const holder: string | undefined = measured.suspects?.[0]?.holder?.description
  const rounds: number = DEFAULTS.rounds
  try {
    await assertNoLeak(() => undefined)
  } catch (err) {
    if (err instanceof LeakError) console.log(err.code, err.measurement.bytesPerCall, kind, perCall, holder, rounds)
  }
}
void check()
