'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const fsPromises = require('node:fs/promises')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { readMappings, parseSmaps, compareMappings, nativeAdvice } = require('../../lib/diagnose/native-memory')
const { buildLeakAddon } = require('../support/fixtures/native-leak-addon/build')
const { tempDir } = require('../support/temp-dir')

const MiB = 1024 * 1024
const linux = process.platform === 'linux'

/** One smaps entry in the kernel's format: the header line, then the fields the parser skips or reads. */
function entry(range, perms, pathname, rssKb) {
  return [
    `${range} ${perms} 00000000 fe:00 ${pathname.startsWith('/') ? 247282 : 0}                     ${pathname}`.trimEnd(),
    `Size:               ${rssKb * 2} kB`,
    'KernelPageSize:        4 kB',
    `Rss:                ${rssKb} kB`,
    `Pss:                ${rssKb} kB`,
    'Anonymous:             0 kB',
    'THPeligible:           0',
    'VmFlags: rd wr mr mw me ac sd ',
  ].join('\n')
}

const SMAPS = [
  entry('560857fac000-560857fae000', 'r--p', '/usr/bin/node', 100),
  entry('560857fae000-560857fb4000', 'r-xp', '/usr/bin/node', 900),
  entry('56085a000000-56085a400000', 'rw-p', '[heap]', 4096),
  entry('7f0000000000-7f0004000000', 'rw-p', '', 2048),
  entry('7f0004000000-7f0004001000', '---p', '', 0),
  entry('7f0005000000-7f0005100000', 'rw-p', '[anon:v8 pages]', 512),
  entry('7f0006000000-7f0006100000', 'rw-s', '/memfd:wasm (deleted)', 64),
  entry('7f0007000000-7f0007100000', 'r-xp', '/srv/app/node_modules/sharp/build/Release/sharp.node', 300),
  entry('7f0007100000-7f0007200000', 'rw-p', '/srv/app/node_modules/sharp/build/Release/sharp.node', 20),
  entry('7f0008000000-7f0008100000', 'r-xp', '/tmp/old build/leak.node (deleted)', 8),
  entry('7f0009000000-7f0009100000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libc.so.6', 1200),
  entry('7f000a000000-7f000a100000', 'r--p', '/usr/lib/locale/C.utf8/LC_CTYPE', 40),
  entry('7ffd00000000-7ffd00021000', 'rw-p', '[stack]', 132),
  entry('7ffd00100000-7ffd00104000', 'r--p', '[vvar]', 0),
  entry('7ffd00104000-7ffd00106000', 'r-xp', '[vdso]', 8),
].join('\n') + '\n'

test('parseSmaps sums the Rss lines by kind of mapping and names the loaded addons', () => {
  const { kinds, addons } = parseSmaps(SMAPS)
  const byKind = Object.fromEntries(kinds.map((k) => [k.kind, [k.rssBytes / 1024, k.mappings]]))
  assert.deepEqual(byKind, {
    'malloc-heap': [4096, 1],
    anonymous: [2048 + 0 + 512 + 64, 4],
    stack: [132, 1],
    'addon-code': [300 + 20 + 8, 3],
    libraries: [1200, 1],
    files: [100 + 900 + 40, 3],
    other: [8, 2],
  })
  for (const k of kinds) assert.equal(typeof k.label, 'string')
  assert.deepEqual(addons, ['/srv/app/node_modules/sharp/build/Release/sharp.node', '/tmp/old build/leak.node'])
})

test('parseSmaps of nothing lists every kind at zero', () => {
  const { kinds, addons } = parseSmaps('')
  assert.deepEqual(kinds.map((k) => k.kind), ['malloc-heap', 'anonymous', 'stack', 'addon-code', 'libraries', 'files', 'other'])
  assert.ok(kinds.every((k) => k.rssBytes === 0 && k.mappings === 0))
  assert.deepEqual(addons, [])
})

