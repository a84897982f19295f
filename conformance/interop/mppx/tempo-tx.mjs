// Signs and serializes Tempo transactions (type 0x76) with viem's Tempo support (over
// ox), for each case given as JSON on the command line:
//   [{"chainId": 42431, "calls": [{"to"?: "0x…", "value"?: "0", "data"?: "0x…"}],
//     "maxFeePerGas"?: "…", "maxPriorityFeePerGas"?: "…", "gas"?: "…",
//     "nonceKey"?: "…", "nonce"?: 0, "validBefore"?: 1, "validAfter"?: 1,
//     "accessList"?: [{"address": "0x…", "storageKeys": ["0x…"]}], "feeToken"?: "0x…",
//     "privateKey": "0x…", "feePayerKey"?: "0x…", "sponsorFeeToken"?: "0x…"}]
// (integers beyond 2^53 as decimal strings) -> one JSON line per case:
//   {"signed": "0x76…", "hash": "0x…"} when the sender pays its fees;
//   {"envelope": "0x78…", "signed": "0x76…", "hash": "0x…"} when a `feePayerKey` is
//   given: the fee-payer envelope the sender hands over, and the transaction the
//   sponsor co-signs from it (paying in `sponsorFeeToken`), as mppx's client and
//   server do. The Rust tests compare them with mpp-methods'.
import { keccak256 } from 'viem'
import { Account, Transaction } from 'viem/tempo'

const big = (v) => (v === undefined ? undefined : BigInt(v))
const cases = JSON.parse(process.argv[2] ?? '[]')
for (const c of cases) {
  const tx = {
    type: 'tempo',
    chainId: c.chainId,
    calls: c.calls.map(({ to, value, data }) => ({
      ...(to ? { to } : {}),
      ...(value ? { value: BigInt(value) } : {}),
      ...(data ? { data } : {}),
    })),
    maxFeePerGas: big(c.maxFeePerGas),
    maxPriorityFeePerGas: big(c.maxPriorityFeePerGas),
    gas: big(c.gas),
    nonceKey: big(c.nonceKey),
    nonce: c.nonce,
    validBefore: c.validBefore,
    validAfter: c.validAfter,
    accessList: c.accessList,
    feeToken: c.feeToken,
  }
  const sender = Account.fromSecp256k1(c.privateKey)
  let line
  if (!c.feePayerKey) {
    const signed = await sender.signTransaction(tx)
    line = { signed, hash: keccak256(signed) }
  } else {
    // The client's side (mppx's `charge` with `methodDetails.feePayer`): the fee
    // token is left to the sponsor.
    const { feeToken: _, ...unsponsored } = tx
    // `from` as viem's `prepareTransactionRequest` fills it: the envelope names the
    // sender it gives.
    const envelope = await sender.signTransaction({
      ...unsponsored,
      from: sender.address,
      feePayer: true,
    })
    // The server's side: read the envelope, pick the fee token, co-sign.
    const parsed = Transaction.deserialize(envelope)
    const signed = await Transaction.serialize({
      ...parsed,
      ...(c.sponsorFeeToken ? { feeToken: c.sponsorFeeToken } : {}),
      feePayer: Account.fromSecp256k1(c.feePayerKey),
    })
    line = { envelope, signed, hash: keccak256(signed) }
  }
  process.stdout.write(`${JSON.stringify(line)}\n`)
}
