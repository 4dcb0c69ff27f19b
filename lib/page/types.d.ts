// Types of `writeReport()`: the report page of a watcher's directory; index.d.ts exports them all.

/** What `writeReport` wrote. */
export interface WrittenReport {
  /** The page's absolute path. */
  path: string
  /** Its size in bytes. */
  bytes: number
  /** Processes (pid, thread) drawn on it. */
  processes: number
  /** What the reader of the directory noticed: files skipped, lines unreadable, timelines downsampled. */
  notes: string[]
}

/**
 * Writes one self-contained HTML page of what a watcher left in `dir` (its event log, its
 * reports, the names and sizes of its snapshots): the memory timeline per process, the
 * leaks, the snapshots and the suspects with their holders. Rejects with
 * `ERR_LEAKPROOF_REPORT_DIR` when `dir` is not a readable directory. docs/report.md.
 * @param options `out`: where to write it. @default `<dir>/leakproof-report.html`
 */
export declare function writeReport(dir: string, options?: { out?: string }): Promise<WrittenReport>
