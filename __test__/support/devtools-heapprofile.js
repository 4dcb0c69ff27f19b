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
 * "Allocation sampling" type by extension, and the header reads the file in chunks and
 * JSON.parses it. It then opens the loaded profile as selecting it in the sidebar does
 * (`ProfilesPanel.showProfile`), which builds HeapProfileView and its SamplingHeapProfileModel,
 * and reads the model DevTools built for the view's default mode, "Heavy (Bottom Up)": the
 * BottomUpProfileDataGridTree, sorted with DevTools' own comparator by self size, descending (the
 * Heavy grid's default order).
 *
 * It rests on what has changed least in the frontend (front_end/panels/profiler: the panel's
 * file loading, the profile model, the data grid *tree*), found by feature detection, and never on
 * the data grid widget, which was rewritten between Chromium 148 and 156 (`view.dataGrid` went).
 * Where no known shape fits, it fails with the Chromium version and the first name it did not find.
 * Seen to pass with Debian's Chromium 150.0.7871.100 and 156.0.8078.79 (2026-11-24).
 */

/** The frontend bundled in the browser (resources.pak), not fetched from anywhere. */
const DEVTOOLS_APP = 'devtools://devtools/bundled/devtools_app.html'

/**
 * Resolves with DevTools' reading of `profileJsonText` in `browser` (a launched playwright-core
 * Chromium Browser):
 * - `total`: the SamplingHeapProfileModel root's total size, in bytes;
 * - `rows`: the Heavy (Bottom Up) top-level rows in the grid's default order, one per
 *   function (DevTools' callUID), each `{ functionName, url, lineNumber, selfSize, totalSize }` (functionName as
 *   displayed: '(anonymous)' for ''; lineNumber 0-based as in the callFrame);
 * - `title`: the profile's title in the sidebar; `browserVersion`.
 * Rejects where DevTools does: the load fails (DevTools' "Profile loading failed" dialog, e.g.
 * JSON it cannot parse), or the file loads but its view cannot be built (e.g. no `head`); the
 * error's `devtools` property is `{ stage: 'load' | 'view' | 'shape', message }` ('shape': this
 * frontend lacks the names the helper reads, listed in the message). Each call uses a fresh
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
        const what = {
          load: 'DevTools rejected the profile',
          view: 'DevTools loaded the profile but could not show it',
          shape: `the DevTools frontend of Chromium ${browser.version()} has no shape this helper knows`,
        }[stage]
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
 * returns `{ total, rows, title }`, or `{ error: { stage, message } }` where stage is 'load' or
 * 'view' (DevTools refused the profile) or 'shape' (this frontend has none of the names known).
 */
async function readInPage({ text, bootMs }) {
  /** Thrown where the frontend lacks a name this helper relies on. */
  class ShapeError extends Error {}
  /** `value`, or a ShapeError saying that `what` was not found. */
  const found = (value, what) => {
    if (value === undefined || value === null) throw new ShapeError(what)
    return value
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  try {
    const UI = await import('./ui/legacy/legacy.js').catch(() => found(null, 'module ui/legacy/legacy.js'))
    const Profiler = await import('./panels/profiler/profiler.js').catch(() => found(null, 'module panels/profiler/profiler.js'))
    const inspectorView = found(UI.InspectorView?.InspectorView?.maybeGetInspectorViewInstance, 'InspectorView.maybeGetInspectorViewInstance')
    for (const end = Date.now() + bootMs; !inspectorView(); ) {
      if (Date.now() > end) throw new Error('the DevTools app did not start')
      await sleep(20)
    }
    await found(UI.ViewManager?.ViewManager?.instance, 'ViewManager.instance')().showView('heap-profiler')
    const panel = found(Profiler.HeapProfilerPanel?.HeapProfilerPanel?.instance, 'HeapProfilerPanel.instance')()
    for (const method of ['findProfileTypeByExtension', 'loadFromFile', 'showProfile']) found(panel[method], `ProfilesPanel.${method}`)
    const name = 'profile.heapprofile'
    const type = panel.findProfileTypeByExtension(name)
    const samplingTypeId = found(Profiler.HeapProfileView?.SamplingHeapProfileType?.TypeId, 'SamplingHeapProfileType.TypeId')
    if (!type || type.id !== samplingTypeId) throw new Error(`the Memory panel does not read ${name} as an allocation sampling profile`)
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
    if (!(view instanceof found(Profiler.HeapProfileView?.HeapProfileView, 'HeapProfileView'))) throw new Error('DevTools did not open an allocation sampling view')
    const viewType = view.viewType?.get?.()
    if (viewType !== undefined && viewType !== 'Heavy') throw new Error(`the profile view shows ${viewType}, not Heavy (Bottom Up)`)
    const model = found(typeof view.profile === 'function' ? view.profile() : view.profileInternal, 'HeapProfileView.profile()')
    const total = found(model.root?.total, 'SamplingHeapProfileModel.root.total')
    const tree = bottomUpTree(Profiler, view, model)
    const byName = Profiler.ProfileDataGrid?.ProfileDataGridTree?.propertyComparator
    const bySelfDescending = byName ? byName('self', false) : (a, b) => b.self - a.self
    found(tree.sort, 'ProfileDataGridTree.sort').call(tree, bySelfDescending, true)
    const rows = found(tree.children, 'ProfileDataGridTree.children').map((row) => ({
      functionName: found(row.functionName, 'ProfileDataGridNode.functionName'),
      url: found(row.url, 'ProfileDataGridNode.url'),
      lineNumber: found(row.profileNode?.callFrame?.lineNumber, 'ProfileDataGridNode.profileNode.callFrame'),
      selfSize: found(row.self, 'ProfileDataGridNode.self'),
      totalSize: found(row.total, 'ProfileDataGridNode.total'),
    }))
    return { total, rows, title: header.title }
  } catch (e) {
    if (e instanceof ShapeError) return { error: { stage: 'shape', message: `no ${e.message}` } }
    throw e
  }

  /**
   * The Heavy (Bottom Up) tree of the view: the view's own (HeapProfileView builds it lazily),
   * else one built from the model as the view would.
   */
  function bottomUpTree(Profiler, view, model) {
    if (typeof view.getBottomUpProfileDataGridTree === 'function') return view.getBottomUpProfileDataGridTree()
    const Tree = found(Profiler.BottomUpProfileDataGrid?.BottomUpProfileDataGridTree, 'HeapProfileView.getBottomUpProfileDataGridTree or BottomUpProfileDataGridTree')
    return new Tree(view.nodeFormatter ?? Profiler.HeapProfileView.nodeFormatter, view.searchableView?.(), model.root, model.total)
  }

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
