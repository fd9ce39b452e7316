/**
 * Finds a key named twice in one JSON object, at any depth. JSON.parse keeps the last value
 * silently, so a client cannot know which one applied; the request parsers refuse such a body.
 * One linear pass over text JSON.parse has already accepted (it does not validate on its own).
 */

interface Frame {
  /** Keys seen so far; undefined for an array. */
  keys?: Set<string>;
  /** The next string is a key (object frames only). */
  expectKey: boolean;
  lastKey: string;
  index: number;
  /** Where this container sits: `variables.patch`, `updates[2]`; '' at the root. */
  at: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The first duplicated key as `{ at, key }` (`at` '' for the top level), or undefined. */
export function findDuplicateKey(json: string): { at: string; key: string } | undefined {
  const stack: Frame[] = [];
  let top: Frame | undefined;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      for (; j < json.length; j++) {
        const d = json.charCodeAt(j);
        if (d === BACKSLASH) {
          escaped = true;
          j++;
        } else if (d === QUOTE) break;
      }
      if (top?.keys && top.expectKey) {
        // `"a"` and `"\u0061"` are one key: compare decoded names.
        const key = escaped ? (JSON.parse(json.slice(i, j + 1)) as string) : json.slice(i + 1, j);
        if (top.keys.has(key)) return { at: top.at, key };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const at = top === undefined ? '' : top.keys ? (top.at ? `${top.at}.${top.lastKey}` : top.lastKey) : `${top.at}[${top.index}]`;
      top = { keys: c === 0x7b ? new Set() : undefined, expectKey: true, lastKey: '', index: 0, at };
      stack.push(top);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      top = stack[stack.length - 1];
    } else if (c === 0x2c /* , */ && top) {
      if (top.keys) top.expectKey = true;
      else top.index++;
    }
  }
  return undefined;
}
