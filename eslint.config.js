// Lint: typescript-eslint's strict, type-checked rules (floating promises included) over every TypeScript
// file the type check covers. Formatting is Biome's (biome.json); layering and import cycles are
// dependency-cruiser's (.dependency-cruiser.cjs).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tmp/', 'shared/postgres/generated/', 'coverage/'] },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans read naturally in messages; objects and nullish values still may not be interpolated.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `void promise` marks a promise deliberately not awaited (it must still be handled).
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // A leading underscore marks a deliberately unused binding (a handler's request, a skipped tuple element).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Hooks guard against a failed `beforeAll` (`afterAll(() => db?.drop())`) although the variable's type says it is set.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // A test asserting on a value it just checked may say so with `!`; a wrong one fails the test anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `expect.any()` and friends, `JSON.parse` of a command's output and `pg` rows are `any`; the assertions check them.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Tests build broken documents by removing fields.
      '@typescript-eslint/no-dynamic-delete': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
