/**
 * Prints the Pothos schema to schema.graphql (`npm run schema`), or with --check fails when the
 * committed file is stale (`npm test` runs the check). Never edit schema.graphql by hand.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from './schema.ts';

const file = new URL('../../schema.graphql', import.meta.url);
const header = '# Generated from the Pothos schema by `npm run schema`. Do not edit.\n\n';
const printed = `${header}${printSchema(schema)}\n`;

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {}
  if (committed !== printed) {
    console.error('schema.graphql is stale: run `npm run schema` and commit the result.');
    process.exit(1);
  }
  console.log('schema.graphql is up to date');
} else {
  writeFileSync(file, printed);
  console.log('wrote schema.graphql');
}
