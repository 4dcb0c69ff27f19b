'use strict'

// scripts/repo-paths.js, the lint step that fails when a comment or a doc names a path of the
// repository that does not exist: run as `npm run lint` runs it, on small real repositories
// (git init'd temporary trees).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { tempDir } = require('../support/temp-dir')

const ROOT = path.join(__dirname, '..', '..')
const SCRIPT = path.join(ROOT, 'scripts', 'repo-paths.js')

/** A git repository in a new temporary directory holding `files` (path → text). */
function repository(t, files) {
  const root = tempDir(t, 'repo-paths')
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), text)
  }
  execFileSync('git', ['init', '-q'], { cwd: root })
  return root
}

/** Runs the script on `root`: its exit code and the paths it says do not exist, as `file:line: path`. */
function check(root) {
  const run = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8', cwd: ROOT })
  const stale = run.stdout.split('\n').filter((line) => line.endsWith(' does not exist')).map((line) => line.replace(/ does not exist$/, ''))
  return { status: run.status, stale, output: run.stdout + run.stderr }
}

/** A small repository whose comments and docs name only paths that exist, and users' paths, URLs and strings that are none of its own. */
const GOOD = {
  'lib/watch/watcher.js': [
    "'use strict'",
    '// The options are lib/watch/options.js\'s (see docs/watch.md#options, lib/watch/options.js:3-9,',
    '// lib/watch/options.js:3–9 and lib/watch/*.js); the core is src/core/detect.rs, its folder src/core/.',
    '/** @param {import(\'./options\').Options} options */',
    "function watch(options) { return require('./options') }",
    "const notAComment = 'lib/watch/gone.js'",
    '/* A user\'s src/store.ts, dist/server.js and src/services/audit.service.ts; https://github.com/o/r/blob/main/lib/gone.js;',
    '   node_modules/pkg/lib/gone.js; /usr/lib/gone.js; ~/lib/gone.js; $HOME/lib/gone.js; what a run writes: out/run.json. */',
    'module.exports = { watch, notAComment }',
    '',
  ].join('\n'),
  'lib/watch/options.js': "'use strict'\n// Read by lib/watch/watcher.js.\nmodule.exports = {}\n",
  'src/core/detect.rs': '//! The detector (docs/watch.md); its JS is lib/watch/watcher.js.\nconst PATH: &str = "lib/gone.js"; // a string, not a comment\n',
  'scripts/run.sh': '#!/bin/sh\n# Runs lib/watch/watcher.js.\necho "lib/gone.js"\n',
  'docs/watch.md': '# Watch\n\nSee [the options](options.md#defaults), [the code](../lib/watch/watcher.js) and `lib/watch/options.js:2`.\nA user runs `node dist/server.js`, or keeps `./session-store.js`; [Node](https://nodejs.org/api/).\n',
  'docs/options.md': '# Options\n',
  'README.md': 'Read docs/watch.md.\n',
  '.gitignore': '/out\n',
  '__test__/fixtures/app/package.json': '{}\n',
  '__test__/fixtures/app/lib/server.js': '// This project\'s own lib/db.js, not the repository\'s.\n',
}

test('a repository whose comments and docs name only paths that exist passes', (t) => {
  const { status, stale, output } = check(repository(t, GOOD))
  assert.deepEqual(stale, [], output)
  assert.equal(status, 0, output)
  assert.match(output, /repo-paths: \d+ files read, 0 paths that do not exist/)
})

test('each stale path is listed as file:line, in a comment of JS, TS, Rust or a shell script, a doc, a link, a type or a glob; exit 1', (t) => {
  const root = repository(t, {
    ...GOOD,
    'lib/watch/watcher.js': GOOD['lib/watch/watcher.js'] + '// Moved to lib/watch/monitor.js.\n/** @type {import(\'../detect/limit\').Limit} */\nlet limit\n',
    'lib/types.d.ts': '/** As lib/watch/gone.d.ts says. */\nexport {}\n',
    'src/core/detect.rs': GOOD['src/core/detect.rs'] + '/// The defaults: lib/detect/heap-limit.js.\nfn f() {}\n/* In src/core/gone.rs */\n',
    'scripts/run.sh': GOOD['scripts/run.sh'] + '# Then scripts/gone.sh.\n',
    'docs/watch.md': GOOD['docs/watch.md'] + 'See [gone](gone.md#x) and lib/watch/*.ts.\n',
  })
  const { status, stale, output } = check(root)
  assert.equal(status, 1, output)
  assert.deepEqual(stale.sort(), [
    'docs/watch.md:5: gone.md#x',
    'docs/watch.md:5: lib/watch/*.ts',
    'lib/types.d.ts:1: lib/watch/gone.d.ts',
    'lib/watch/watcher.js:10: lib/watch/monitor.js',
    'lib/watch/watcher.js:11: ../detect/limit',
    'scripts/run.sh:4: scripts/gone.sh',
    'src/core/detect.rs:3: lib/detect/heap-limit.js',
    'src/core/detect.rs:5: src/core/gone.rs',
  ].sort(), output)
})
