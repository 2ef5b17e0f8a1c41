/**
 * ESLint runs only the type-aware rules biome cannot check reliably (biome 2's nursery noFloatingPromises misses
 * promises typed by libraries, e.g. node:fs/promises): no floating promises, no misused promises, exhaustive
 * switches. Everything else (style, format, the rest of the lint) is biome's. Run by `npm run lint:types` and
 * scripts/test.sh.
 */
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'dist/**',
      '.pgrt/**',
      'coverage/**',
      'scratch/**',
      '**/*.js',
      '**/*.cjs',
      '**/*.mjs',
    ],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // `void promise` does not silence it: a promise left running must end in a rejection handler (a logger).
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
    },
  },
);
