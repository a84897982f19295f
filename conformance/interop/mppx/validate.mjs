// Runs mppx's own server checker, `mppx validate`, against a base URL and turns its
// verdict into an exit code.
//
//   node validate.mjs [--expect METHOD:/path]... [--json] BASE_URL [-- MPPX_VALIDATE_ARGS...]
//
// It runs `./node_modules/.bin/mppx validate BASE_URL --output-json` (the JSON mode is
// stable and machine-readable; the human mode is a stream of ✓/✗/⚠ lines), prints
// every check as one line (`✓ pass`, `✗ FAIL`, `⚠ warn`, `◇ suggested`, `○ skip`)
// grouped by section, then a summary line, and exits non-zero when
//   - the CLI exits non-zero or prints no JSON report,
//   - any check has severity "fail",
//   - no /openapi.json was found, or it lists no paid endpoint,
//   - a discovered endpoint did not answer with a parseable Payment challenge,
//   - an endpoint named with --expect (e.g. --expect GET:/paid) was not validated.
// Warnings (such as "Realm matches server hostname" on 127.0.0.1) do not fail.
//
// --json prints the CLI's raw JSON report instead of the per-check lines.
// Arguments after `--` go to `mppx validate` as they are (e.g. --endpoint, --header).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, 'node_modules', '.bin', 'mppx')

function usage(message) {
  if (message) console.error(`validate.mjs: ${message}`)
  console.error('usage: node validate.mjs [--expect METHOD:/path]... [--json] BASE_URL [-- MPPX_VALIDATE_ARGS...]')
  process.exit(2)
}

const expected = []
const passThrough = []
let raw = false
let baseUrl
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]
  if (arg === '--') {
    passThrough.push(...argv.slice(i + 1))
    break
  }
  if (arg === '--expect' || arg.startsWith('--expect=')) {
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i]
    const m = /^([A-Za-z]+):(\/.*)$/.exec(value ?? '')
    if (!m) usage(`--expect wants METHOD:/path, got ${value}`)
    expected.push(`${m[1].toUpperCase()} ${m[2]}`)
  } else if (arg === '--json') raw = true
  else if (arg === '-h' || arg === '--help') usage()
  else if (arg.startsWith('-')) usage(`unknown option ${arg}`)
  else if (baseUrl === undefined) baseUrl = arg
  else usage(`unexpected argument ${arg}`)
}
if (baseUrl === undefined) usage('no base URL given')
if (!existsSync(cli)) {
  console.error(`validate.mjs: ${cli} is missing: run ./setup first`)
  process.exit(1)
}

const run = spawnSync(cli, ['validate', baseUrl, '--output-json', ...passThrough], {
  cwd: here,
  encoding: 'utf8',
  timeout: 120_000,
  maxBuffer: 64 * 1024 * 1024,
  env: {
    ...process.env,
    // The CLI otherwise spawns a detached background process that checks the npm
    // registry for a newer mppx (it skips that under CI=true or with this variable).
    NO_UPDATE_NOTIFIER: '1',
    // Its payment phase otherwise shells out to `stripe config --list` once per
    // endpoint looking for a Stripe test key; the toy methods never use it.
    MPPX_STRIPE_SECRET_KEY: process.env.MPPX_STRIPE_SECRET_KEY ?? '',
    NO_COLOR: '1',
  },
})
if (run.error) {
  console.error(`validate.mjs: could not run mppx validate: ${run.error.message}`)
  process.exit(1)
}
if (run.stderr.trim()) process.stderr.write(run.stderr)

let report
try {
  report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{')))
} catch {
  console.error(`validate.mjs: mppx validate (exit ${run.status}) printed no JSON report:\n${run.stdout}`)
  process.exit(1)
}

if (raw) console.log(JSON.stringify(report, null, 2))

const problems = []
const ICONS = { pass: '✓', fail: '✗ FAIL', warn: '⚠ warn', suggested: '◇ suggested', skip: '○ skip' }
function show(title, checks) {
  if (!raw) console.log(title)
  for (const c of checks ?? []) {
    const text = c.detail ? `${c.label} (${c.detail})` : c.label
    if (!raw) {
      console.log(`  ${ICONS[c.severity] ?? c.severity} ${text}`)
      if (c.hint && c.severity !== 'pass') console.log(`      hint: ${c.hint}`)
    }
    if (c.severity === 'fail') problems.push(`${title}: ${text}`)
  }
}

if (!raw) console.log(`mppx validate ${report.url}`)
show('Discovery (/openapi.json)', report.discovery?.checks)
if (!report.discovery?.found) problems.push('no /openapi.json discovery document was found')

const endpoints = report.endpoints ?? []
if (endpoints.length === 0) problems.push('the discovery document lists no paid endpoint')
const seen = new Set()
for (const ep of endpoints) {
  const name = `${ep.method} ${ep.path}`
  seen.add(name)
  show(`${name}: challenge`, ep.challenge)
  show(`${name}: error handling`, ep.errorHandling)
  if (ep.payment?.length) show(`${name}: payment`, ep.payment)
  const parsed = (ep.challenge ?? []).some((c) => c.severity === 'pass' && c.label === 'Challenge parseable')
  if (!parsed) problems.push(`${name}: did not answer with a parseable Payment challenge`)
}
for (const name of expected) {
  if (!seen.has(name)) problems.push(`${name}: expected, but not among the validated endpoints (${[...seen].join(', ') || 'none'})`)
}
if (run.status !== 0) problems.push(`mppx validate exited with status ${run.status ?? run.signal}`)

const s = report.summary ?? {}
console.log(
  `mppx validate summary: ${s.passed ?? 0} checks ok, ${s.failed ?? 0} failing, ${s.warnings ?? 0} warnings, ${s.suggested ?? 0} suggested, ${s.skipped ?? 0} skipped`,
)
if (problems.length > 0) {
  console.log('mppx validate FAILED:')
  for (const p of problems) console.log(`  - ${p}`)
  process.exit(1)
}
console.log('mppx validate OK')
