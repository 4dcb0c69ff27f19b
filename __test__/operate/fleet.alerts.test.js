'use strict'

// The shipped alerting for a fleet (issue 57): docs/prometheus-alerts.yml checked and unit
// tested by Debian's promtool (fixtures/leak-alerts.promtool.yml: the holder joined onto the
// leak alert, the fallback for a leak whose holder is not named yet, one alert per process
// and kind), and docs/alertmanager.yml checked and routed by Debian's amtool. The tools are
// installed by scripts/debian-tool.sh where missing; the test skips, saying why, where they
// cannot be. __test__/production/fleet.test.js runs both with real services.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { toolPath } = require('../support/debian-tools')

const ROOT = path.join(__dirname, '..', '..')
const ALERTS = path.join(ROOT, 'docs', 'prometheus-alerts.yml')
const ALERTMANAGER = path.join(ROOT, 'docs', 'alertmanager.yml')
const UNIT_TESTS = path.join(__dirname, 'fixtures', 'leak-alerts.promtool.yml')

/** Runs `command` with `args`; its exit status and its stdout and stderr as one text. */
function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 })
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error?.message ?? ''}` }
}

test('promtool: the rules check, and the leak alert carries the holder for the leaking instances only, once each', (t) => {
  const promtool = toolPath(t, 'prometheus', 'promtool')
  if (promtool === null) return
  const check = run(promtool, ['check', 'rules', ALERTS])
  assert.equal(check.status, 0, check.output)
  assert.match(check.output, /SUCCESS: 4 rules found/)
  const unit = run(promtool, ['test', 'rules', UNIT_TESTS])
  assert.equal(unit.status, 0, unit.output)
  assert.match(unit.output, /SUCCESS/)
})

test('amtool: the Alertmanager example checks, and routes the leak alert to the receiver that groups by holder', (t) => {
  // Debian's prometheus-alertmanager ships amtool beside its server, prometheus-alertmanager.
  const amtool = toolPath(t, 'prometheus-alertmanager', 'amtool')
  if (amtool === null) return
  const check = run(amtool, ['check-config', ALERTMANAGER])
  assert.equal(check.status, 0, check.output)
  assert.match(check.output, /SUCCESS/)
  const routes = [
    [['alertname=LeakproofLeakSuspected', 'kind=heap', 'holder=store.sessions (Map)', 'site=svc/service.js'], 'leak-owners'],
    [['alertname=LeakproofThreadLeakSuspected', 'pool=app', 'holder=rendered (Map)', 'site=svc/render.js'], 'leak-owners'],
    [['alertname=LeakproofLeakSuspected', 'kind=external'], 'leak-owners'],
    [['alertname=LeakproofSnapshotsDeclined', 'result=disk-budget'], 'default'],
  ]
  for (const [labels, receiver] of routes) {
    const route = run(amtool, ['config', 'routes', 'test', `--config.file=${ALERTMANAGER}`, `--verify.receivers=${receiver}`, ...labels])
    assert.equal(route.status, 0, `${labels.join(' ')}: ${route.output}`)
  }
})
