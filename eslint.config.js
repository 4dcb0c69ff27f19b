'use strict'

const js = require('@eslint/js')
const globals = require('globals')

module.exports = [
  { ignores: ['binding.js', 'binding.d.ts', 'target/', 'node_modules/', 'bench/out/'] },
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The fixtures that the real test runners run (__test__/leak-test/leak-test.runners.test.js).
    files: ['__test__/leak-test/fixtures/runners/*.jest.js'],
    languageOptions: { globals: { ...globals.jest } },
  },
  {
    files: ['__test__/leak-test/fixtures/runners/*.mocha.js'],
    languageOptions: { globals: { ...globals.mocha } },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
  {
    // A longer function in the package needs an eslint-disable comment that says why.
    files: ['lib/**/*.js', 'bin/*.js', 'index.js', 'register.js'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
]
