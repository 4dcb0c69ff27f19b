'use strict'

/**
 * The control socket of an attached process: where it is, and the command's end of it. One
 * connection per command: the command sends one JSON line `{ command, seconds }`, the agent
 * (agent.js) answers one JSON line `{ ok, result | error }` and closes.
 */
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const errors = require('../shared/errors')
const { ownerOf } = require('./target')

/** The longest line either end reads: a reply lists tens of holders and sites, never megabytes. */
const MAX_LINE_BYTES = 4 * 1024 * 1024

/** The longest path a Unix socket may have on Linux (sun_path's 108 bytes, less the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107

/** The directory `attach` uses for process `pid` when no `--dir` is given. */
function defaultDir(pid) {
  return path.join(os.tmpdir(), `leakproof-attach-${pid}`)
}

/** The control socket of process `pid` in `dir`. */
function socketPathFor(dir, pid) {
  return path.join(path.resolve(dir), `leakproof-attach-${pid}.sock`)
}

/** Throws a coded RangeError when `dir`'s socket path for `pid` is too long for a Unix socket. */
function checkSocketPath(dir, pid) {
  const socket = socketPathFor(dir, pid)
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw errors.invalidOptionRange('attach', '--dir', `a directory whose control socket path fits in ${MAX_SOCKET_PATH_BYTES} bytes`, dir)
  }
  return socket
}

/**
 * Whether a directory's `stats` make it safe to trust what is in it for user `uid`: a real
 * directory (not a link) of that user or root that no one else can write to, or that has the
 * sticky bit (as /tmp has: no one removes or renames another's files there). A directory
 * another user made first, under the name an attach uses, is not.
 * @param {fs.Stats} stats lstat of the directory
 * @param {number} uid
 */
function isSafeDir(stats, uid) {
  return stats.isDirectory() && (stats.uid === uid || stats.uid === 0) && ((stats.mode & 0o022) === 0 || (stats.mode & 0o1000) !== 0)
}

/**
 * Throws a coded ATTACH_FAILED unless `socket`, the control socket of process `pid` (whose
 * user is `uid`), was made by that user in a directory safe for it: otherwise anyone could
 * answer in its name.
 */
function checkSocketOwner(socket, pid, uid) {
  const dir = fs.lstatSync(path.dirname(socket))
  const own = fs.lstatSync(socket)
  if (own.uid !== uid || !isSafeDir(dir, uid)) {
    throw errors.codedError(Error, errors.CODES.ATTACH_FAILED, `attach: ${socket} is not process ${pid}'s to answer from (its owner is user ${own.uid}, its directory's ${dir.uid} with mode ${(dir.mode & 0o7777).toString(8)}; the process runs as user ${uid}): not used`)
  }
}

/**
 * Where this process reaches `file` of process `pid` that `is` accepts (its stats): the path
 * itself, or, when the process runs in another mount namespace (a debug container sharing the
 * process namespace), the same path under `/proc/<pid>/root`. Null when neither is there.
 * @param {string} file
 * @param {number} pid
 * @param {(stats: fs.Stats) => boolean} is
 */
function reachable(file, pid, is) {
  for (const candidate of [file, path.join(`/proc/${pid}/root`, file)]) {
    try {
      if (is(fs.statSync(candidate))) return candidate
    } catch {
      // Not there (or not ours to see): try the next.
    }
  }
  return null
}

/**
 * Sends `command` to the agent of `pid` listening in `dir`; resolves with its result, or
 * rejects with its coded error. `NOT_ATTACHED` when nothing listens there.
 * @param {{ pid: number, dir: string, command: string, seconds?: number, timeoutMs: number }} request
 */
function sendCommand({ pid, dir, command, seconds, timeoutMs }) {
  const socket = reachable(socketPathFor(dir, pid), pid, (stats) => stats.isSocket())
  const notAttached = (why) => errors.codedError(Error, errors.CODES.NOT_ATTACHED, `attach: leakproof is not attached to process ${pid} with the directory ${dir} (${why}); attach first, or give the --dir it was attached with`)
  if (socket === null) return Promise.reject(notAttached('no control socket there'))
  const uid = ownerOf(pid)
  if (uid === null) return Promise.reject(errors.codedError(Error, errors.CODES.ATTACH_NO_PROCESS, `attach: no process ${pid}`))
  try {
    checkSocketOwner(socket, pid, uid)
  } catch (err) {
    // The agent removes its socket as it stops, and may between the look above and this one.
    return Promise.reject(err.code === 'ENOENT' ? notAttached('its socket was removed as the agent stopped') : err)
  }
  return new Promise((resolve, reject) => {
    const connection = net.connect(socket)
    let text = ''
    const timer = setTimeout(() => {
      connection.destroy()
      reject(errors.codedError(Error, errors.CODES.ATTACH_FAILED, `attach: process ${pid} did not answer ${command} within ${timeoutMs} ms`))
    }, timeoutMs)
    connection.setEncoding('utf8')
    connection.on('connect', () => connection.write(`${JSON.stringify({ command, seconds })}\n`))
    connection.on('data', (chunk) => {
      text += chunk
      if (text.length > MAX_LINE_BYTES) connection.destroy(new Error('the reply is too long'))
    })
    connection.on('error', (/** @type {NodeJS.ErrnoException} */ err) => {
      clearTimeout(timer)
      reject(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? notAttached('its socket is left from a process that is gone') : errors.codedError(Error, errors.CODES.ATTACH_FAILED, `attach: ${command}: ${err.message}`))
    })
    connection.on('end', () => {
      clearTimeout(timer)
      let reply
      try {
        reply = JSON.parse(text)
      } catch {
        // Not JSON (or nothing): handled with any other shape below.
      }
      if (reply?.ok === true) resolve(reply.result)
      else if (reply?.ok === false && /^ERR_LEAKPROOF_[A-Z_]+$/.test(reply.error?.code) && typeof reply.error.message === 'string') reject(errors.codedError(Error, reply.error.code, reply.error.message))
      else reject(errors.codedError(Error, errors.CODES.ATTACH_FAILED, `attach: process ${pid} closed the control socket without a reply to ${command}`))
    })
  })
}

module.exports = { defaultDir, socketPathFor, checkSocketPath, sendCommand, reachable, isSafeDir, MAX_LINE_BYTES }
