'use strict'

/**
 * What Linux's /proc says of the process `leakproof attach` is pointed at, read before
 * anything is sent to it: whether it exists, whose it is, whether it is Node, whether it
 * catches SIGUSR1 (the signal that opens Node's inspector kills a process that does not),
 * and the TCP ports it listens on (the inspector's is the one that appears after SIGUSR1).
 */
const fs = require('node:fs')
const path = require('node:path')
const errors = require('../shared/errors')

/** SIGUSR1's number on Linux: bit SIGUSR1 - 1 of /proc/PID/status' signal masks. */
const SIGUSR1 = 10

/** An executable's name that is Node's: node, nodejs, node20, node-24 and the like. */
const NODE_EXECUTABLE = /^node(js)?([-_.]?\d+(\.\d+)*)?$/

/** A coded refusal of `pid`. */
const refusal = (code, message) => errors.codedError(Error, code, `attach: ${message}`)

/** The fields of /proc/PID/status (`Name`, `Uid`, `SigCgt`, …) as text, or null once the process is gone. */
function statusOf(pid) {
  let text
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ESRCH') return null
    throw err
  }
  return Object.fromEntries(text.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]))
}

/** The effective user id in a process' /proc status (`Uid:` real, effective, saved, filesystem). */
const effectiveUid = (status) => Number(status.Uid.split(/\s+/)[1])

/** The effective user id of process `pid`, or null once it is gone. */
function ownerOf(pid) {
  const status = statusOf(pid)
  return status === null ? null : effectiveUid(status)
}

/**
 * Checks process `pid` for an attach, sending it nothing; throws the coded refusal that fits.
 * Returns `{ pid, uid, executable }`.
 */
function checkTarget(pid) {
  if (process.platform !== 'linux') {
    throw refusal(errors.CODES.ATTACH_UNSUPPORTED, `attaching to a running process needs Linux (this is ${process.platform}); start the service with -r leakproof/register instead`)
  }
  if (pid === process.pid) throw refusal(errors.CODES.ATTACH_NOT_NODE, `process ${pid} is this command itself`)
  const status = statusOf(pid)
  if (status === null) throw refusal(errors.CODES.ATTACH_NO_PROCESS, `no process ${pid}`)
  const uid = effectiveUid(status)
  const ours = process.geteuid()
  if (ours !== 0 && uid !== ours) throw refusal(errors.CODES.ATTACH_OTHER_USER, `process ${pid} belongs to user ${uid}, this command runs as ${ours}: run it as that user or as root`)
  let executable
  try {
    executable = fs.readlinkSync(`/proc/${pid}/exe`)
  } catch (err) {
    if (statusOf(pid) === null) throw refusal(errors.CODES.ATTACH_NO_PROCESS, `process ${pid} exited`)
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      const why = ours === 0 ? 'a process of another user namespace, or one protected from tracing' : "run it as the process' user or as root"
      throw refusal(errors.CODES.ATTACH_OTHER_USER, `this command may not look at process ${pid}'s executable (${err.code}): ${why}`)
    }
    throw refusal(errors.CODES.ATTACH_NOT_NODE, `process ${pid} has no executable to read (${err.code}: a kernel thread?)`)
  }
  const name = path.basename(executable.replace(/ \(deleted\)$/, ''))
  if (!NODE_EXECUTABLE.test(name)) throw refusal(errors.CODES.ATTACH_NOT_NODE, `process ${pid} runs ${executable}, not node`)
  if (!catches(status.SigCgt, SIGUSR1)) {
    throw refusal(errors.CODES.ATTACH_NO_INSPECTOR, `process ${pid} does not handle SIGUSR1 (started with --disable-sigusr1, or a Node without an inspector), so its inspector cannot be opened; nothing was sent to it`)
  }
  return { pid, uid, executable }
}

/** Whether the hexadecimal signal mask `mask` (/proc's SigCgt) has signal number `signal`. */
function catches(mask, signal) {
  return mask !== undefined && (BigInt(`0x${mask}`) & (1n << BigInt(signal - 1))) !== 0n
}

/** Whether process `pid` still runs (and is not a zombie). */
function isAlive(pid) {
  const status = statusOf(pid)
  return status !== null && !/^Z/.test(status.State ?? '')
}

/**
 * The TCP ports process `pid` listens on, as `{ address, port }`: its sockets' inodes
 * (/proc/PID/fd) matched with the listening sockets of its network namespace
 * (/proc/PID/net/tcp and tcp6). Empty when they cannot be read.
 */
function listeningPorts(pid) {
  const inodes = new Set()
  let fds = []
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch {
    return []
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (match !== null) inodes.add(match[1])
    } catch {
      // Closed meanwhile.
    }
  }
  const ports = []
  for (const table of ['tcp', 'tcp6']) {
    let text = ''
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // local_address rem_address st … inode: st 0A is LISTEN.
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9])) continue
      const [address, port] = fields[1].split(':')
      ports.push({ address: addressText(address), port: parseInt(port, 16) })
    }
  }
  return ports
}

/** /proc's hexadecimal address as text: IPv4's four bytes are little-endian; IPv6 is shown as hex. */
function addressText(hex) {
  if (hex.length !== 8) return hex === '00000000000000000000000000000000' ? '::' : hex
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.')
}

module.exports = { checkTarget, ownerOf, isAlive, listeningPorts }
