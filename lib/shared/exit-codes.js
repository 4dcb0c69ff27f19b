'use strict'

/**
 * The exit codes of `npx leakproof`, every command's, in one table: each code once, with what
 * it means to each command that exits with it. Scripts and CI jobs test these numbers: a code
 * keeps its number and its meaning. Where commands mean different things by one number, the
 * code has a meaning per command: 0 is done, a run without a leak, or a client that closed
 * the MCP connection; 1 is a file that cannot be read (analyze, diff, report, sites), a leak
 * (run), a failed command (attach) or a missing SDK (mcp).
 *
 * The commands take theirs with `exitCodesOf()`; `leakproof --help` prints `exitCodesHelp()`;
 * the docs' tables of exit codes are checked against the table (__test__/package/exit-codes.test.js).
 */

/** The commands of `npx leakproof`. */
const COMMANDS = Object.freeze(['analyze', 'diff', 'report', 'sites', 'run', 'attach', 'mcp'])

/** The commands that read files, whose exit codes `--help` lists first. */
const FILE_COMMANDS = Object.freeze(['analyze', 'diff', 'report', 'sites'])

/**
 * One meaning of an exit code: `name`, the key a command's code reads it by; `means`, the line
 * `--help` prints; `commands`, those it is the meaning of.
 * @param {string} name
 * @param {string} means
 * @param {readonly string[]} commands
 */
function meaning(name, means, commands) {
  return Object.freeze({ name, means, commands: Object.freeze([...commands]) })
}

/** An exit code and its meanings. */
function exitCode(code, ...meanings) {
  return Object.freeze({ code, meanings: Object.freeze(meanings) })
}

/**
 * Every exit code, lowest first, with its meanings. A command exits with a code only where one
 * of its meanings names the command. (attach's 0 is a meaning of its own, with the same words
 * as the file commands', so that `--help` lists it with attach's codes.)
 */
const EXIT_CODES = Object.freeze([
  exitCode(0,
    meaning('OK', 'done', FILE_COMMANDS),
    meaning('CLEAN', 'no leak in a run long enough to judge', ['run']),
    meaning('OK', 'done', ['attach']),
    meaning('OK', 'the client closed the connection', ['mcp']),
  ),
  exitCode(1,
    meaning('UNREADABLE', 'a snapshot, profile or directory could not be read, or the page not written', FILE_COMMANDS),
    meaning('LEAK', 'a leak was found (the verdict names what holds it)', ['run']),
    meaning('FAILED', 'the command failed (the inspector or the control socket; the message says how)', ['attach']),
    meaning('NO_SDK', 'its SDK is not installed: npm install @modelcontextprotocol/sdk', ['mcp']),
  ),
  exitCode(2,
    meaning('USAGE', 'bad arguments', [...FILE_COMMANDS, 'run']),
    meaning('USAGE', 'bad arguments or options: nothing was sent to the process', ['attach']),
    meaning('USAGE', 'bad arguments, a --root that is not a directory, or a bad LEAKPROOF_* setting', ['mcp']),
  ),
  exitCode(3, meaning('NATIVE_UNAVAILABLE', 'no native addon for this platform', ['analyze', 'diff'])),
  exitCode(4, meaning('NO_VERDICT', 'no verdict: the service did not start, failed, was not watched, or stopped too soon', ['run'])),
  exitCode(5, meaning('REFUSED', 'refused: not a Node process, another user\'s, no inspector or one in use, already attached, a Node this build cannot load into, or gone; the process is as it was', ['attach'])),
  exitCode(6, meaning('NOT_ATTACHED', 'no leakproof is attached to that process (with that --dir)', ['attach'])),
  // sysexits' EX_SOFTWARE, apart from 1 so that a script can tell a bug in leakproof from a file that cannot be read.
  exitCode(70, meaning('INTERNAL', 'internal error (a bug in leakproof; the stack is printed)', COMMANDS)),
])

/**
 * The meanings of the codes that any of `commands` exits with, lowest code first, each as
 * `{ code, name, means, commands }`.
 * @param {readonly string[]} commands
 */
function meaningsOf(commands) {
  return EXIT_CODES.flatMap(({ code, meanings }) =>
    meanings.filter((m) => m.commands.some((c) => commands.includes(c))).map((m) => ({ code, ...m })))
}

/**
 * The exit codes of `commands` (one, or several that share theirs) by name, lowest first:
 * `{ OK: { code: 0, means: 'done' }, … }`, what a command returns its code from.
 * @param {...string} commands
 * @returns {Readonly<Record<string, { code: number, means: string }>>}
 */
function exitCodesOf(...commands) {
  const unknown = commands.filter((c) => !COMMANDS.includes(c))
  if (unknown.length > 0) throw new Error(`no exit codes for ${unknown.join(', ')}: not a command`)
  const byName = {}
  for (const { code, name, means } of meaningsOf(commands)) {
    if (name in byName) throw new Error(`exit codes of ${commands.join(', ')}: ${name} is both ${byName[name].code} and ${code}`)
    byName[name] = Object.freeze({ code, means })
  }
  return Object.freeze(byName)
}

/**
 * The exit codes as `leakproof --help` lists them: the file commands' first, then each other
 * command's own (a meaning it shares with the file commands, such as 70, is in the first list).
 */
function exitCodesHelp() {
  const lines = (meanings) => meanings.map(({ code, means }) => `  ${String(code).padEnd(9)}  ${means}`)
  const first = meaningsOf(FILE_COMMANDS)
  const shared = (m) => m.commands.some((c) => FILE_COMMANDS.includes(c))
  const others = COMMANDS.filter((c) => !FILE_COMMANDS.includes(c))
  return [
    'Exit codes:', ...lines(first),
    ...others.flatMap((command) => [`Exit codes of ${command}:`, ...lines(meaningsOf([command]).filter((m) => !shared(m)))]),
  ].join('\n')
}

module.exports = { EXIT_CODES, COMMANDS, FILE_COMMANDS, exitCodesOf, exitCodesHelp }
