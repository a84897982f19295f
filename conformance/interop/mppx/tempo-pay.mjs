// Pays URL with mppx 0.11.0's own `tempo` charge client, on the local chain.
//
//   RPC_URL=… CHAIN_ID=… PAYER_KEY=0x… node tempo-pay.mjs URL [push|pull]
//
// Prints one JSON line: {"status", "body", "receipt" (the decoded Payment-Receipt or
// null), "authorization" (the Authorization header mppx sent, or null), "payloadType"}.
// Exits 0 when the final status is 200 with a receipt, 1 otherwise, 2 on bad usage.
import { Receipt } from 'mppx'
import { Mppx, tempo } from 'mppx/client'
import { privateKeyToAccount } from 'viem/accounts'
import { getClient } from './tempo-chain.mjs'

const [url, mode] = process.argv.slice(2)
if (!url || (mode && mode !== 'push' && mode !== 'pull') || !process.env.PAYER_KEY) {
  console.error('usage: RPC_URL=… CHAIN_ID=… PAYER_KEY=0x… node tempo-pay.mjs URL [push|pull]')
  process.exit(2)
}

let authorization = null
async function recordingFetch(input, init) {
  const sent = new Headers(init?.headers).get('authorization')
  if (sent) authorization = sent
  return globalThis.fetch(input, init)
}

const mppx = Mppx.create({
  methods: [
    tempo.charge({
      account: privateKeyToAccount(process.env.PAYER_KEY),
      getClient,
      ...(mode ? { mode } : {}),
    }),
  ],
  polyfill: false,
  fetch: recordingFetch,
})

let status = null
let body = null
let receipt = null
try {
  const response = await mppx.fetch(url)
  status = response.status
  body = await response.text()
  const header = response.headers.get('payment-receipt')
  if (header) receipt = Receipt.deserialize(header)
} catch (e) {
  console.error(`tempo-pay.mjs: ${e?.stack ?? e}`)
}
let payloadType = null
if (authorization) {
  const encoded = authorization.replace(/^Payment\s+/i, '')
  const credential = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'))
  payloadType = credential.payload?.type ?? null
}
process.stdout.write(`${JSON.stringify({ status, body, receipt, authorization, payloadType })}\n`)
process.exit(status === 200 && receipt ? 0 : 1)
