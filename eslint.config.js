// ESLint flat config: typescript-eslint recommended, plus import rules that keep the layers one-way.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noSdk = {
  group: ['@modelcontextprotocol/sdk', '@modelcontextprotocol/sdk/*'],
  message: 'only src/mcp/ talks to the MCP SDK',
};
const noIo = [
  {
    group: ['kysely', 'pg', 'undici', 'p-queue', '@electric-sql/pglite', '@electric-sql/pglite/*'],
    message: 'tools call services, never I/O',
  },
  { group: ['**/src/store/*', '**/store/*'], message: 'tools call services, never the store' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.flotilla/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts', 'tools/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['tools/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSdk, ...noIo] }] },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noSdk,
            ...noIo,
            {
              group: ['node:fs', 'node:http', 'node:net', 'node:child_process', 'pino'],
              message: 'domain is pure: no I/O',
            },
            {
              group: ['**/services/*', '**/mcp/*', '**/http/*', '**/scheduler/*'],
              message: 'domain imports nothing above it',
            },
          ],
        },
      ],
    },
  },
  {
    files: [
      'src/store/**/*.ts',
      'src/services/**/*.ts',
      'src/scheduler/**/*.ts',
      'src/http/**/*.ts',
      'src/federation/**/*.ts',
      'src/agents/**/*.ts',
    ],
    ignores: ['src/http/mcp-route.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [noSdk, { group: ['**/tools/*'], message: 'src never imports tools except app.ts' }] },
      ],
    },
  },
  {
    files: ['migrations/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src/*', '**/src/**'], message: 'migrations are frozen in time' }] },
      ],
    },
  },
);
