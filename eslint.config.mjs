// ESLint flat config: typescript-eslint's type-checked recommended rules over the TypeScript sources,
// plain recommended rules over the CommonJS scripts. A database package cannot afford an unawaited
// flush or transaction, so the promise rules are errors everywhere.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeCommonJsGlobals = {
  require: 'readonly',
  module: 'writable',
  exports: 'writable',
  __dirname: 'readonly',
  __filename: 'readonly',
  process: 'readonly',
  console: 'readonly',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'temp/**',
      'node_modules/**',
      'bench/results/**',
      '.pgdata/**',
      'backups/**',
      '.studio-screenshots/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A leading underscore marks a parameter or binding that is there for its position only.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Off: MikroORM's hooks (Migration.up, subscriber afterFlush) return a Promise even when they await nothing.
      '@typescript-eslint/require-await': 'off',
      // Off: string enums are compared with values read from raw SQL rows, which are plain strings by nature.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Off in tests and benches: they read untyped JSON (HTTP responses, bench output) and raw pg rows,
      // where typing every field adds casts, not safety. They stay on in src/ and scripts/.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: nodeCommonJsGlobals,
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
);
