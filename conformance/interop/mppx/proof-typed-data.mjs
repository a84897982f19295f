// Prints mppx's EIP-712 typed data of the zero-amount proof (Proof.typedData) for the
// case given as JSON on the command line: {"chainId": 42431, "account": "0x…",
// "challengeId": "…", "realm": "…"} -> one JSON line. The adapter's
// tempo.proof.typed_data is compared with it.
import { Proof } from 'mppx/tempo'

const input = JSON.parse(process.argv[2] ?? '{}')
process.stdout.write(`${JSON.stringify(Proof.typedData(input))}\n`)
