// Pays each URL with the mppx client (mppx 0.11.0) and the toy methods of methods.mjs.
//
//   node pay.mjs [--prefer preimage|token] [--data BODY] URL...
//
// For each URL, prints exactly one JSON line to stdout:
//
//   {"url": ..., "status": <final HTTP status, or null if the request failed>,
//    "receipt": <the Payment-Receipt as decoded by mppx's Receipt.deserialize, or null>,
//    "body": <the final response body as text, or null if the request failed>}
//
// Diagnostics (why a receipt was rejected, transport errors, client events) go to stderr.
// Exits 0 only if every URL ended with status 200 and a receipt that
// Receipt.deserialize accepts; 1 otherwise; 2 on bad usage.
//
// Options:
//   --prefer M   Accept-Payment preference: M (preimage or token) gets q=1, the other
//                q=0.5; mppx pays the highest-q challenge it can. Default: preimage.
//   --data BODY  send a POST with BODY (Content-Type: application/json) instead of a GET.
// Environment: MPP_PREIMAGE, MPP_TOKEN, MPP_SOURCE (see methods.mjs);
//   MPP_TIMEOUT_MS per URL (default 15000).
import { Receipt } from 'mppx'
import { Mppx } from 'mppx/client'
import { clientMethods, preferences } from './methods.mjs'

function usage(message) {
  if (message) console.error(`pay.mjs: ${message}`)
  console.error('usage: node pay.mjs [--prefer preimage|token] [--data BODY] URL...')
  process.exit(2)
}

let prefer = 'preimage'
let data
const urls = []
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]
  const value = () => {
    const eq = arg.indexOf('=')
    if (eq !== -1) return arg.slice(eq + 1)
    if (i + 1 >= argv.length) usage(`${arg} needs a value`)
    return argv[++i]
  }
  if (arg === '--prefer' || arg.startsWith('--prefer=')) prefer = value()
  else if (arg === '--data' || arg.startsWith('--data=')) data = value()
  else if (arg === '-h' || arg === '--help') usage()
  else if (arg.startsWith('-')) usage(`unknown option ${arg}`)
  else urls.push(arg)
}
if (urls.length === 0) usage('no URL given')

let paymentPreferences
try {
  paymentPreferences = preferences(prefer)
} catch (error) {
  usage(error.message)
}

const mppx = Mppx.create({
  methods: clientMethods,
  polyfill: false, // do not patch globalThis.fetch
  paymentPreferences,
})
// (A challenge.received handler that returns a value supplies the credential: these
// return nothing, so mppx creates it with the methods.)
mppx.onChallengeReceived(({ challenge }) => {
  console.error(`[pay] paying ${challenge.method}/${challenge.intent} challenge id=${challenge.id}`)
})
mppx.onPaymentFailed(({ error }) => {
  console.error(`[pay] payment failed: ${error?.message ?? error}`)
})

const timeoutMs = Number(process.env.MPP_TIMEOUT_MS ?? 15000)
let ok = true

for (const url of urls) {
  const line = { url, status: null, receipt: null, body: null }
  try {
    const init = { signal: AbortSignal.timeout(timeoutMs) }
    if (data !== undefined) {
      init.method = 'POST'
      init.headers = { 'content-type': 'application/json' }
      init.body = data
    }
    const res = await mppx.fetch(url, init)
    line.status = res.status
    line.body = await res.text()
    const header = res.headers.get('Payment-Receipt')
    if (header === null) {
      console.error(`[pay] ${url}: no Payment-Receipt header (status ${res.status})`)
    } else {
      try {
        line.receipt = Receipt.deserialize(header)
      } catch (error) {
        console.error(`[pay] ${url}: Receipt.deserialize rejected Payment-Receipt ${JSON.stringify(header)}: ${error.message}`)
      }
    }
  } catch (error) {
    const cause = error?.cause ? ` (cause: ${error.cause.message ?? error.cause})` : ''
    console.error(`[pay] ${url}: request failed: ${error?.message ?? error}${cause}`)
  }
  if (line.status !== 200 || line.receipt === null) ok = false
  console.log(JSON.stringify(line))
}

process.exitCode = ok ? 0 : 1
