/**
 * The registry of vendor kinds. Adding a vendor: a new folder `providers/<kind>/` (wire.ts,
 * adapter.ts, simulator.ts) plus one line here; the shared contract tests then cover it.
 * Simulators are imported only when a sandbox starts, so a production start never loads them.
 */
import type { BuiltinKind, ProviderModule } from './types.ts';
import { mesaAdapter } from './mesa/adapter.ts';
import { basicAdapter } from './basic/adapter.ts';
import { atlasAdapter } from './atlas/adapter.ts';
import { tykAdapter } from './tyk/adapter.ts';
import { plumaaAdapter } from './plumaa/adapter.ts';
import { sendgridAdapter } from './sendgrid/adapter.ts';
import { datadogAdapter } from './datadog/adapter.ts';
import { confluentAdapter } from './confluent/adapter.ts';
import { cloudflareAdapter } from './cloudflare/adapter.ts';
import { algoliaAdapter } from './algolia/adapter.ts';

export const providers: Record<BuiltinKind, ProviderModule> = {
  mesa: { adapter: mesaAdapter, startSandbox: async (port) => (await import('./mesa/simulator.ts')).startMesaSandbox(port) },
  basic: { adapter: basicAdapter, startSandbox: async (port) => (await import('./basic/simulator.ts')).startBasicSandbox(port) },
  atlas: { adapter: atlasAdapter, startSandbox: async (port) => (await import('./atlas/simulator.ts')).startAtlasSandbox(port) },
  tyk: { adapter: tykAdapter, startSandbox: async (port) => (await import('./tyk/simulator.ts')).startTykSandbox(port) },
  plumaa: { adapter: plumaaAdapter, startSandbox: async (port) => (await import('./plumaa/simulator.ts')).startPlumaaSandbox(port) },
  sendgrid: { adapter: sendgridAdapter, startSandbox: async (port) => (await import('./sendgrid/simulator.ts')).startSendGridSandbox(port) },
  datadog: { adapter: datadogAdapter, startSandbox: async (port) => (await import('./datadog/simulator.ts')).startDatadogSandbox(port) },
  confluent: { adapter: confluentAdapter, startSandbox: async (port) => (await import('./confluent/simulator.ts')).startConfluentSandbox(port) },
  cloudflare: { adapter: cloudflareAdapter, startSandbox: async (port) => (await import('./cloudflare/simulator.ts')).startCloudflareSandbox(port) },
  algolia: { adapter: algoliaAdapter, startSandbox: async (port) => (await import('./algolia/simulator.ts')).startAlgoliaSandbox(port) },
};

export const providerKinds = Object.keys(providers) as BuiltinKind[];
