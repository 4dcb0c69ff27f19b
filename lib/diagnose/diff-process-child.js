'use strict'

/**
 * The child of diff-process.js: at the lowest CPU priority (set before the addon's threads
 * start, which inherit it), it runs one native diff of the files it is sent and sends back the
 * native side's `{ outcome }`, or `{ thrown: { code, message } }` when the addon cannot run;
 * then exits. It ends too when its parent goes (the channel closes).
 */
const os = require('node:os')

try {
  os.setPriority(os.constants.priority.PRIORITY_LOW)
} catch {
  // A platform that refuses: the diff runs at the usual priority.
}

// Its parent gone, nothing is waiting for the diff: ended at once, as exit() would wait for the
// thread-pool thread that runs the diff to finish it.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'))
process.once('message', async ({ files, top, match }) => {
  let answer
  try {
    const { nativeBinding } = require('../shared/native')
    answer = { outcome: await nativeBinding().diffSnapshotFiles(files, top, match) }
  } catch (err) {
    answer = { thrown: { code: err.code, message: err.message } }
  }
  process.send(answer, () => process.exit(0))
})
