'use strict'

/**
 * `leakproof mcp [--root DIR]...`: the Model Context Protocol server on stdin and stdout, for
 * coding agents. It reads only under its roots (default: the working directory) and reaches
 * only processes of its own user. Its SDK, @modelcontextprotocol/sdk, is an optional peer
 * dependency: only this command loads it, and says how to install it when it is missing.
 */
const { Roots } = require('./roots')
const { CODES } = require('../shared/errors')
const { watcherEnv } = require('../attach/command')
const { exitCodesOf } = require('../shared/exit-codes')

const USAGE = `  leakproof mcp [--root DIR]...
      A Model Context Protocol server on stdio for coding agents: the leaks, reports, sites
      and timeline of a watcher's directory, the instances under the roots that leak grouped
      by what holds the leak, snapshot summaries, diffs, retainers and
      dominators, and live processes of this user (attach, census, snapshot). Reads only
      under each --root (default: the working directory). Setup: docs/agents.md.`

/** The exit codes of `leakproof mcp` by name, each with what it means (the table's, lib/shared/exit-codes.js). */
const MCP_EXIT = exitCodesOf('mcp')

/** `leakproof mcp …`; resolves with MCP_EXIT's code once the client disconnects. */
async function mcpCommand(argv, { stderr = process.stderr, env = process.env } = {}) {
  const dirs = []
  let roots
  let settings
  try {
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === '--root' && argv[i + 1] !== undefined) dirs.push(argv[++i])
      else if (argv[i].startsWith('--root=')) dirs.push(argv[i].slice('--root='.length))
      else throw new Error(`mcp: unknown argument ${JSON.stringify(argv[i])}`)
    }
    roots = new Roots(dirs.length > 0 ? dirs : [process.cwd()])
    settings = watcherEnv(env)
  } catch (err) {
    stderr.write(`leakproof ${err.message.startsWith('mcp:') ? err.message : `mcp: ${err.message}`}\n(leakproof --help has its usage)\n`)
    return MCP_EXIT.USAGE.code
  }
  let serveStdio
  try {
    serveStdio = require('./server').serveStdio
  } catch (err) {
    if (err.code !== CODES.PEER_MISSING) throw err
    stderr.write(`${err.message} [${err.code}]\n`)
    return MCP_EXIT.NO_SDK.code
  }
  const server = await serveStdio({ roots, env: settings, stderr })
  stderr.write(`leakproof mcp ${require('../../package.json').version}: serving on stdio; reads under ${roots.list.join(', ')}\n`)
  return new Promise((resolve) => {
    server.onclose = ((close) => () => {
      close?.()
      resolve(MCP_EXIT.OK.code)
    })(server.onclose)
    process.stdin.once('end', () => server.close())
  })
}

module.exports = { mcpCommand, USAGE }
