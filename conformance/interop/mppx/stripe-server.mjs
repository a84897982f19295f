// mppx 0.11.0's own `stripe` charge server, settling through Stripe's own Node SDK
// pointed at the project's Stripe stand-in, for this project's client to pay.
//
//   STRIPE_API=http://127.0.0.1:PORT STRIPE_KEY=sk_test_… PORT=0 node stripe-server.mjs
//
// Routes: GET /paid-stripe, 5.00 usd (500 cents), network `STRIPE_NETWORK` (default
// `net_mpp_test`), cards. Prints exactly one line on stdout, `listening on
// http://127.0.0.1:<port>`, once it accepts connections; each refusal goes to stderr.
import * as http from 'node:http'
import Stripe from 'stripe'
import { Mppx, Request as MppxRequest, stripe } from 'mppx/server'

const { STRIPE_API, STRIPE_KEY } = process.env
if (!STRIPE_API || !STRIPE_KEY) {
  console.error('STRIPE_API and STRIPE_KEY must be set')
  process.exit(2)
}
const api = new URL(STRIPE_API)
// The SDK takes its API host as host, port and protocol: the stand-in's.
const client = new Stripe(STRIPE_KEY, {
  host: api.hostname,
  port: Number(api.port),
  protocol: api.protocol.replace(':', ''),
  maxNetworkRetries: 0,
})
const HOST = '127.0.0.1'
const PORT = Number(process.env.PORT ?? 0)

const mppx = Mppx.create({
  methods: [
    stripe.charge({
      client,
      currency: 'usd',
      decimals: 2,
      networkId: process.env.STRIPE_NETWORK ?? 'net_mpp_test',
      paymentMethodTypes: ['card'],
    }),
  ],
  realm: 'mppx-stripe.test',
  secretKey: 'an-offline-test-secret-of-at-least-32-bytes',
})
mppx.onPaymentFailed(({ error }) => console.error(`[mppx] refused: ${error.title}: ${error.message}`))

const routes = {
  '/paid-stripe': mppx['stripe/charge']({ amount: '5', description: '5.00 usd, test mode' }),
}

async function handle(request) {
  const { pathname } = new URL(request.url)
  const route = routes[pathname]
  if (!route) return new Response('not found\n', { status: 404 })
  const result = await route(request)
  if (result.status === 402) return result.challenge
  return result.withReceipt(Response.json({ ok: true, route: pathname }))
}

const server = http.createServer(MppxRequest.toNodeListener(handle))
server.on('error', (error) => {
  console.error(`cannot listen on ${HOST}:${PORT}: ${error.message}`)
  process.exit(1)
})
server.listen(PORT, HOST, () => {
  console.log(`listening on http://${HOST}:${server.address().port}`)
})
