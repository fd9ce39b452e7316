import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module). Node, and so yoga, loads the CJS copy; without
    // this alias Vite would hand our code the ESM copy, and `instanceof GraphQLError` would fail
    // across the two, masking every GatewayError as "Unexpected error.".
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts', 'providers/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // expect.poll waits for a condition, like test/until.ts: a generous bound for a loaded machine
    // (the default 1 s was too short for chromium's first render there).
    expect: { poll: { timeout: 15_000 } },
  },
});
