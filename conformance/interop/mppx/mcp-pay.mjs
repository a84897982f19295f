// Calls one tool of an MCP server over Streamable HTTP with mppx 0.11.0's MCP client
// (`McpClient.wrap` around the official MCP SDK's Client), paying with the toy
// preimage/charge method of methods.mjs.
//
//   node mcp-pay.mjs [--free] URL TOOL [ARGS_JSON]
//   node mcp-pay.mjs --list URL
//
// A call prints exactly one JSON line to stdout:
//
//   {"tool": ..., "ok": <see below>,
//    "result": <the tools/call result as received (with its _meta), or null>,
//    "receipt": <what mppx returns as the receipt (result._meta["org.paymentauth/receipt"]), or null>,
//    "error": <{code, message, data} when the call failed, else null>}
//
// A JSON-RPC error gives its code, message and data; an `isError` tool result gives
// code null and the result's text as the message; anything else (no compatible
// method, transport failure) code null and the error's message.
// `ok` is true, and the exit status 0, only when the call succeeded (no error, no
// `isError`) with a receipt mppx's Receipt.Schema accepts and whose challengeId is a
// string; with --free, only when it succeeded without a receipt. Otherwise the exit
// status is 1; 2 on bad usage.
// --list prints the tools/list result as one JSON line (exit 0, or 1 if it failed).
//
// mppx's client pays a -32042 (or -32043 with challenges) error by resending the call
// with a credential in params._meta["org.paymentauth/credential"], up to three times;
// stderr shows each challenge it pays.
// Environment: MPP_PREIMAGE, MPP_SOURCE (see methods.mjs); MPP_TIMEOUT_MS for the whole
// run (default 15000).
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Receipt } from 'mppx'
import { McpClient } from 'mppx/mcp/client'
import { preimageClient } from './methods.mjs'

const RECEIPT_KEY = 'org.paymentauth/receipt'

function usage(message) {
  if (message) console.error(`mcp-pay.mjs: ${message}`)
  console.error('usage: node mcp-pay.mjs [--free] URL TOOL [ARGS_JSON]\n       node mcp-pay.mjs --list URL')
  process.exit(2)
}

let free = false
let list = false
const positional = []
for (const arg of process.argv.slice(2)) {
  if (arg === '--free') free = true
  else if (arg === '--list') list = true
  else if (arg === '-h' || arg === '--help') usage()
  else if (arg.startsWith('--')) usage(`unknown option ${arg}`)
  else positional.push(arg)
}
if (list && (free || positional.length !== 1)) usage('--list takes a URL and nothing else')
if (!list && (positional.length < 2 || positional.length > 3)) usage('expected URL TOOL [ARGS_JSON]')
const [rawUrl, tool, rawArgs] = positional
let url
try {
  url = new URL(rawUrl)
} catch {
  usage(`not a URL: ${JSON.stringify(rawUrl)}`)
}
let args = {}
if (rawArgs !== undefined) {
  try {
    args = JSON.parse(rawArgs)
  } catch (error) {
    usage(`ARGS_JSON is not JSON: ${error.message}`)
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    usage('ARGS_JSON must be a JSON object')
}

const timeoutMs = Number(process.env.MPP_TIMEOUT_MS ?? 15000)
// Bounds the whole run, connection and payment retries included.
const timer = setTimeout(() => {
  console.error(`[mcp-pay] gave up after ${timeoutMs} ms`)
  process.exit(1)
}, timeoutMs)

const client = new Client(
  { name: 'mpp-interop-mcp-pay', version: '0.0.1' },
  // The transport draft's client advertisement; mppx's client adds none itself.
  { capabilities: { experimental: { payment: { methods: { preimage: { intents: ['charge'] } } } } } },
)
const transport = new StreamableHTTPClientTransport(url)

function describe(error) {
  const cause = error?.cause ? ` (cause: ${error.cause.message ?? error.cause})` : ''
  return `${error?.message ?? error}${cause}`
}

// The SDK's McpError prefixes the wire message with `MCP error <code>: `; the line
// reports the message as the server sent it.
function errorJson(error) {
  const code = Number.isInteger(error?.code) ? error.code : null
  let message = describe(error)
  const prefix = `MCP error ${code}: `
  if (code !== null && message.startsWith(prefix)) message = message.slice(prefix.length)
  return { code, message, data: error?.data ?? null }
}

let ok = false
try {
  await client.connect(transport)
  console.error(
    `[mcp-pay] connected: protocol ${transport.protocolVersion ?? '?'}, session ${transport.sessionId ?? 'none'}`,
  )
  if (list) {
    console.log(JSON.stringify(await client.listTools()))
    ok = true
  } else {
    McpClient.wrap(client, {
      methods: [preimageClient],
      onPaymentRequired: async (challenge) => {
        console.error(`[mcp-pay] paying ${challenge.method}/${challenge.intent} challenge id=${challenge.id}`)
        return true
      },
    })
    const line = { tool, ok: false, result: null, receipt: null, error: null }
    try {
      // mppx adds `receipt` beside the result's own fields; it is reported apart.
      const { receipt, ...result } = await client.callTool({ name: tool, arguments: args })
      line.result = result
      line.receipt = receipt ?? null
      if (result.isError) {
        const text = (result.content ?? []).map((c) => c.text ?? '').join('\n')
        line.error = { code: null, message: text, data: null }
      }
    } catch (error) {
      line.error = errorJson(error)
    }
    if (line.error) {
      console.error(`[mcp-pay] ${tool} failed: ${line.error.message}`)
    } else if (free) {
      line.ok = line.receipt === null
      if (!line.ok) console.error(`[mcp-pay] ${tool} was expected to be free but came with a receipt`)
    } else if (line.receipt === null) {
      console.error(`[mcp-pay] ${tool}: no receipt in result._meta["${RECEIPT_KEY}"]`)
    } else {
      const parsed = Receipt.Schema.safeParse(line.receipt)
      line.ok = parsed.success && typeof line.receipt.challengeId === 'string'
      if (!line.ok)
        console.error(`[mcp-pay] ${tool}: the receipt is not valid: ${parsed.error?.message ?? 'no challengeId'}`)
    }
    console.log(JSON.stringify(line))
    ok = line.ok
  }
} catch (error) {
  console.error(`[mcp-pay] ${url}: ${describe(error)}`)
  if (!list)
    console.log(JSON.stringify({ tool, ok: false, result: null, receipt: null, error: errorJson(error) }))
} finally {
  // Ends the session on the server (DELETE), where there is one.
  await transport.terminateSession().catch(() => {})
  await client.close().catch(() => {})
  clearTimeout(timer)
}
process.exitCode = ok ? 0 : 1
