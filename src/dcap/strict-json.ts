/**
 * Duplicate-key detection for signed JSON (`tcb_info`, `qe_identity`).
 *
 * `JSON.parse` keeps the last of two equal keys, rapidjson (Intel's QVL) keeps the first. A signed
 * document with a duplicate key can therefore be read two ways by two verifiers, so it is rejected
 * outright, at any depth. Keys are compared after unescaping (`"a"` and `"\u0061"` are the same key),
 * as both parsers do.
 *
 * The scan is linear and iterative (no recursion, so hostile nesting cannot exhaust the stack) and
 * expects text that `JSON.parse` has already accepted: it tracks only where strings are keys.
 */

/** Keys of one open object: an array while small (objects in Intel's documents have ≤ 12 keys), a Set beyond. */
interface Frame {
  /** null for an array */
  keys: string[] | Set<string> | null;
  /** the key whose value is being read (objects) */
  key: string;
  /** index of the element being read (arrays) */
  index: number;
}

const SMALL = 16;

function pathOf(frames: Frame[], last: string): string {
  let out = "";
  // frames[0] is the top-level value; each frame names the member or element it is reading
  for (let i = 0; i < frames.length - 1; i++) {
    const f = frames[i]!;
    out += f.keys === null ? `[${f.index}]` : out === "" ? f.key : `.${f.key}`;
  }
  return out === "" ? last : `${out}.${last}`;
}

/**
 * The path of the first duplicate key in `text` (`tcbLevels[2].tcb.pcesvn`, or just `id` at the
 * top level), or undefined when every object's keys are distinct. `text` must be valid JSON.
 */
export function findDuplicateKey(text: string): string | undefined {
  const frames: Frame[] = [];
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      if (!expectKey) continue;
      expectKey = false;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      const f = frames[frames.length - 1]!;
      const keys = f.keys!;
      if (Array.isArray(keys)) {
        if (keys.includes(key)) return pathOf(frames, key);
        keys.push(key);
        if (keys.length > SMALL) f.keys = new Set(keys);
      } else {
        if (keys.has(key)) return pathOf(frames, key);
        keys.add(key);
      }
      f.key = key;
    } else if (c === 0x7b /* { */) {
      frames.push({ keys: [], key: "", index: 0 });
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      frames.push({ keys: null, key: "", index: 0 });
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      const f = frames[frames.length - 1];
      if (f === undefined) continue;
      if (f.keys === null) f.index++;
      else expectKey = true;
    }
  }
  return undefined;
}
