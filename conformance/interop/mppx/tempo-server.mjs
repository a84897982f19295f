// mppx 0.11.0's own `tempo` charge server on the local chain, for this project's
// client to pay.
//
//   RPC_URL=… CHAIN_ID=… RECIPIENT=0x… FEE_PAYER_KEY=0x… PORT=0 node tempo-server.mjs
//
// Routes, each 0.01 pathUSD (10000 base units) to RECIPIENT:
//   GET /paid        both modes (the client chooses)
//   GET /push        push only (credential type "hash")
//   GET /pull        pull only (credential type "transaction"; mppx broadcasts)
//   GET /sponsored   pull, mppx paying the fees from FEE_PAYER_KEY
//   GET /proof       0 pathUSD: a zero-amount proof
// Prints exactly one line on stdout, `listening on http://127.0.0.1:<port>`, once it
// accepts connections; each payment's outcome goes to stderr.
import * as http from 'node:http'
import { Mppx, Request as MppxRequest, Store, tempo } from 'mppx/server'
import { privateKeyToAccount } from 'viem/accounts'
import { getClient, pathUsd } from './tempo-chain.mjs'

const { RECIPIENT, FEE_PAYER_KEY } = process.env
if (!RECIPIENT || !FEE_PAYER_KEY) {
  console.error('RECIPIENT and FEE_PAYER_KEY must be set')
  process.exit(2)
}
const HOST = '127.0.0.1'
const PORT = Number(process.env.PORT ?? 0)

// A store passed explicitly: without one, mppx 0.11 keeps spent hashes but lets a
// zero-amount proof be presented again (spec/ERRATA.md, E34).
const store = Store.memory()
const mppx = Mppx.create({
  methods: [tempo.charge({ getClient, currency: pathUsd, recipient: RECIPIENT, decimals: 6, store })],
  realm: 'mppx-tempo.test',
  secretKey: 'an-offline-test-secret-of-at-least-32-bytes',
})
mppx.onPaymentFailed(({ error }) => console.error(`[mppx] refused: ${error.title}: ${error.message}`))

const price = { amount: '0.01', description: '0.01 pathUSD on the local chain' }
const routes = {
  '/paid': mppx['tempo/charge'](price),
  '/push': mppx['tempo/charge']({ ...price, supportedModes: ['push'] }),
  '/pull': mppx['tempo/charge']({ ...price, supportedModes: ['pull'] }),
  '/sponsored': mppx['tempo/charge']({
    ...price,
    supportedModes: ['pull'],
    feePayer: privateKeyToAccount(FEE_PAYER_KEY),
  }),
  '/proof': mppx['tempo/charge']({ amount: '0', description: 'a zero-amount proof' }),
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
