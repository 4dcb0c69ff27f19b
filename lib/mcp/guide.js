'use strict'

/**
 * The investigation workflow for an agent, in the protocol's terms: a resource to read
 * (`leakproof://guide`) and prompts that start an investigation from a watcher's directory,
 * a pair of snapshots or a live process.
 */

/** What to call first, what the answers mean, what to change. */
const GUIDE = `# Finding a memory leak with leakproof

Start from what you have:

1. **Watchers' directories** (the service ran with \`node -r leakproof/register\` or \`watch({ dir })\`):
   \`leak_overview\` first. Without \`dir\` it reads every watcher directory in and up to two levels
   below the roots (or the \`dirs\` you give): which instances (processes, worker threads) leak,
   grouped by what holds the leak (\`groups[].holder\` and \`site\`, the same on every instance that
   runs the same code, wherever its files are), each instance's \`dir\`, \`pid\`, \`since\`, growth,
   \`reachesLimitAt\` and newest evidence file, and the instances that do not leak beside them.
   With \`dir\` (one watcher's directory, such as an instance's) it answers per process: its
   \`lookFirst.holder\` is the variable or property that holds what grew, in the code's words
   (\`sessions (Map), a module-level variable of /srv/app.js\`), and \`growingSite\` the code that
   allocates it. \`leak_reports\` gives the evidence and a \`suggestedChanges\`; \`allocation_sites\`
   and \`leak_timeline\` the rest. These three read one \`dir\`; on a server with one root, leaving it
   out means that root.
2. **Two heap snapshots of one process**, an earlier and a later one: \`snapshot_diff\`. Its first
   suspect's holder is the answer; \`grownCollections\` say how many entries were added.
3. **A running process** of this user: \`process_attach\`, then \`process_census\` twice a minute or
   so apart (the second names the collections that grew), or wait for the watcher's reports in the
   \`dir\` it answers and use (1). \`process_snapshot\` writes a snapshot without pausing the service.
4. **One snapshot**: \`snapshot_summary\`, then \`snapshot_retainers\` on a class that retains much,
   \`snapshot_dominators\` on an object id.

What the answers mean:

- A leak's \`test\`: \`urgent\` (reaches the heap limit soon), \`fast\` (steep within minutes),
  \`trend\` (a steady climb over its \`scale\`). Memory that rises and falls back (the GC's sawtooth)
  or levels off (a cache warming up) is not reported.
- \`kind\`: \`heap\` (JavaScript objects: look at holders), \`external\` (Buffers held by JavaScript:
  look at holders too), \`native\` (outside V8: addons, zlib or crypto contexts, the allocator).
- A report's \`evidence\`: \`pair\` (two snapshots diffed: the strongest), \`census\` (collections that
  grew between two passes), \`sites\` (allocation sites only: no holder).
- \`path\`: how the object is reached from the GC roots, Node's own machinery folded into its first step.

What to change: bound the holder (\`BoundedMap\` with \`max\`, \`maxBytes\` or \`ttl\`; \`RingBuffer\` for a
list) or delete entries when their work ends. A suggested change is a starting point: check that
evicting an entry is safe for the code that reads it. This server never edits files.

Errors come as JSON-RPC errors whose \`data.code\` is a stable \`ERR_LEAKPROOF_…\` code.`

/** The prompts, by name: each with its arguments and the message it starts with. */
const PROMPTS = {
  investigate_directory: {
    description: "Find what leaks in a service from the directory its watcher wrote, or in a fleet from every watcher directory under the server's roots.",
    arguments: [{ name: 'dir', description: "the watcher's directory; left out, every watcher directory under the server's roots", required: false }],
    message: ({ dir }) =>
      dir
        ? `Find the memory leak in the service whose leakproof watcher wrote to ${dir}. Call leak_overview with dir ${JSON.stringify(dir)} first; name the holder (the variable or property), the code that fills it, and propose the smallest change that bounds it. Read the resource leakproof://guide for what the answers mean.`
        : "Find the memory leaks in the services whose leakproof watchers wrote under this server's roots. Call leak_overview without arguments first: it groups the instances that leak by what holds the leak. For each group, call leak_overview with the dir of one of its instances, name the holder (the variable or property) and the code that fills it, and propose the smallest change that bounds it; say which instances do not leak. Read the resource leakproof://guide for what the answers mean.",
  },
  investigate_snapshots: {
    description: 'Find what grew between two heap snapshots of one process.',
    arguments: [
      { name: 'before', description: 'the earlier snapshot', required: true },
      { name: 'after', description: 'the later snapshot', required: true },
    ],
    message: ({ before, after }) => `Find what grew between the heap snapshots ${before} and ${after}. Call snapshot_diff with before ${JSON.stringify(before)} and after ${JSON.stringify(after)}; name the holder of the first suspect and how many entries it gained, then propose the smallest change that bounds it.`,
  },
  investigate_process: {
    description: 'Find what leaks in a running Node process without restarting it.',
    arguments: [{ name: 'pid', description: 'the process id', required: true }],
    message: ({ pid }) => `Find the memory leak in the running Node process ${pid} without restarting it. Call process_attach with pid ${pid}, then process_census, wait about a minute under normal load, call process_census again, and name the collections that grew and what holds them. Call process_detach at the end.`,
  },
}

module.exports = { GUIDE, PROMPTS }
