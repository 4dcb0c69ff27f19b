'use strict'

/**
 * The tools over a live process, on `leakproof attach`: attach (the watcher loaded into the
 * running process, no restart), its status, a census of its collections, a snapshot written
 * by a forked child (no pause), detach. Only processes of the server's own user: even a
 * server run as root refuses another user's. The directory of each process attached to
 * (its snapshots, reports and event log) joins the roots while the server runs.
 */
const { attach } = require('../attach/attach')
const { COMMAND_TIMEOUT_MS } = require('../attach/command')
const { defaultDir, sendCommand, reachable } = require('../attach/control')
const { ownerOf } = require('../attach/target')
const { CODES, codedError } = require('../shared/errors')

const PID = { type: 'integer', minimum: 1, description: "the process id of a Node process of this server's user" }
const ONLY_PID = { type: 'object', properties: { pid: PID }, required: ['pid'], additionalProperties: false }

/** Throws the coded refusal unless `pid` is a live process of this server's user. */
function checkOwn(pid) {
  const owner = ownerOf(pid)
  if (owner === null) throw codedError(Error, CODES.ATTACH_NO_PROCESS, `attach: no process ${pid}`)
  const ours = process.geteuid()
  if (owner !== ours) throw codedError(Error, CODES.ATTACH_OTHER_USER, `attach: process ${pid} belongs to user ${owner}; this server reaches only processes of its own user (${ours})`)
}

/**
 * Lets the tools read process `pid`'s directory `dir` (its files), where this process reaches
 * it: the path itself, or under /proc/PID/root for a process in another mount namespace. The
 * tool's answer stands whether or not this can be done.
 */
function allowDir(roots, pid, dir) {
  const reached = reachable(dir, pid, (stats) => stats.isDirectory())
  try {
    if (reached !== null) roots.add(reached)
  } catch {
    // Gone meanwhile: nothing to read there.
  }
}

/** Sends `command` to the agent in process `pid` (attached by this server or by `leakproof attach`). */
async function ask({ roots }, pid, command) {
  checkOwn(pid)
  const dir = defaultDir(pid)
  const result = await sendCommand({ pid, dir, command, timeoutMs: COMMAND_TIMEOUT_MS[command] })
  allowDir(roots, pid, dir)
  return result
}

/** The tools that send one command to an attached process: the command and what it answers. */
const COMMAND_TOOLS = {
  process_status: ['status', "The attached watcher's view of the process: memory floors, leaks so far, snapshots and reports written."],
  process_census: ['census', 'A census of the collections reachable from the code of the attached process (Maps, Sets, arrays, objects) without a snapshot: with an earlier census, those that grew since, named by what holds them; else the largest now.'],
  process_snapshot: ['snapshot', 'A heap snapshot of the attached process, written by a forked child so the service does not pause; answers its file, which the snapshot tools can read.'],
  process_detach: ['detach', 'Stops everything leakproof started in the process; its files stay.'],
}

/** The tools over live processes, by name. */
const LIVE_TOOLS = {
  process_attach: {
    description:
      'Loads leakproof into a running Node process of this user without restarting it (its inspector opens for about 0.1 s, then refuses connections again): the watcher starts there, writing its event log, reports and snapshots into a directory this server can read (answered as dir; use the directory tools on it).',
    inputSchema: ONLY_PID,
    async run({ roots, env }, { pid }) {
      checkOwn(pid)
      const dir = defaultDir(pid)
      const { started, tookMs, inspectorOpenMs } = await attach(pid, { dir, env, censusOnly: false })
      allowDir(roots, pid, dir)
      return { attached: true, pid, node: started.node, watching: started.watching, dir, tookMs, inspectorOpenMs, next: 'process_status for what the watcher sees; process_census for the collections that grow; leak_overview on dir once it reports' }
    },
  },
  ...Object.fromEntries(Object.entries(COMMAND_TOOLS).map(([name, [command, description]]) => [name, { description, inputSchema: ONLY_PID, run: (context, { pid }) => ask(context, pid, command) }])),
}

module.exports = { LIVE_TOOLS }
