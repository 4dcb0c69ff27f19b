// Types of `writeReportPage()`: the report page of a watcher's directory; index.d.ts exports them all.

/** What `writeReportPage` wrote. */
export interface WrittenReport {
  /** The page's absolute path. */
  path: string
  /** Its size in bytes. */
  bytes: number
  /** Processes (pid, thread) drawn on it, of all its directories. */
  processes: number
  /** What the reader of the directory noticed: files skipped, lines unreadable, timelines downsampled. */
  notes: string[]
}

/**
 * Writes one self-contained HTML page of what a watcher left in `dir` (its event log, its
 * reports, the names and sizes of its snapshots): the memory timeline per process, the
 * leaks, the snapshots and the suspects with their holders. Given several directories (pods'
 * volumes, hosts' copies), one page of them all; with more than one instance (a process of one
 * directory), it opens with the fleet: the instances that leak grouped by what holds the leak,
 * and those that do not. A directory given twice is read once. Rejects with
 * `ERR_LEAKPROOF_REPORT_DIR` naming the first `dir` that is not a readable directory, and with
 * `ERR_LEAKPROOF_INVALID_OPTION` for several directories without `out`. docs/report.md.
 * @param options `out`: where to write it; required with several directories. @default `<dir>/leakproof-report.html`
 */
export declare function writeReportPage(dir: string | readonly string[], options?: { out?: string }): Promise<WrittenReport>

/** @deprecated use writeReportPage (its former name; the first call warns, code `LEAKPROOF_DEPRECATED`). */
export declare function writeReport(dir: string | readonly string[], options?: { out?: string }): Promise<WrittenReport>
