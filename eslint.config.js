// ESLint (flat config): typescript-eslint's recommended rules, kept modest, and import-x/no-cycle:
// the module graph of src/ and bench/ has no cycles (layers: ops -> backends -> webgpu/cpu; see
// docs/ARCHITECTURE.md). `npm run lint` runs this and `prettier --check`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'tmp/', '.cache/', 'native/', 'bench/results/', 'scripts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  importX.flatConfigs.typescript,
  {
    files: ['**/*.ts'],
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })] },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Modest on purpose: the code base predates the linter.
      '@typescript-eslint/no-unused-vars': 'warn',
      '@typescript-eslint/no-unused-expressions': 'off',
      // The layering: ops call the backends' primitives, never the other way round.
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './src/backends',
              from: './src/ops',
              message: 'backends do not import src/ops (move what both need below: src/backends/*)',
            },
          ],
        },
      ],
    },
  },
  // Plain JavaScript (this file, the multi-rank test scripts) runs on Node.
  { files: ['**/*.{js,mjs,cjs}'], languageOptions: { globals: globals.node } },
  // Tests may poke at values of any shape.
  { files: ['tests/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
