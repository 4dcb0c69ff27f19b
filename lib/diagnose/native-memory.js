'use strict'

/**
 * Native memory that no JS object accounts for: where it sits and what to run next.
 *
 * When RSS less V8's heap and `external` grows, the growth was allocated outside V8: by an
 * addon's own malloc or mmap, or by a C library. A heap snapshot cannot show it. What can be
 * known cheaply is which kind of mapping grew, read from /proc/self/smaps (Linux), and which
 * addons are loaded; the rest takes a native profiler, named here with commands to paste.
 */
const fs = require('node:fs/promises')
const path = require('node:path')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { bytesText, signedBytesText } = require('../shared/bytes-text')

/**
 * The kinds of mapping, in the order `readMappings()` lists them: `[kind, label]`, the label
 * saying what each holds.
 * @type {ReadonlyArray<readonly [string, string]>}
 */
const KINDS = [
  ['malloc-heap', "malloc's main heap ([heap], grown with brk)"],
  ['anonymous', "anonymous mappings (malloc's large blocks and thread arenas, V8's heap pages, ArrayBuffer contents, addons' own mmap)"],
  ['stack', "the main thread's stack ([stack]; other threads' stacks are anonymous)"],
  ['addon-code', "native addons' code and static data (*.node)"],
  ['libraries', 'shared libraries (*.so)'],
  ['files', 'other mapped files (the node binary, data files)'],
  ['other', 'kernel mappings ([vdso], [vvar], [vsyscall])'],
]

/** A smaps header line: `start-end perms offset dev inode [path]`. */
const HEADER = /^[0-9a-f]+-[0-9a-f]+\s+\S+\s+\S+\s+\S+\s+\d+\s*(.*)$/

/** Debian's and Ubuntu's jemalloc (package libjemalloc2), by Node's `process.arch`. */
const JEMALLOC_PATHS = {
  x64: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  arm64: '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
}

/**
 * The kind of a mapping, from the path column of its smaps header (empty for anonymous).
 * @param {string} name
 * @returns {string}
 */
function kindOf(name) {
  if (name === '') return 'anonymous'
  if (name === '[heap]') return 'malloc-heap'
  if (name === '[stack]' || name.startsWith('[stack:')) return 'stack'
  if (name.startsWith('[anon')) return /stack/i.test(name) ? 'stack' : 'anonymous' // named with prctl(PR_SET_VMA)
  if (name.startsWith('[')) return 'other'
  // Shared memory without a file on disk is memory some code asked for, as an anonymous mapping is.
  if (name.startsWith('/memfd:') || name.startsWith('/dev/zero') || name.startsWith('/SYSV')) return 'anonymous'
  const file = path.basename(fileOf(name))
  if (file.endsWith('.node')) return 'addon-code'
  if (/\.so(\.\d+)*$/.test(file)) return 'libraries'
  return 'files'
}

/** The file of a path column, without the ` (deleted)` the kernel adds to removed files. */
function fileOf(name) {
  return name.endsWith(' (deleted)') ? name.slice(0, -' (deleted)'.length) : name
}

/**
 * Resident bytes by kind of mapping, from the text of /proc/<pid>/smaps. Pure, for tests and
 * for a smaps read some other way. Every kind is listed, in a fixed order, 0 where none.
 * @param {string} text
 * @returns {{ kinds: Array<{ kind: string, label: string, rssBytes: number, mappings: number }>, addons: string[] }}
 */
function parseSmaps(text) {
  const totals = new Map(KINDS.map(([kind]) => [kind, { rssBytes: 0, mappings: 0 }]))
  const addons = new Set()
  let current = null
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    const c = text.charCodeAt(start)
    if (c === 82 /* R */ && text.startsWith('Rss:', start)) {
      // `Rss:   1234 kB`; parseInt skips the spaces and stops at the unit.
      if (current !== null) current.rssBytes += parseInt(text.slice(start + 4, end), 10) * 1024
    } else if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) {
      const header = HEADER.exec(text.slice(start, end))
      if (header !== null) {
        const name = header[1].trim()
        const kind = kindOf(name)
        if (kind === 'addon-code') addons.add(fileOf(name))
        current = totals.get(kind)
        current.mappings++
      }
    }
    start = end + 1
  }
  const kinds = KINDS.map(([kind, label]) => ({ kind, label, ...totals.get(kind) }))
  return { kinds, addons: [...addons] }
}

