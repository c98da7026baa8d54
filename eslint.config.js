// Lint rules that encode the layering (see README "Where things live"): domain code never reaches
// into the CLI or the terminal UI, payment decisions never depend on the roles that call them, and
// the Stripe emulator stays out of everything that runs in production.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

const relative = (folders) => `^\\.{1,2}/(.*/)?(${folders.join('|')})(/|\\.js$)`;

const noCliOrUi = {
  regex: relative(['cli', 'ui']),
  message: 'Domain modules know nothing of the CLI or the terminal UI: return data, let src/cli and src/ui render it.',
};
const noTerminalLibraries = {
  group: ['commander', 'ink', 'ink-*', '@inkjs/*', 'react', 'chalk'],
  message: 'Terminal and argument-parsing libraries belong in src/cli and src/ui.',
};
const noEmulator = {
  regex: relative(['stripe-emulator']),
  message: 'The Stripe emulator is a test and laptop tool: only src/cli, src/stack, src/dev, src/index.ts and tests may import it.',
};
const noRoles = {
  regex: relative(['worker', 'webhook']),
  message: 'src/payments holds the decisions the roles call; it must not depend on a role.',
};

const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
    },
  },
  {
    files: ['bench/**/*.js', 'eslint.config.js', 'bin/**/*.js'],
    rules: { 'no-console': 'off' },
  },
  // Tests read loosely typed JSON answers.
  { files: ['test/**'], rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' } },
  // Domain code: everything under src/ but the CLI and the UI.
  {
    files: ['src/**/*.{ts,tsx}'],
    ignores: ['src/cli/**', 'src/ui/**', 'src/stack/**', 'src/dev/**', 'src/stripe-emulator/**', 'src/index.ts', 'src/payments/**'],
    rules: restrict(noCliOrUi, noTerminalLibraries, noEmulator),
  },
  { files: ['src/stack/**', 'src/dev/**', 'src/stripe-emulator/**', 'src/index.ts'], rules: restrict(noCliOrUi, noTerminalLibraries) },
  { files: ['src/payments/**'], rules: restrict(noCliOrUi, noTerminalLibraries, noEmulator, noRoles) },
  { files: ['src/ui/**'], rules: restrict({ group: ['commander'], message: 'The UI renders; flags are parsed in src/cli.' }) },
);
