import type { CodegenConfig } from '@graphql-codegen/cli';

// Reads the committed, printed schema (not the Pothos module: importing it from codegen can load
// a second copy of graphql). Typed documents for the tests' operations land in test/gql/.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/operations.graphql'],
  generates: {
    'test/gql/': {
      preset: 'client',
      config: { importExtension: '.ts', scalars: { DateTime: 'string', JSON: 'any', ID: 'string' }, enumsAsTypes: true, useTypeImports: true },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