test('readMappings reads this process: the kinds add up to about its RSS', { skip: !linux }, async () => {
  const mappings = await readMappings()
  const rss = process.memoryUsage().rss
  const sum = mappings.kinds.reduce((total, k) => total + k.rssBytes, 0)
  // Read at slightly different moments: close, not equal.
  assert.ok(Math.abs(sum - rss) < rss * 0.2, `${sum} vs ${rss}`)
  assert.ok(mappings.kinds.find((k) => k.kind === 'libraries').mappings > 0)
  assert.equal(typeof mappings.at, 'number')
})

test('readMappings is null where /proc/self/smaps cannot be read', async (t) => {
  t.mock.method(fsPromises, 'readFile', async () => {
    throw Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' })
  })
  assert.equal(await readMappings(), null)
})

test('a filled 64 MiB Buffer shows as anonymous mappings grown', { skip: !linux }, async () => {
  const before = await readMappings()
  const held = Buffer.alloc(64 * MiB, 1)
  const after = await readMappings()
  const grown = compareMappings(before, after)
  const anonymous = grown.find((k) => k.kind === 'anonymous')
  // Net of what else moved meanwhile: V8 gives heap pages back, threads their arenas (59 MiB
  // net was seen beside another test file).
  assert.ok(anonymous && anonymous.growthBytes >= 48 * MiB, JSON.stringify(grown))
  assert.equal(held.length, 64 * MiB)
})

test('compareMappings lists the kinds that grew, most growth first', () => {
  const kinds = (bytes) => ({ kinds: Object.entries(bytes).map(([kind, rssBytes]) => ({ kind, label: `${kind} label`, rssBytes, mappings: 1 })) })
  const before = kinds({ 'malloc-heap': 10, anonymous: 100, stack: 5, files: 50 })
  const after = kinds({ 'malloc-heap': 30, anonymous: 200, stack: 5, files: 40 })
  assert.deepEqual(compareMappings(before, after), [
    { kind: 'anonymous', label: 'anonymous label', beforeBytes: 100, afterBytes: 200, growthBytes: 100 },
    { kind: 'malloc-heap', label: 'malloc-heap label', beforeBytes: 10, afterBytes: 30, growthBytes: 20 },
  ])
  assert.deepEqual(compareMappings(null, after), [])
  assert.deepEqual(compareMappings(before, null), [])
})

const SERVICE = { pid: 4242, command: ['/usr/bin/node', '--max-old-space-size=512', '/srv/app/server.js', '--name', "o'brien svc"], arch: 'x64', platform: 'linux' }

