// Pays URL with mppx 0.11.0's own `stripe` charge client. The Shared Payment Token is
// minted at the project's Stripe stand-in through Stripe's test helper for granted
// tokens, from a test payment method.
//
//   STRIPE_API=http://127.0.0.1:PORT STRIPE_KEY=sk_test_… node stripe-pay.mjs URL [pm_card_visa]
//
// Prints one JSON line: {"status", "body", "receipt" (decoded, or null),
// "authorization" (the header mppx sent, or null)}. Exits 0 when the final status is 200
// with a receipt, 1 otherwise, 2 on bad usage.
import { Receipt } from 'mppx'
import { Mppx, stripe } from 'mppx/client'

const [url, paymentMethod = 'pm_card_visa'] = process.argv.slice(2)
const { STRIPE_API, STRIPE_KEY } = process.env
if (!url || !STRIPE_API || !STRIPE_KEY) {
  console.error('usage: STRIPE_API=… STRIPE_KEY=… node stripe-pay.mjs URL [PAYMENT_METHOD]')
  process.exit(2)
}

// What mppx asks the application to do: turn the challenge's terms into a token.
async function createToken({ paymentMethod, amount, currency, networkId, expiresAt }) {
  const body = new URLSearchParams({
    payment_method: paymentMethod,
    'usage_limits[currency]': currency,
    'usage_limits[max_amount]': amount,
    'usage_limits[expires_at]': String(expiresAt),
    'seller_details[network_id]': networkId,
  })
  const response = await fetch(new URL('/v1/test_helpers/shared_payment/granted_tokens', STRIPE_API), {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${STRIPE_KEY}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body,
  })
  const token = await response.json()
  if (!response.ok) throw new Error(`the stand-in refused the token: ${token.error?.message}`)
  return token.id
}

let authorization = null
async function recordingFetch(input, init) {
  const sent = new Headers(init?.headers).get('authorization')
  if (sent) authorization = sent
  return globalThis.fetch(input, init)
}

const mppx = Mppx.create({
  methods: [stripe.charge({ createToken, paymentMethod })],
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
  console.error(`stripe-pay.mjs: ${e?.stack ?? e}`)
}
process.stdout.write(`${JSON.stringify({ status, body, receipt, authorization })}\n`)
process.exit(status === 200 && receipt ? 0 : 1)