/**
 * This process's resident memory by kind of mapping, read from /proc/self/smaps without
 * blocking the event loop (the file is 1–2 MB in a process with many mappings). `null` where
 * there is no such file (not Linux) or it cannot be read; never throws.
 * @param {import('../shared/clock').Clock} [clock] the time it was read (`at`)
 * @returns {Promise<{ kinds: Array<{ kind: string, label: string, rssBytes: number, mappings: number }>, addons: string[], at: number } | null>}
 */
async function readMappings(clock = SYSTEM_CLOCK) {
  let text
  try {
    text = await fs.readFile('/proc/self/smaps', 'utf8')
  } catch {
    return null
  }
  return { ...parseSmaps(text), at: clock.now() }
}

/**
 * The kinds of mapping that grew from one `readMappings()` to a later one, most growth first.
 * Empty where either is null.
 * @param {{ kinds: Array<{ kind: string, rssBytes: number }> } | null} before
 * @param {{ kinds: Array<{ kind: string, label: string, rssBytes: number }> } | null} after
 * @returns {Array<{ kind: string, label: string, beforeBytes: number, afterBytes: number, growthBytes: number }>}
 */
function compareMappings(before, after) {
  if (!before || !after) return []
  const beforeBytes = new Map(before.kinds.map((k) => [k.kind, k.rssBytes]))
  return after.kinds
    .map((k) => {
      const was = beforeBytes.get(k.kind) ?? 0
      return { kind: k.kind, label: k.label, beforeBytes: was, afterBytes: k.rssBytes, growthBytes: k.rssBytes - was }
    })
    .filter((k) => k.growthBytes > 0)
    .sort((a, b) => b.growthBytes - a.growthBytes)
}

/**
 * The plain answer for native growth that no JS object holds: what is known, and the commands
 * that find the allocating code, made for this service (its pid, node binary and arguments).
 * @param {object} facts
 * @param {number} facts.growthBytes native growth: what malloc holds beyond ArrayBuffers where glibc counts it, else RSS less V8's heap and `external`.
 * @param {number | null} [facts.mallocGrowthBytes] growth of malloc's in-use count; null where unknown (not glibc).
 * @param {ReturnType<typeof compareMappings>} [facts.grownKinds] the kinds of mapping that grew.
 * @param {string[]} [facts.addons] the paths of the loaded .node files.
 * @param {string} [facts.platform] default `process.platform`.
 * @param {number} [facts.pid] default `process.pid`.
 * @param {string[]} [facts.command] how the service was started; default `[process.execPath, ...process.execArgv, ...process.argv.slice(1)]`.
 * @param {string} [facts.arch] default `process.arch`, for jemalloc's path.
 * @returns {{ verdict: 'no JS object holds it', explanation: string, next: Array<{ what: string, command: string }> }}
 */
function nativeAdvice(facts) {
  const {
    growthBytes,
    mallocGrowthBytes = null,
    grownKinds = [],
    addons = [],
    platform = process.platform,
    pid = process.pid,
    command = serviceCommand(),
    arch = process.arch,
  } = facts
  const lines = [`Native memory (outside V8's heap and ArrayBuffers) grew by ${bytesText(growthBytes)} and no JS object holds it: an addon or a C library allocated it outside V8.`]
  // The kinds that hold a tenth of the growth or more: the rest is the noise of any process.
  const grown = grownKinds.filter((k) => k.growthBytes > 0 && k.growthBytes >= growthBytes / 10)
  if (grown.length > 0) lines.push(`Grown: ${grown.slice(0, 3).map((k) => `${k.kind} +${bytesText(k.growthBytes)}`).join(', ')}.`)
  const anonymousGrowth = grown.find((k) => k.kind === 'anonymous')?.growthBytes ?? 0
  const mmapOnly = mallocGrowthBytes !== null && mallocGrowthBytes < growthBytes / 4 && anonymousGrowth >= growthBytes / 2
  if (mmapOnly) {
    lines.push(`malloc's in-use count did not grow (${signedBytesText(mallocGrowthBytes)}) but anonymous mappings did: memory mapped with mmap by an addon, or by an allocator of its own (jemalloc, mimalloc, tcmalloc) that malloc's count does not see.`)
  } else if (mallocGrowthBytes !== null) {
    lines.push(`malloc's in-use count grew by ${signedBytesText(mallocGrowthBytes)}: something calls malloc and does not free.`)
  }
  lines.push(addons.length > 0 ? `Addons loaded, the likely suspects: ${addons.join(', ')}.` : 'No addon is loaded: look at the C libraries and at Node itself.')
  return { verdict: 'no JS object holds it', explanation: lines.join(' '), next: nextSteps({ platform, pid, command, arch, mmapOnly }) }
}

