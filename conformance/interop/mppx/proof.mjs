// Prints mppx's zero-amount proof digest (EIP-712) for each case given as JSON on the
// command line: [{"chainId": 42431, "account": "0x…", "challengeId": "…", "realm": "…",
// "privateKey"?: "0x…"}] -> one line per case: the 0x-prefixed digest, and, when the
// case gives a private key, a space and the signature viem makes of that typed data.
// The Rust tests compare them with mpp-methods'.
import { Proof } from 'mppx/tempo'
import { privateKeyToAccount } from 'viem/accounts'

const cases = JSON.parse(process.argv[2] ?? '[]')
for (const { privateKey, ...c } of cases) {
  let line = Proof.hash(c)
  if (privateKey) {
    line += ` ${await privateKeyToAccount(privateKey).signTypedData(Proof.typedData(c))}`
  }
  process.stdout.write(`${line}\n`)
}
