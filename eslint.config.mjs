// @ts-check
import eslint from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first. A folder may import its own files and
 * folders of lower layers only: never a higher layer, nor another folder
 * of its own layer (that is how import cycles between folders start).
 */
const LAYERS = [
  ['common', 'errors'],
  ['logging', 'net', 'domain'],
  ['config'],
  ['lifecycle', 'metrics', 'tracing'],
  ['redis'],
  ['streams'],
  ['workers', 'supervisor'],
  ['health', 'status'],
  ['app'],
  ['cli'],
];

const elements = LAYERS.flat().map((type) => ({ type, pattern: `src/${type}` }));

const layerPolicies = LAYERS.flatMap((layer, rank) =>
  layer.map((type) => ({
    from: { element: { type } },
    allow: { to: { element: { types: { anyOf: [type, ...LAYERS.slice(0, rank).flat()] } } } },
  })),
);

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', '*.js', '*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
      // Nest decorators and DI need classes whose constructors only inject.
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': elements,
      'boundaries/include': ['src/**/*.ts'],
      'import/resolver': { typescript: { project: './tsconfig.json' } },
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', policies: layerPolicies }],
    },
  },
  {
    // With tracing off no OpenTelemetry SDK module may be loaded (SPEC §8):
    // only src/tracing/otel/ imports it, and that folder is required lazily.
    files: ['src/**/*.ts'],
    ignores: ['src/tracing/otel/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@opentelemetry/*'],
              message:
                'Only src/tracing/otel/ may import OpenTelemetry: it is loaded only when tracing is on.',
            },
            {
              group: ['**/tracing/otel/*', './otel/*'],
              allowTypeImports: true,
              message:
                'src/tracing/otel/ is required lazily by start-tracing.ts; import only its types.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts', 'dev/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
