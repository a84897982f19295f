// Config for the mppx CLI (`./node_modules/.bin/mppx <url> -c ./mppx.config.mjs`):
// pay with the harness's toy methods.
// A plain object on purpose: `import { defineConfig } from 'mppx/cli'` fails in
// mppx 0.11.0 unless the undeclared package `incur` is installed, and defineConfig
// is only an identity function.
import { clientMethods, preferences } from './methods.mjs'

export default {
  methods: clientMethods,
  paymentPreferences: preferences(process.env.MPP_PREFER ?? 'preimage'),
}
