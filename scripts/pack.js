'use strict'

/**
 * `npm run pack [-- --artifacts DIR] [-- --out DIR]`: writes the tarballs a release publishes.
 *
 * - the root package `leakproof`: JavaScript, types and the CLI; no binary, no Rust sources and
 *   no scripts (the repository's `prepare` build is for a checkout, not for users), with one
 *   optional dependency per target in package.json `napi.targets`;
 * - one platform package per binary, `@leakproof/binding-<platform>`, holding the `.node` file and
 *   `os`, `cpu` (and `libc` on Linux) so that npm installs only the one that fits.
 *
 * Without `--artifacts`, the binary is this machine's build in the repository (`npm run build`);
 * with it, every `leakproof.<platform>.node` under DIR (the release workflow's downloaded
 * artifacts). Tarballs go to `dist/` unless `--out` says otherwise.
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { PACKAGE_PREFIX, platformName, hostPlatform, targetName } = require('../lib/shared/native')

const ROOT = path.join(__dirname, '..')
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const BINARY = new RegExp(`^${manifest.napi.binaryName}\\.([a-z0-9-]+)\\.node$`)

/** The root package's published package.json: what users install, nothing of the repository's. */
function publishedManifest() {
  const keep = ['name', 'version', 'description', 'keywords', 'license', 'repository', 'main', 'bin', 'types', 'exports', 'files', 'engines', 'napi', 'dependencies', 'peerDependencies', 'peerDependenciesMeta']
  const published = Object.fromEntries(keep.filter((k) => k in manifest).map((k) => [k, manifest[k]]))
  // The runtime dependencies (uPlot, inlined into report pages) travel inside the tarball:
  // an install gets the version the tests ran, and needs no registry for them.
  published.bundleDependencies = Object.keys(manifest.dependencies ?? {})
  published.optionalDependencies = Object.fromEntries(
    manifest.napi.targets.map((triple) => [PACKAGE_PREFIX + platformName(triple), manifest.version]),
  )
  return published
}

/** A platform package's package.json: npm installs it only where `os`, `cpu` and `libc` match. */
function platformManifest(platform, binaryFile) {
  const [os, cpu, abi] = platform.split('-')
  const published = {
    name: PACKAGE_PREFIX + platform,
    version: manifest.version,
    description: `The native addon of leakproof for ${platform}; installed by leakproof itself`,
    license: manifest.license,
    main: binaryFile,
    files: [binaryFile],
    os: [os],
    cpu: [cpu],
    engines: manifest.engines,
  }
  if (os === 'linux') published.libc = [abi === 'musl' ? 'musl' : 'glibc']
  if ('repository' in manifest) published.repository = manifest.repository
  return published
}

/** `leakproof.<platform>.node` files: this machine's build, or every one under `artifacts`. */
function findBinaries(artifacts) {
  if (artifacts === undefined) {
    const platform = targetName(hostPlatform())
    const file = path.join(ROOT, `${manifest.napi.binaryName}.${platform}.node`)
    if (platform === null || !fs.existsSync(file)) {
      throw new Error(`no build for this machine at ${file}: run \`npm run build\` first`)
    }
    return [{ platform, file }]
  }
  const found = []
  for (const entry of fs.readdirSync(artifacts, { recursive: true, withFileTypes: true })) {
    const match = entry.isFile() && BINARY.exec(entry.name)
    if (match) found.push({ platform: match[1], file: path.join(entry.parentPath ?? entry.path, entry.name) })
  }
  if (found.length === 0) throw new Error(`no ${manifest.napi.binaryName}.<platform>.node under ${artifacts}`)
  return found
}

/** Copies the root package's files (package.json `files`, and the README) into `dir`. */
function stageRoot(dir) {
  for (const entry of [...manifest.files, 'README.md']) {
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true })
  }
  const published = publishedManifest()
  for (const name of published.bundleDependencies) {
    const from = path.dirname(require.resolve(`${name}/package.json`, { paths: [ROOT] }))
    fs.cpSync(from, path.join(dir, 'node_modules', name), { recursive: true })
  }
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)
}

/** Copies one binary into `dir` beside its package.json. */
function stagePlatform(dir, { platform, file }) {
  const binaryFile = `${manifest.napi.binaryName}.${platform}.node`
  fs.copyFileSync(file, path.join(dir, binaryFile))
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(platformManifest(platform, binaryFile), null, 2)}\n`)
  fs.writeFileSync(path.join(dir, 'README.md'), `# ${PACKAGE_PREFIX}${platform}\n\nThe ${platform} binary of [leakproof](https://www.npmjs.com/package/leakproof). Install \`leakproof\`, not this package.\n`)
}

/** Runs `npm pack` in `dir`, writing the tarball to `out`; returns its file name. */
function npmPack(dir, out) {
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm']
  const result = spawnSync(npm[0], [...npm.slice(1), 'pack', '--json', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (result.status !== 0) throw new Error(`npm pack failed in ${dir} (status ${result.status})`)
  return JSON.parse(result.stdout)[0].filename
}

function parseArgs(argv) {
  const args = { artifacts: undefined, out: path.join(ROOT, 'dist') }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--artifacts' && i + 1 < argv.length) args.artifacts = path.resolve(argv[++i])
    else if (argv[i] === '--out' && i + 1 < argv.length) args.out = path.resolve(argv[++i])
    else throw new Error(`unknown argument ${argv[i]}; usage: pack.js [--artifacts DIR] [--out DIR]`)
  }
  return args
}

function main() {
  const { artifacts, out } = parseArgs(process.argv.slice(2))
  const binaries = findBinaries(artifacts)
  const stage = path.join(out, 'stage')
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(out, { recursive: true })
  const packages = [{ dir: path.join(stage, 'leakproof'), fill: stageRoot }]
  for (const binary of binaries) {
    packages.push({ dir: path.join(stage, binary.platform), fill: (dir) => stagePlatform(dir, binary) })
  }
  for (const { dir, fill } of packages) {
    fs.mkdirSync(dir, { recursive: true })
    fill(dir)
    const tarball = npmPack(dir, out)
    const kB = (fs.statSync(path.join(out, tarball)).size / 1024).toFixed(1)
    process.stdout.write(`${path.join(out, tarball)}  ${kB} kB\n`)
  }
  fs.rmSync(stage, { recursive: true, force: true })
}

main()