/** The profilers to run, for the platform; the mmap case first where malloc did not grow. */
function nextSteps({ platform, pid, command, arch, mmapOnly }) {
  if (platform === 'darwin') {
    return [
      { what: 'see which kind of memory grew (MALLOC_*, VM_ALLOCATE)', command: `vmmap --summary ${pid}` },
      { what: 'list malloc blocks that nothing points to (restart with MallocStackLogging=1 in the environment for their stacks)', command: `leaks ${pid}` },
    ]
  }
  if (platform !== 'linux') return []
  const run = shellJoin(command)
  const node = shellJoin([command[0]])
  const jemalloc = JEMALLOC_PATHS[arch] ?? JEMALLOC_PATHS.x64
  const heaptrackPrint = '--print-peaks 0 --print-allocators 0 --print-temporary 0 --print-leaks 1'
  const massifPrint = { what: 'then print the biggest allocators at its last snapshot', command: "ms_print --threshold=5 /tmp/massif.out | grep -E '^->' | tail -8" }
  const massifPages = [
    { what: 'restart under massif counting pages, so mmap counts as well as malloc (valgrind; tens of times slower)', command: `valgrind --tool=massif --pages-as-heap=yes --massif-out-file=/tmp/massif.out ${run}` },
    massifPrint,
  ]
  // No `heaptrack --pid`: attaching (heaptrack 1.4, gdb 13) crashes Node 20 and 24 at injection.
  const steps = [
    { what: 'restart under heaptrack (apt-get install heaptrack): every malloc with its stack; stop the service once the leak has grown', command: `heaptrack -o /tmp/heaptrack.run ${run}` },
    { what: 'then print what was never freed, biggest first', command: `heaptrack_print ${heaptrackPrint} /tmp/heaptrack.run.* | head -50` },
    {
      what: "or restart with jemalloc's sampling profiler (apt-get install libjemalloc2 libjemalloc-dev): a profile each GiB allocated, and at a normal exit",
      command: `LD_PRELOAD=${jemalloc} MALLOC_CONF=prof:true,prof_final:true,lg_prof_interval:30,lg_prof_sample:19,prof_prefix:/tmp/jeprof ${run}`,
    },
    { what: 'then print the newest profile, biggest allocators first', command: `jeprof --text ${node} $(ls -t /tmp/jeprof.*.heap | head -1) | head -30` },
  ]
  const massif = [{ what: 'slow fallback: restart under massif (valgrind; tens of times slower)', command: `valgrind --tool=massif --massif-out-file=/tmp/massif.out ${run}` }, massifPrint]
  // heaptrack and jemalloc see malloc only: memory mapped some other way needs massif's page mode.
  return mmapOnly ? [...massifPages, ...steps] : [...steps, ...massif]
}

/** How this service was started: node, its options, the script and its arguments. */
function serviceCommand() {
  const script = process.argv.slice(1)
  return [process.execPath, ...process.execArgv, ...(script.length > 0 ? script : ['app.js'])]
}

/** Words joined for a POSIX shell, each quoted where it needs to be. */
function shellJoin(words) {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(' ')
}

module.exports = { readMappings, parseSmaps, compareMappings, nativeAdvice, KINDS }
