'use strict'

/**
 * `leakproof mcp`'s server: the tools over a watcher's directory, snapshot files and live
 * processes, the workflow as a resource and prompts, on the official SDK's low-level
 * `Server` over stdio (the SDK is an optional peer dependency: its absence is a coded
 * `PEER_MISSING` when this module loads). A tool's failure is a JSON-RPC error: `-32602` (invalid params) for
 * every coded leakproof error, with the stable code in `data.code`; `-32603` for anything
 * else (a bug: the stack goes to stderr). The server lives on after either.
 */
const { CODES, codedError } = require('../shared/errors')
const { withSourcePositions } = require('../shared/source-positions')
const { requirePeer } = require('../operate/peer')
const { checkArguments } = require('./arguments')
const { WATCHER_TOOLS } = require('./watcher-tools')
const { SNAPSHOT_TOOLS, OpenSnapshots } = require('./snapshot-tools')
const { LIVE_TOOLS } = require('./live-tools')
const { GUIDE, PROMPTS } = require('./guide')
const { version } = require('../../package.json')

/** The SDK, an optional peer dependency: loaded by this module, which only `leakproof mcp` loads. */
const SDK = '@modelcontextprotocol/sdk'
const { Server } = requirePeer(`${SDK}/server/index.js`, 'leakproof mcp', SDK)
const { StdioServerTransport } = requirePeer(`${SDK}/server/stdio.js`, 'leakproof mcp', SDK)
const types = requirePeer(`${SDK}/types.js`, 'leakproof mcp', SDK)

const TOOLS = { ...WATCHER_TOOLS, ...SNAPSHOT_TOOLS, ...LIVE_TOOLS }

const GUIDE_URI = 'leakproof://guide'

/** What the server tells a client about itself when it connects. */
function instructions(roots) {
  return `leakproof finds memory leaks in Node services and what holds them. It reads only under ${roots.list.join(', ')} and reaches only processes of its own user. Read ${GUIDE_URI} for the workflow; start with leak_overview (without arguments: every watcher directory under the roots, the instances that leak grouped by what holds the leak; with dir: one watcher's directory), snapshot_diff (two snapshots) or process_attach (a running process).`
}

/**
 * A thrown error as the JSON-RPC error the client gets: an object with a numeric `code`, its
 * `message` and `data`, which the SDK sends as it is (an McpError would put its own prefix in
 * the message, and the client's another).
 */
function protocolError(err, stderr) {
  if (err instanceof types.McpError) return err
  if (typeof err?.code === 'string' && err.code.startsWith('ERR_LEAKPROOF_')) {
    const data = { code: err.code, ...(err.file === undefined ? {} : { file: err.file, offset: err.offset }) }
    return Object.assign(new Error(`${err.message} [${err.code}]`), { code: types.ErrorCode.InvalidParams, data })
  }
  stderr.write(`leakproof mcp: internal error: ${err?.stack ?? err}\n`)
  return Object.assign(new Error(`leakproof: internal error: ${err?.message ?? err} (a bug in leakproof; the server goes on)`), { code: types.ErrorCode.InternalError })
}

/** Sends progress notifications for request `extra` when its client asked for them (a `progressToken`). */
function progressFor(request, extra) {
  const token = request.params._meta?.progressToken
  if (token === undefined) return () => {}
  return (progress, total, message) => {
    extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total, message } }).catch(() => {})
  }
}

/**
 * The server, not yet connected.
 * @param {{ roots: import('./roots').Roots, env: Record<string, string>, stderr?: NodeJS.WritableStream }} options
 * `env`: the LEAKPROOF_* settings for the watchers it attaches
 */
function createServer({ roots, env, stderr = process.stderr }) {
  const server = new Server({ name: 'leakproof', version }, { capabilities: { tools: {}, prompts: {}, resources: {} }, instructions: instructions(roots) })
  const snapshots = new OpenSnapshots()
  const guarded = (handler) => async (request, extra) => {
    try {
      return await handler(request, extra)
    } catch (err) {
      throw protocolError(err, stderr)
    }
  }
  const unknown = (what, name) => codedError(Error, CODES.MCP_UNKNOWN, `mcp: no ${what} ${JSON.stringify(name)}`)

  server.setRequestHandler(types.ListToolsRequestSchema, async () => ({
    tools: Object.entries(TOOLS).map(([name, tool]) => ({ name, description: tool.description, inputSchema: tool.inputSchema })),
  }))
  server.setRequestHandler(types.CallToolRequestSchema, guarded(async (request, extra) => {
    const { name } = request.params
    const tool = Object.hasOwn(TOOLS, name) ? TOOLS[name] : null
    if (tool === null) throw unknown('tool', name)
    const args = checkArguments(name, tool.inputSchema, request.params.arguments)
    // The snapshot's own classes (`function handle at dist/server.js:9:3`) in the source's words too.
    const answer = await withSourcePositions(await tool.run({ roots, snapshots, env, progress: progressFor(request, extra) }, args))
    return { content: [{ type: 'text', text: JSON.stringify(answer, null, 1) }], structuredContent: answer }
  }))
  server.setRequestHandler(types.ListPromptsRequestSchema, async () => ({
    prompts: Object.entries(PROMPTS).map(([name, p]) => ({ name, description: p.description, arguments: p.arguments })),
  }))
  server.setRequestHandler(types.GetPromptRequestSchema, guarded(async (request) => {
    const { name, arguments: args = {} } = request.params
    const prompt = Object.hasOwn(PROMPTS, name) ? PROMPTS[name] : null
    if (prompt === null) throw unknown('prompt', name)
    for (const a of prompt.arguments) {
      if (a.required && !args[a.name]) throw codedError(TypeError, CODES.INVALID_ARGUMENT, `${name}: ${a.name} must be given (${a.description})`)
    }
    return { description: prompt.description, messages: [{ role: 'user', content: { type: 'text', text: prompt.message(args) } }] }
  }))
  server.setRequestHandler(types.ListResourcesRequestSchema, async () => ({
    resources: [{ uri: GUIDE_URI, name: 'guide', title: 'Finding a memory leak with leakproof', description: 'The workflow: what to call first, what the answers mean, what to change.', mimeType: 'text/markdown' }],
  }))
  server.setRequestHandler(types.ReadResourceRequestSchema, guarded(async (request) => {
    if (request.params.uri !== GUIDE_URI) throw unknown('resource', request.params.uri)
    return { contents: [{ uri: GUIDE_URI, mimeType: 'text/markdown', text: GUIDE }] }
  }))
  server.onclose = () => snapshots.clear()
  return server
}

/** Serves on this process' stdin and stdout until the client closes them. */
async function serveStdio(options) {
  const server = createServer(options)
  await server.connect(new StdioServerTransport())
  return server
}

module.exports = { serveStdio }
