'use strict'

/** `leakproof mcp` driven by the SDK's own client over stdio, as an agent's host drives it. */
const assert = require('node:assert')
const path = require('node:path')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js')

const BIN = path.join(__dirname, '..', '..', 'bin', 'leakproof.js')

/**
 * `leakproof mcp --root ROOT...` on this Node (the repository's bin, or `bin`), connected;
 * closed when test `t` ends.
 * `call(name, args, options)` resolves with a tool's structured answer (and counts the calls);
 * `server.stderrText` is what the server wrote on stderr.
 */
async function startMcp(t, roots, { env = {}, bin = BIN, cwd } = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin, 'mcp', ...roots.flatMap((root) => ['--root', root])],
    env: { PATH: process.env.PATH, ...env },
    cwd,
    stderr: 'pipe',
  })
  const server = { stderrText: '', calls: 0 }
  transport.stderr.on('data', (chunk) => (server.stderrText += chunk))
  const client = new Client({ name: 'leakproof-tests', version: '1' })
  await client.connect(transport)
  t.after(() => client.close())
  server.client = client
  server.pid = transport.pid
  server.call = async (name, args, options) => {
    server.calls++
    const result = await client.callTool({ name, arguments: args }, undefined, options)
    return result.structuredContent
  }
  return server
}

/** JSON-RPC's code for a call whose arguments the server refuses. */
const INVALID_PARAMS = -32602

/** Asserts that `promise` (a tool call) rejects with a protocol error carrying leakproof's `code`. */
async function refusedWith(promise, code, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, INVALID_PARAMS, err.message)
    assert.equal(err.data?.code, code, err.message)
    if (message) assert.match(err.message, message)
    return true
  })
}

module.exports = { startMcp, refusedWith, INVALID_PARAMS }