test('nativeAdvice where malloc grew: the addons as suspects, heaptrack and jemalloc for this service', () => {
  const advice = nativeAdvice({
    ...SERVICE,
    growthBytes: 64 * MiB,
    mallocGrowthBytes: 63 * MiB,
    grownKinds: [{ kind: 'malloc-heap', label: 'x', beforeBytes: 0, afterBytes: 64 * MiB, growthBytes: 64 * MiB }],
    addons: ['/srv/app/node_modules/leaky/leaky.node'],
  })
  assert.equal(advice.verdict, 'no JS object holds it')
  assert.match(advice.explanation, /grew by 67\.1 MB/)
  assert.match(advice.explanation, /malloc-heap \+67\.1 MB/)
  assert.match(advice.explanation, /malloc's in-use count grew by \+66\.1 MB/)
  assert.match(advice.explanation, /\/srv\/app\/node_modules\/leaky\/leaky\.node/)
  for (const step of advice.next) assert.deepEqual(Object.keys(step), ['what', 'command'])
  const commands = advice.next.map((s) => s.command)
  const run = "/usr/bin/node --max-old-space-size=512 /srv/app/server.js --name 'o'\\''brien svc'"
  assert.equal(commands[0], `heaptrack -o /tmp/heaptrack.run ${run}`)
  assert.match(commands[1], /^heaptrack_print .*--print-leaks 1 \/tmp\/heaptrack\.run\.\* \| head -50$/)
  assert.equal(
    commands[2],
    `LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=prof:true,prof_final:true,lg_prof_interval:30,lg_prof_sample:19,prof_prefix:/tmp/jeprof ${run}`,
  )
  assert.equal(commands[3], 'jeprof --text /usr/bin/node $(ls -t /tmp/jeprof.*.heap | head -1) | head -30')
  assert.match(commands[4], /^valgrind --tool=massif --massif-out-file=\/tmp\/massif\.out /)
})

test('nativeAdvice where malloc did not grow but anonymous mappings did: mmap, massif counting pages first', () => {
  const advice = nativeAdvice({
    ...SERVICE,
    growthBytes: 100 * MiB,
    mallocGrowthBytes: -1 * MiB,
    grownKinds: [
      { kind: 'anonymous', label: 'x', beforeBytes: 0, afterBytes: 99 * MiB, growthBytes: 99 * MiB },
      { kind: 'files', label: 'x', beforeBytes: 0, afterBytes: MiB, growthBytes: MiB },
    ],
    addons: [],
  })
  assert.match(advice.explanation, /did not grow \(-1\.0 MB\) but anonymous mappings did/)
  assert.match(advice.explanation, /Grown: anonymous \+103\.8 MB\./) // files' 1 MiB is noise
  assert.match(advice.explanation, /No addon is loaded/)
  assert.match(advice.next[0].command, /^valgrind --tool=massif --pages-as-heap=yes /)
})

test('nativeAdvice defaults to this process and platform, and has little to offer off Linux and macOS', () => {
  const here = nativeAdvice({ growthBytes: MiB })
  assert.equal(here.verdict, 'no JS object holds it')
  assert.doesNotMatch(here.explanation, /malloc's in-use count/) // unknown: not said
  if (linux) assert.ok(here.next[0].command.includes(process.execPath))
  const mac = nativeAdvice({ growthBytes: MiB, platform: 'darwin', pid: 7 })
  assert.deepEqual(mac.next.map((s) => s.command), ['vmmap --summary 7', 'leaks 7'])
  assert.deepEqual(nativeAdvice({ growthBytes: MiB, platform: 'win32' }).next, [])
})

/** The node binaries to load the leak addon in: Node 20 and Node 24, where present. */
function nodeBinaries() {
  const nodes = []
  if (fs.existsSync('/usr/bin/node')) nodes.push('/usr/bin/node')
  const bin = spawnSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'node-bin.sh'), '24'], { encoding: 'utf8', timeout: 300_000 })
  if (bin.status === 0) nodes.push(path.join(bin.stdout.trim(), 'node'))
  return nodes
}

test('an addon that mallocs and never frees grows RSS and malloc\'s mappings, and is named a suspect', { skip: !linux }, async (t) => {
  const dir = tempDir(t, 'native-leak')
  const addon = buildLeakAddon(dir)
  assert.equal(buildLeakAddon(dir), addon) // built once
  const nodes = nodeBinaries()
  assert.ok(nodes.length > 0, 'no node binary to run the addon in')
  for (const node of nodes) {
    await t.test(node, () => {
      const child = spawnSync(node, [path.join(__dirname, '..', 'support', 'fixtures', 'native-leak-addon', 'leak-child.js'), addon, String(64 * MiB)], { encoding: 'utf8', timeout: 60_000 })
      assert.equal(child.status, 0, child.stderr)
      const result = JSON.parse(child.stdout)
      assert.equal(result.leaked, 64 * MiB)
      assert.ok(result.rssGrowth >= 50 * MiB, `${result.version}: RSS grew by ${result.rssGrowth}`)
      const mallocKinds = result.grownKinds.filter((k) => k.kind === 'malloc-heap' || k.kind === 'anonymous')
      const mallocGrowth = mallocKinds.reduce((total, k) => total + k.growthBytes, 0)
      assert.ok(mallocGrowth >= 50 * MiB, `${result.version}: ${JSON.stringify(result.grownKinds)}`)
      assert.deepEqual(result.addons, [addon])
      assert.ok(result.advice.explanation.includes(addon), result.advice.explanation)
    })
  }
})
