import { createContext, useContext } from 'react';

export interface ViewerInfo {
  name: string;
  scopes: string[];
  /** Signed in with a token (a keygate with `auth`); false for the open loopback caller. */
  signedIn: boolean;
}

/** Whether `scopes` (`keys:write:*`, `keys:write:atlas`, …) grant `action` on `provider` (any, when absent). */
export function allows(scopes: readonly string[], action: 'keys:read' | 'keys:write' | 'audit:read', provider?: string): boolean {
  return scopes.some((s) => {
    const i = s.lastIndexOf(':');
    const [a, p] = [s.slice(0, i), s.slice(i + 1)];
    return a === action && (p === '*' || provider === undefined || p === provider);
  });
}

export interface BulkItem {
  provider: string;
  id: string;
  name?: string | null;
}

export interface ConsoleState {
  viewer: ViewerInfo;
  can(action: 'keys:read' | 'keys:write' | 'audit:read', provider?: string): boolean;
  selection: BulkItem[];
  toggle(item: BulkItem): void;
  isSelected(provider: string, id: string): boolean;
  clearSelection(): void;
}

export const ConsoleContext = createContext<ConsoleState | undefined>(undefined);

export function useConsole(): ConsoleState {
  const state = useContext(ConsoleContext);
  if (!state) throw new Error('useConsole outside ConsoleContext');
  return state;
}
