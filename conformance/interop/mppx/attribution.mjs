// Prints mppx's tempo attribution memo for each case given as JSON on the command
// line: [{"challengeId": "...", "serverId": "...", "clientId"?: "..."}, ...] -> one
// 0x-prefixed bytes32 per line. The Rust tests compare them with mpp-methods' memos.
// mppx does not export the module from its package root, so it is imported by path.
import * as Attribution from './node_modules/mppx/dist/tempo/Attribution.js'

const cases = JSON.parse(process.argv[2] ?? '[]')
for (const c of cases) {
  process.stdout.write(`${Attribution.encode(c)}\n`)
}
