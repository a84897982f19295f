// An offline mppx 0.11.0 MCP server on loopback: the official MCP TypeScript SDK's
// McpServer behind its Streamable HTTP transport, with tools priced by mppx's
// `Transport.mcpSdk()` and paid with the toy preimage/charge method, for this
// project's Rust MCP client to pay.
//
//   node mcp-server.mjs [--port N] [--secret KEY] [--realm REALM] [--stateless] [--json] [--strict-errors]
//
// Tools (each takes {text: string}):
//   echo        free: returns `text`
//   paid_echo   preimage/charge, 1000 usd: returns `text`, with the receipt in
//               result._meta["org.paymentauth/receipt"]
//   paid_upper  preimage/charge, 2500 usd: returns `text` in upper case, with the receipt
// Each paid tool's challenges carry the tool name as mppx's scope (opaque
// `_mppx_scope`), so a credential for one tool does not pay the other.
//
// Options:
//   --port N      the port on 127.0.0.1 (default 0: any free port)
//   --secret KEY  the challenge-binding secret, 32 bytes or more (default: a fixed test
//                 secret, or MPP_SECRET_KEY)
//   --realm R     the realm (default mppx-mcp-offline.test)
//   --stateless   no sessions: a fresh server and transport per POST, no Mcp-Session-Id
//                 (default: stateful, a session per `initialize`, GET/DELETE supported)
//   --json        answer POSTs with application/json instead of the SDK's default
//                 text/event-stream
//   --strict-errors  refused credentials (-32043) and malformed ones (-32602) as
//                 JSON-RPC errors with fresh challenges, as the transport draft says;
//                 by default they come back as McpServer makes them, an `isError`
//                 tool result whose text is the error message
// Environment: MPP_PREIMAGE, the preimage whose sha256 the challenges carry (default
// mppx-interop-preimage).
//
// Prints exactly one line on stdout, `listening on http://127.0.0.1:<port>/mcp` (the
// endpoint; the harness's other servers print their base URL the same way), once it
// accepts connections; its log (payments, refusals, sessions) goes to stderr. Exits 0
// on SIGTERM or SIGINT. Stdin is not watched: the Rust tests start servers with stdin
// closed.
import { randomUUID } from 'node:crypto'
import * as http from 'node:http'
import { parseArgs } from 'node:util'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {
  CallToolRequestSchema,
  ErrorCode,
  isInitializeRequest,
  McpError,
} from '@modelcontextprotocol/sdk/types.js'
import { Store, z } from 'mppx'
import { Mppx, Transport } from 'mppx/server'
import { PREIMAGE, preimageServer, sha256hex } from './methods.mjs'

const HOST = '127.0.0.1'
const PATH = '/mcp'
// A request body larger than this is refused before parsing.
const MAX_BODY = 1 << 20

function usage(message) {
  console.error(`mcp-server.mjs: ${message}`)
  console.error(
    'usage: node mcp-server.mjs [--port N] [--secret KEY] [--realm REALM] [--stateless] [--json] [--strict-errors]',
  )
  process.exit(2)
}

let options
try {
  ;({ values: options } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      secret: { type: 'string' },
      realm: { type: 'string', default: 'mppx-mcp-offline.test' },
      stateless: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'strict-errors': { type: 'boolean', default: false },
    },
    strict: true,
  }))
} catch (error) {
  usage(error.message)
}
const PORT = Number(options.port)
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535)
  usage(`--port must be an integer from 0 to 65535, not ${JSON.stringify(options.port)}`)
const SECRET =
  options.secret || process.env.MPP_SECRET_KEY || 'offline-mcp-test-secret-offline-mcp-test-secret-01'
if (Buffer.byteLength(SECRET, 'utf8') < 32) usage('--secret must be at least 32 bytes')

// An explicit store: each challenge pays once, so a replayed credential is refused.
const store = Store.memory()
const mppx = Mppx.create({
  methods: [preimageServer(store)],
  realm: options.realm,
  secretKey: SECRET,
  transport: Transport.mcpSdk(),
})
mppx.onPaymentSuccess(({ receipt }) => console.error(`[mcp-server] paid ${receipt.method}`))
mppx.onPaymentFailed(({ error }) =>
  console.error(`[mcp-server] payment refused: ${error.title} - ${error.message}`),
)

const terms = (amount, tool) => ({
  amount,
  currency: 'usd',
  recipient: 'acct_mppx_mcp_offline',
  methodDetails: { paymentHash: sha256hex(PREIMAGE) },
  description: `the ${tool} tool`,
  scope: tool,
})
// Created once: mppx compiles a route's terms when the handler is made.
const charges = {
  paid_echo: mppx['preimage/charge'](terms('1000', 'paid_echo')),
  paid_upper: mppx['preimage/charge'](terms('2500', 'paid_upper')),
}

const textArg = { text: z.string() }
const reply = (text) => ({ content: [{ type: 'text', text }] })

// The tools, by name: their price (the mppx handler, or none) and what they return.
const tools = {
  echo: { description: 'Free: returns its text', charge: null, body: (text) => text },
  paid_echo: {
    description: 'Returns its text; 1000 usd (preimage/charge)',
    charge: charges.paid_echo,
    body: (text) => text,
  },
  paid_upper: {
    description: 'Returns its text in upper case; 2500 usd (preimage/charge)',
    charge: charges.paid_upper,
    body: (text) => text.toUpperCase(),
  },
}

