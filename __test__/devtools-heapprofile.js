'use strict'

/* global document */ // in page.evaluate callbacks, which run in the browser

/**
 * Reads a `.heapprofile` (V8's sampling heap profile, the `profile` of the inspector's
 * `HeapProfiler.getSamplingProfile`) with the real Chrome DevTools frontend bundled in the
 * browser, the way Memory panel → Load would, and returns what DevTools made of it.
 *
 * No special launch: any playwright-core Chromium can open its own bundled frontend at
 * `devtools://devtools/bundled/devtools_app.html` (it boots without a target). In that page the
 * helper imports the frontend's own modules (the same instances the app uses), shows the Memory
 * panel and hands the text, as a `File` named `profile.heapprofile`, to
 * `ProfilesPanel.loadFromFile` (what the Load button's file input calls): the panel picks the
 * "Allocation sampling" type by extension, and WritableProfileHeader.loadFromFile reads the file
 * in chunks and JSON.parses it. It then opens the loaded profile as selecting it in the sidebar
 * does (`ProfilesPanel.showProfile`), which builds HeapProfileView and its SamplingHeapProfileModel
 * (front_end/panels/profiler/HeapProfileView.ts), and reads the rows of the view's data grid in
 * its default mode, "Heavy (Bottom Up)", sorted by self size, descending.
 */

/** The frontend bundled in the browser (resources.pak), not fetched from anywhere. */
const DEVTOOLS_APP = 'devtools://devtools/bundled/devtools_app.html'

/**
 * Resolves with DevTools' reading of `profileJsonText` in `browser` (a launched playwright-core
 * Chromium Browser):
 * - `total`: the SamplingHeapProfileModel root's total size, in bytes;
 * - `rows`: the Heavy (Bottom Up) grid's top-level rows as shown, one per function (DevTools'
 *   callUID), each `{ functionName, url, lineNumber, selfSize, totalSize }` (functionName as
 *   displayed: '(anonymous)' for ''; lineNumber 0-based as in the callFrame);
 * - `title`: the profile's title in the sidebar; `browserVersion`.
 * Rejects where DevTools does: the load fails (DevTools' "Profile loading failed" dialog, e.g.
 * JSON it cannot parse), or the file loads but its view cannot be built (e.g. no `head`); the
 * error's `devtools` property is `{ stage: 'load' | 'view', message }`. Each call uses a fresh
 * browser context, closed at the end; `timeoutMs` bounds the whole call.
 */
async function readWithDevTools(browser, profileJsonText, { timeoutMs = 60_000 } = {}) {
  const context = await browser.newContext()
  let timer
  try {
    const page = await context.newPage()
    const pageErrors = []
    page.on('pageerror', (e) => pageErrors.push(e.message))
    const work = (async () => {
      await page.goto(DEVTOOLS_APP)
      const result = await page.evaluate(readInPage, { text: profileJsonText, bootMs: timeoutMs })
      if (result.error) {
        const { stage, message } = result.error
        const what = stage === 'load' ? 'DevTools rejected the profile' : 'DevTools loaded the profile but could not show it'
        const error = new Error(`${what}: ${message}`)
        error.devtools = result.error
        throw error
      }
      return { ...result, browserVersion: browser.version() }
    })()
    const timeout = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`DevTools did not read the profile within ${timeoutMs} ms (page errors: ${pageErrors.join('; ') || 'none'})`)), timeoutMs)
    })
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
    await context.close().catch(() => {})
  }
}

/**
 * Runs in the DevTools page: waits for the app, loads `text` through the Memory panel, and
 * returns `{ total, rows, title }` or `{ error: { stage, message } }`.
 */
async function readInPage({ text, bootMs }) {
  const UI = await import('./ui/legacy/legacy.js')
  const Profiler = await import('./panels/profiler/profiler.js')
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  for (const end = Date.now() + bootMs; !UI.InspectorView.InspectorView.maybeGetInspectorViewInstance(); ) {
    if (Date.now() > end) throw new Error('the DevTools app did not start')
    await sleep(20)
  }
  await UI.ViewManager.ViewManager.instance().showView('heap-profiler')
  const panel = Profiler.HeapProfilerPanel.HeapProfilerPanel.instance()
  const name = 'profile.heapprofile'
  const type = panel.findProfileTypeByExtension(name)
  if (!type || type.id !== Profiler.HeapProfileView.SamplingHeapProfileType.TypeId) {
    throw new Error(`the Memory panel does not read ${name} as an allocation sampling profile`)
  }
  const before = type.getProfiles().length

  // What the Load button's file input does with the chosen file.
  await panel.loadFromFile(new File([text], name))

  const profiles = type.getProfiles()
  if (profiles.length === before) {
    // DevTools removed the profile and showed its MessageDialog: read the dialog's text.
    return { error: { stage: 'load', message: failureDialogText() ?? 'the profile was not loaded and DevTools said nothing' } }
  }
  const header = profiles[profiles.length - 1]
  let view
  try {
    view = panel.showProfile(header) // what selecting the profile in the sidebar does
  } catch (e) {
    return { error: { stage: 'view', message: String(e) } }
  }
  if (!(view instanceof Profiler.HeapProfileView.HeapProfileView)) throw new Error('DevTools did not open an allocation sampling view')
  if (view.viewType.get() !== 'Heavy') throw new Error(`the profile view shows ${view.viewType.get()}, not Heavy (Bottom Up)`)
  const grid = view.dataGrid
  if (grid.sortColumnId() !== 'self' || grid.isSortOrderAscending()) throw new Error('the Heavy grid is not sorted by self size, descending')
  const rows = grid.rootNode().children.map((row) => ({
    functionName: row.functionName,
    url: row.url,
    lineNumber: row.profileNode.callFrame.lineNumber,
    selfSize: row.self,
    totalSize: row.total,
  }))
  return { total: view.profile().root.total, rows, title: header.title }

  /** The header and message of an open DevTools MessageDialog, searched through shadow roots. */
  function failureDialogText() {
    const roots = [document]
    for (let i = 0; i < roots.length; i++) {
      const root = roots[i]
      const header = root.querySelector('.widget > .header')
      const message = root.querySelector('.widget > .message')
      if (header && message) return `${header.textContent.trim()}. ${message.textContent.trim()}`
      for (const el of root.querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot)
    }
    return null
  }
}

module.exports = { DEVTOOLS_APP, readWithDevTools }
