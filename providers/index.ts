/**
 * The registry of vendor kinds. Adding a vendor: a new folder `providers/<kind>/` (wire.ts,
 * adapter.ts, simulator.ts) plus one line here; the shared contract tests then cover it.
 */
import type { ProviderKind, ProviderModule } from './types.ts';
import { mesaAdapter } from './mesa/adapter.ts';
import { startMesaSandbox } from './mesa/simulator.ts';
import { basicAdapter } from './basic/adapter.ts';
import { startBasicSandbox } from './basic/simulator.ts';
import { atlasAdapter } from './atlas/adapter.ts';
import { startAtlasSandbox } from './atlas/simulator.ts';
import { tykAdapter } from './tyk/adapter.ts';
import { startTykSandbox } from './tyk/simulator.ts';
import { plumaaAdapter } from './plumaa/adapter.ts';
import { startPlumaaSandbox } from './plumaa/simulator.ts';

export const providers: Record<ProviderKind, ProviderModule> = {
  mesa: { adapter: mesaAdapter, startSandbox: startMesaSandbox },
  basic: { adapter: basicAdapter, startSandbox: startBasicSandbox },
  atlas: { adapter: atlasAdapter, startSandbox: startAtlasSandbox },
  tyk: { adapter: tykAdapter, startSandbox: startTykSandbox },
  plumaa: { adapter: plumaaAdapter, startSandbox: startPlumaaSandbox },
};

export const providerKinds = Object.keys(providers) as ProviderKind[];