// Runs a tool: the mppx handler reads the credential from the request's _meta; without
// a valid one, the thrown McpError carries the challenge.
async function run(tool, text, extra) {
  const { charge, body } = tools[tool]
  if (!charge) return reply(body(text))
  const result = await charge(extra)
  if (result.status === 402) throw result.challenge
  return result.withReceipt(reply(body(text)))
}

// One McpServer per session (stateful) or per request (stateless): an SDK server
// connects to a single transport.
function createServer() {
  const server = new McpServer(
    { name: 'mppx-mcp-offline', version: '0.0.1' },
    {
      capabilities: {
        // The transport draft's advertisement; mppx itself adds none.
        experimental: { payment: { methods: { preimage: { intents: ['charge'] } } } },
      },
    },
  )
  for (const [name, { description }] of Object.entries(tools))
    server.registerTool(name, { description, inputSchema: textArg }, ({ text }, extra) =>
      run(name, text, extra),
    )
  // McpServer turns every error a tool throws into an `isError` result, except code
  // -32042: so -32043 and -32602 payment errors reach clients as tool errors without
  // challenges. --strict-errors answers tools/call itself so they stay JSON-RPC errors.
  if (options['strict-errors'])
    server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name, arguments: args } = request.params
      if (!Object.hasOwn(tools, name))
        throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`)
      if (typeof args?.text !== 'string')
        throw new McpError(ErrorCode.InvalidParams, `Tool ${name} needs a string argument "text"`)
      return run(name, args.text, extra)
    })
  return server
}

function jsonRpcError(res, status, code, message) {
  if (res.headersSent) return res.end()
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
}

async function readJson(req) {
  const chunks = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.length
    if (size > MAX_BODY)
      throw Object.assign(new Error('request body too large'), { status: 413, code: -32600 })
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (error) {
    throw Object.assign(new Error(`parse error: ${error.message}`), { status: 400, code: -32700 })
  }
}

// Stateful mode: the transports of open sessions, by Mcp-Session-Id.
const sessions = new Map()

async function handleStateful(req, res) {
  const sessionId = req.headers['mcp-session-id']
  if (sessionId !== undefined) {
    const transport = sessions.get(sessionId)
    if (!transport) return jsonRpcError(res, 404, -32001, `unknown session ${sessionId}`)
    const body = req.method === 'POST' ? await readJson(req) : undefined
    return transport.handleRequest(req, res, body)
  }
  if (req.method !== 'POST')
    return jsonRpcError(res, 400, -32000, 'Bad Request: no Mcp-Session-Id header')
  const body = await readJson(req)
  if (!isInitializeRequest(body))
    return jsonRpcError(res, 400, -32000, 'Bad Request: no Mcp-Session-Id header, and not an initialize request')
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: options.json,
    onsessioninitialized: (id) => {
      sessions.set(id, transport)
      console.error(`[mcp-server] session ${id} opened`)
    },
    onsessionclosed: (id) => {
      sessions.delete(id)
      console.error(`[mcp-server] session ${id} closed`)
    },
  })
  transport.onclose = () => {
    if (transport.sessionId) sessions.delete(transport.sessionId)
  }
  await createServer().connect(transport)
  return transport.handleRequest(req, res, body)
}

async function handleStateless(req, res) {
  if (req.method !== 'POST')
    return jsonRpcError(res, 405, -32000, 'Method not allowed: this server is stateless (POST only)')
  const body = await readJson(req)
  const server = createServer()
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: options.json,
  })
  res.on('close', () => {
    transport.close()
    server.close()
  })
  await server.connect(transport)
  return transport.handleRequest(req, res, body)
}

const httpServer = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, `http://${HOST}`)
  if (pathname !== PATH) {
    res.writeHead(404, { 'content-type': 'text/plain' })
    return res.end('not found\n')
  }
  try {
    await (options.stateless ? handleStateless(req, res) : handleStateful(req, res))
  } catch (error) {
    console.error(`[mcp-server] ${req.method} ${pathname}: ${error.message}`)
    // Only the errors raised here (bad body) say more than "Internal error".
    if (error.status) jsonRpcError(res, error.status, error.code, error.message)
    else jsonRpcError(res, 500, -32603, 'Internal error')
  }
})
httpServer.on('error', (error) => {
  console.error(`[mcp-server] cannot listen on ${HOST}:${PORT}: ${error.message}`)
  process.exit(1)
})
httpServer.listen(PORT, HOST, () => {
  console.log(`listening on http://${HOST}:${httpServer.address().port}${PATH}`)
  const mode = options.stateless ? 'stateless' : 'stateful'
  const media = options.json ? 'application/json' : 'text/event-stream'
  console.error(`[mcp-server] ${mode}, ${media} responses`)
})

async function shutdown(signal) {
  console.error(`[mcp-server] ${signal}: closing`)
  for (const transport of sessions.values()) await transport.close().catch(() => {})
  httpServer.closeAllConnections()
  httpServer.close(() => process.exit(0))
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
