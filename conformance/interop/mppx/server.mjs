// An offline mppx 0.11.0 server on loopback, paid with the toy methods of methods.mjs
// (preimage's server half is there too; token's is here). The `mpp-client` interop
// test pays it with the Rust client and the `mpp` CLI; the `conformance` interop test
// runs the server suite on it.
//
//   PORT=8402 MPP_SECRET_KEY=... node server.mjs
//
// Routes:
//   GET /free          200 {"free": true}, no payment
//   GET /paid          preimage/charge, 1000 usd: 402 until a valid credential is sent
//   GET /paid-multi    two challenges on one 402: preimage/charge and token/charge
//   POST /paid-post    preimage/charge, 1000 usd, for a request with a body
//   GET /openapi.json  discovery (mppx's generator)
//
// Environment:
//   PORT            the port on 127.0.0.1 (default 8402; 0 picks a free one)
//   MPP_SECRET_KEY  the challenge-binding secret (default: a fixed test secret)
//   MPP_REALM       the realm (default mppx-offline.test)
//   MPP_PREIMAGE    the preimage whose sha256 the preimage challenges carry
//                   (default mppx-interop-preimage)
//   MPP_TOKEN       the token the token challenges accept (default mppx-interop-token)
//   MPP_HEADER      `payment-authorization` to ask for credentials in that field
//
// Prints exactly one line on stdout, `listening on http://127.0.0.1:<port>`, once it
// accepts connections; its log (payments, failures) goes to stderr.
import * as http from 'node:http'
import { Errors, Method, Store } from 'mppx'
import { generate } from 'mppx/discovery'
import { Mppx, Request as MppxRequest } from 'mppx/server'
import { claimOnce, preimageServer as preimageServerOf, sha256hex, tokenCharge } from './methods.mjs'

const HOST = '127.0.0.1'
const PORT = Number(process.env.PORT ?? 8402)
const SECRET = process.env.MPP_SECRET_KEY || 'offline-test-secret-offline-test-secret-0123456789'
const REALM = process.env.MPP_REALM || 'mppx-offline.test'
const PREIMAGE = process.env.MPP_PREIMAGE ?? 'mppx-interop-preimage'
const TOKEN = process.env.MPP_TOKEN ?? 'mppx-interop-token'

const PAYMENT_HASH = sha256hex(PREIMAGE)

// A challenge may be redeemed once.
const used = Store.memory()
const preimageServer = preimageServerOf(used)

const tokenServer = Method.toServer(tokenCharge, {
  async verify({ credential }) {
    if (credential.payload.token !== TOKEN)
      throw new Errors.VerificationFailedError({ reason: 'the token is not accepted' })
    await claimOnce(used, credential.challenge)
    return {
      method: 'token',
      reference: `token:${credential.challenge.id.slice(0, 12)}`,
      status: 'success',
      timestamp: new Date().toISOString(),
    }
  },
})

const mppx = Mppx.create({
  methods: [preimageServer, tokenServer],
  realm: REALM,
  secretKey: SECRET,
  // Credentials in Payment-Authorization (`header` parameter), Authorization left to
  // another scheme.
  requiresAuth: process.env.MPP_HEADER === 'payment-authorization',
})

mppx.onPaymentSuccess(({ receipt }) => console.error(`[server] paid ${receipt.method}`))
mppx.onPaymentFailed(({ error }) =>
  console.error(`[server] payment failed: ${error.title} - ${error.message}`),
)

const price = { amount: '1000', currency: 'usd', recipient: 'acct_mppx_offline' }
const preimageTerms = { ...price, methodDetails: { paymentHash: PAYMENT_HASH } }

// Route handlers, created once.
const routes = [
  { method: 'get', path: '/paid', handler: mppx['preimage/charge']({ ...preimageTerms, description: 'A paid GET (preimage)' }) },
  { method: 'get', path: '/paid-multi', handler: mppx.compose(['preimage/charge', preimageTerms], ['token/charge', price]) },
  { method: 'post', path: '/paid-post', handler: mppx['preimage/charge']({ ...preimageTerms, description: 'A paid POST (preimage)' }) },
]

const openapi = generate(mppx, {
  info: { title: 'mppx offline interop server', version: '0.0.1' },
  routes,
})

async function handle(request) {
  const { pathname } = new URL(request.url)
  if (pathname === '/free') return Response.json({ free: true })
  if (pathname === '/openapi.json') return Response.json(openapi)
  const route = routes.find((r) => r.path === pathname)
  if (!route) return new Response('not found\n', { status: 404 })
  if (request.method.toLowerCase() !== route.method)
    return new Response('method not allowed\n', { status: 405 })
  const result = await route.handler(request)
  if (result.status === 402) return result.challenge
  return result.withReceipt(Response.json({ ok: true, route: pathname }))
}

const server = http.createServer(MppxRequest.toNodeListener(handle))
server.on('error', (error) => {
  console.error(`[server] cannot listen on ${HOST}:${PORT}: ${error.message}`)
  process.exit(1)
})
server.listen(PORT, HOST, () => {
  const { port } = server.address()
  console.log(`listening on http://${HOST}:${port}`)
})
