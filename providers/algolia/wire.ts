/**
 * Algolia API keys — `PUT /1/keys/{key}` with a whole `apiKey` (unspecified attributes reset).
 * Facts: ../shared/design/vendor-facts-2.md §7 (algolia/api-clients-automation `specs/search`).
 */
/** The ACL values of the spec's `acl` enum (the `nlu*` ones are left out: not enumerated). */
export const ALGOLIA_ACL = [
  'addObject',
  'analytics',
  'browse',
  'deleteObject',
  'deleteIndex',
  'editSettings',
  'inference',
  'listIndexes',
  'logs',
  'personalization',
  'recommendation',
  'search',
  'seeUnretrievableAttributes',
  'settings',
  'usage',
];

/** The writable attributes and their defaults (what a PUT that omits one sets). */
export const ALGOLIA_DEFAULTS = {
  description: '',
  indexes: [] as string[],
  maxHitsPerQuery: 0,
  maxQueriesPerIPPerHour: 0,
  queryParameters: '',
  referers: [] as string[],
  validity: 0,
};

export interface AlgoliaKey {
  /** The key itself: its id and its secret. */
  value: string;
  /** Unix seconds. */
  createdAt: number;
  acl: string[];
  description: string;
  indexes: string[];
  maxHitsPerQuery: number;
  maxQueriesPerIPPerHour: number;
  queryParameters: string;
  referers: string[];
  validity: number;
}
