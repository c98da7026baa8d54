/**
 * Stripe's wire format for request parameters: `application/x-www-form-urlencoded` bodies (and
 * query strings) whose keys nest with brackets — `metadata[order_id]=o1`,
 * `line_items[0][price_data][unit_amount]=2000`, `expand[]=latest_charge`. The official SDKs send
 * arrays with explicit indices (`expand[0]=…`); curl users write `expand[]=…`. Both parse to arrays.
 */

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

export class FormParseError extends Error {}

/** Deeper nesting than any Stripe parameter needs is refused rather than walked. */
const MAX_DEPTH = 8;
const KEY_SHAPE = /^([^[\]]+)((?:\[[^[\]]*\])*)$/;

type Tree = Map<string, Tree | string>;

export function parseForm(text: string): FormObject {
  const root: Tree = new Map();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1));
    insert(root, splitKey(key), value, key);
  }
  return toPlain(root) as FormObject;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new FormParseError(`Invalid URL encoding: ${text.slice(0, 100)}`);
  }
}

function splitKey(key: string): string[] {
  const match = KEY_SHAPE.exec(key);
  if (!match) throw new FormParseError(`Invalid parameter name: ${key.slice(0, 100)}`);
  const segments = [match[1] as string, ...[...(match[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1] as string)];
  if (segments.length > MAX_DEPTH) throw new FormParseError(`Parameter nested too deeply: ${key.slice(0, 100)}`);
  if (segments.includes('__proto__')) throw new FormParseError(`Invalid parameter name: ${key.slice(0, 100)}`);
  return segments;
}

/** `a[]` appends: its index is the next free position of the array being built. */
function resolveSegment(segment: string, node: Tree): string {
  return segment === '' ? String(node.size) : segment;
}

function insert(root: Tree, path: string[], value: string, key: string): void {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const segment = resolveSegment(path[i] as string, node);
    let child = node.get(segment);
    if (child === undefined) {
      child = new Map();
      node.set(segment, child);
    }
    if (typeof child === 'string') throw new FormParseError(`Parameter ${key} conflicts with a plain value of the same name`);
    node = child;
  }
  const last = resolveSegment(path[path.length - 1] as string, node);
  if (node.get(last) instanceof Map) throw new FormParseError(`Parameter ${key} conflicts with nested values of the same name`);
  node.set(last, value); // a repeated plain key keeps its last value
}

/** Maps become objects, except maps keyed 0..n (from `[0]` or `[]`), which become arrays. */
function toPlain(node: Tree | string): FormValue {
  if (typeof node === 'string') return node;
  const keys = [...node.keys()];
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => toPlain(node.get(k) as Tree | string));
  }
  return Object.fromEntries(keys.map((k) => [k, toPlain(node.get(k) as Tree | string)]));
}

/** The query string of a raw request URL, parsed the same way as a body. */
export function parseQuery(url: string): FormObject {
  const q = url.indexOf('?');
  return q === -1 ? {} : parseForm(url.slice(q + 1));
}
