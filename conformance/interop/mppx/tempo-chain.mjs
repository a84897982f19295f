// The local Tempo chain as viem sees it, for the tempo scripts of this harness.
//
// Environment: RPC_URL (the chain's JSON-RPC endpoint, required) and CHAIN_ID (its
// chain id, required). mppx takes no RPC URL; both of its tempo halves take a
// `getClient` returning a viem client, built here from viem's own Tempo chain
// definition (its 0x76 serializer and formatters) with the local id and endpoint.
import { createClient, defineChain, http } from 'viem'
import { tempoLocalnet } from 'viem/tempo/chains'

function required(name) {
  const value = process.env[name]
  if (!value) {
    console.error(`${name} must be set`)
    process.exit(2)
  }
  return value
}

export const rpcUrl = required('RPC_URL')
export const chainId = Number(required('CHAIN_ID'))
export const pathUsd = '0x20c0000000000000000000000000000000000000'

const chain = defineChain({
  ...tempoLocalnet,
  id: chainId,
  name: `local-tempo-${chainId}`,
  rpcUrls: { default: { http: [rpcUrl] } },
})
const client = createClient({ chain, transport: http(rpcUrl) })

/** What mppx's `getClient` option wants: the one client, for the one chain. */
export function getClient({ chainId: asked } = {}) {
  if (asked !== undefined && asked !== chainId) {
    throw new Error(`this harness serves chain ${chainId}, not ${asked}`)
  }
  return client
}
