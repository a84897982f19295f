// Client halves of the two toy payment methods the interop harness pays with,
// defined with mppx's own custom-method API (Method.from + Method.toClient).
// No blockchain, no card network: "paying" is revealing a shared secret.
//
//   preimage/charge  request {amount, currency, recipient, methodDetails: {paymentHash}}
//                    where paymentHash = hex(sha256(preimage));
//                    credential payload {preimage}, from MPP_PREIMAGE
//                    (default "mppx-interop-preimage").
//   token/charge     request {amount, currency, recipient};
//                    credential payload {token}, from MPP_TOKEN
//                    (default "mppx-interop-token").
//
// The Rust reference server has the server halves (mpp-methods' `preimage` and
// `token` methods); the wire shapes here must stay in step with those. The mppx
// server half of preimage/charge is here too, shared by server.mjs and mcp-server.mjs.
import { createHash } from 'node:crypto'
import { Credential, Errors, Method, Store, z } from 'mppx'

export const PREIMAGE = process.env.MPP_PREIMAGE ?? 'mppx-interop-preimage'
export const TOKEN = process.env.MPP_TOKEN ?? 'mppx-interop-token'
// The optional `source` of the credential (who pays). Set MPP_SOURCE="" to omit it.
export const SOURCE = process.env.MPP_SOURCE ?? 'did:example:mpp-interop-mppx'

export const preimageCharge = Method.from({
  name: 'preimage',
  intent: 'charge',
  schema: {
    credential: { payload: z.object({ preimage: z.string() }) },
    request: z.object({
      amount: z.string(),
      currency: z.string(),
      recipient: z.string(),
      methodDetails: z.object({ paymentHash: z.string() }),
    }),
  },
})

export const tokenCharge = Method.from({
  name: 'token',
  intent: 'charge',
  schema: {
    credential: { payload: z.object({ token: z.string() }) },
    request: z.object({
      amount: z.string(),
      currency: z.string(),
      recipient: z.string(),
    }),
  },
})

export const preimageClient = Method.toClient(preimageCharge, {
  async createCredential({ challenge }) {
    return Credential.serialize({
      challenge,
      payload: { preimage: PREIMAGE },
      ...(SOURCE && { source: SOURCE }),
    })
  },
})

export const tokenClient = Method.toClient(tokenCharge, {
  async createCredential({ challenge }) {
    return Credential.serialize({ challenge, payload: { token: TOKEN } })
  },
})

export const clientMethods = [preimageClient, tokenClient]

// Accept-Payment preferences (q-values): the preferred method gets 1, the other 0.5.
// mppx sends them as `Accept-Payment` and picks the highest-q challenge it can pay.
export function preferences(prefer = 'preimage') {
  const preferred = prefer.includes('/') ? prefer : `${prefer}/charge`
  const all = ['preimage/charge', 'token/charge']
  if (!all.includes(preferred))
    throw new Error(`unknown method to prefer: ${prefer} (expected preimage or token)`)
  return Object.fromEntries(all.map((key) => [key, key === preferred ? 1 : 0.5]))
}

export const sha256hex = (s) => createHash('sha256').update(s, 'utf8').digest('hex')

// Claims a challenge in `store` until it expires, so its credential pays once only.
export async function claimOnce(store, challenge) {
  const ok = await Store.tryClaim(store, `used:${challenge.id}`, Date.parse(challenge.expires))
  if (!ok) throw new Errors.VerificationFailedError({ reason: 'credential already used' })
}

// The mppx server half of preimage/charge: the credential's preimage must hash to the
// challenge's paymentHash, and each challenge is redeemed once in `store`. The receipt's
// reference is the payment hash.
export function preimageServer(store) {
  return Method.toServer(preimageCharge, {
    async verify({ credential }) {
      // The request is HMAC-bound to the challenge id, so the hash is the server's own.
      const want = credential.challenge.request.methodDetails.paymentHash
      const got = sha256hex(credential.payload.preimage)
      if (got !== want)
        throw new Errors.VerificationFailedError({ reason: 'sha256(preimage) != paymentHash' })
      await claimOnce(store, credential.challenge)
      return {
        method: 'preimage',
        reference: got,
        status: 'success',
        timestamp: new Date().toISOString(),
      }
    },
  })
}
