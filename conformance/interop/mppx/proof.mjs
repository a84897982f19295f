// Prints mppx's zero-amount proof digest (EIP-712) for each case given as JSON on the
// command line: [{"chainId": 42431, "account": "0x…", "challengeId": "…", "realm": "…"}]
// -> one 0x-prefixed digest per line. The Rust tests compare them with mpp-methods'.
// mppx exports the module from its `mppx/tempo` entry point.
import { Proof } from 'mppx/tempo'

const cases = JSON.parse(process.argv[2] ?? '[]')
for (const c of cases) {
  process.stdout.write(`${Proof.hash(c)}\n`)
}
