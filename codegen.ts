import type { CodegenConfig } from '@graphql-codegen/cli';

// Reads the committed, printed schema (not the Pothos module: importing it from codegen can load
// a second copy of graphql). Typed documents for the tests' operations land in test/gql/, the
// console's in console/src/gql/ (as strings: the browser bundle carries no GraphQL runtime).
const scalars = { DateTime: 'string', JSON: 'any', ID: 'string' };
const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'test/gql/': {
      documents: ['test/operations.graphql'],
      preset: 'client',
      config: { importExtension: '.ts', scalars, enumsAsTypes: true, useTypeImports: true },
      presetConfig: { fragmentMasking: false },
    },
    'console/src/gql/': {
      documents: ['console/src/operations.graphql'],
      preset: 'client',
      config: { importExtension: '.ts', scalars, enumsAsTypes: true, useTypeImports: true, documentMode: 'string' },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
