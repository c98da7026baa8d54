import { invalidRequest } from './errors.js';
import type { FormObject } from './form.js';
import type { Metadata, SearchResultObject } from './objects.js';
import { optionalInteger, optionalString, requiredString } from './params.js';

/**
 * Stripe's Search Query Language (https://docs.stripe.com/search#search-query-language), as far as
 * the emulator's searches need it: clauses `field:value` (exact, case-insensitive),
 * `field~"value"` (substring), `field>n` / `>=` / `<` / `<=` on numbers, `metadata['key']:'value'`,
 * `-clause` (negation), `field:null` (unset), joined by `AND` or by `OR` (not both). Strings are
 * quoted with ' or ". Unlike Stripe, results are there at once (Stripe's index lags up to a minute).
 */

type Operator = ':' | '~' | '>' | '>=' | '<' | '<=';

interface Clause {
  negated: boolean;
  field: string;
  /** for `metadata['key']` */
  key?: string;
  operator: Operator;
  value: string | number | null;
}

interface Query {
  join: 'AND' | 'OR';
  clauses: Clause[];
}

/** How a searchable field reads an object. */
export interface SearchField<T> {
  kind: 'string' | 'number';
  read: (item: T) => string | number | null;
}

const MAX_CLAUSES = 10;

function queryError(detail: string): never {
  throw invalidRequest(`Invalid query: ${detail}. See https://docs.stripe.com/search#search-query-language.`, { param: 'query' });
}

const CLAUSE =
  /^(-)?([a-z_]+)(?:\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\])?(>=|<=|:|~|>|<)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)/;

function unquote(text: string): string {
  return text.slice(1, -1).replace(/\\(.)/g, '$1');
}

export function parseQuery(text: string): Query {
  const clauses: Clause[] = [];
  const joins = new Set<'AND' | 'OR'>();
  let rest = text.trim();
  if (rest === '') queryError('the query is empty');
  while (rest !== '') {
    const match = CLAUSE.exec(rest);
    if (!match) queryError(`cannot read "${rest.slice(0, 40)}"; a clause looks like status:'succeeded'`);
    const [whole, negated, field, singleKey, doubleKey, operator, raw] = match as unknown as string[];
    const key = singleKey ?? doubleKey;
    const quoted = raw?.startsWith("'") || raw?.startsWith('"');
    let value: string | number | null;
    if (quoted) value = unquote(raw as string);
    else if (raw === 'null') value = null;
    else if (/^-?\d+$/.test(raw as string)) value = Number(raw);
    else queryError(`the value ${raw} must be quoted`);
    clauses.push({
      negated: negated === '-',
      field: field as string,
      ...(key !== undefined ? { key: key.replace(/\\(.)/g, '$1') } : {}),
      operator: operator as Operator,
      value,
    });
    rest = rest.slice((whole as string).length).trimStart();
    if (rest === '') break;
    const join = /^(AND|OR)\s+/.exec(rest);
    if (!join) queryError(`expected AND or OR before "${rest.slice(0, 40)}"`);
    joins.add(join[1] as 'AND' | 'OR');
    rest = rest.slice(join[0].length);
    if (rest === '') queryError(`nothing follows ${join[1]}`);
  }
  if (joins.size > 1) queryError('a query cannot mix AND and OR');
  if (clauses.length > MAX_CLAUSES) queryError(`a query can have at most ${MAX_CLAUSES} clauses`);
  return { join: joins.has('OR') ? 'OR' : 'AND', clauses };
}

function clauseMatcher<T extends { metadata: Metadata | null }>(
  clause: Clause,
  fields: Record<string, SearchField<T>>,
  resource: string,
): (item: T) => boolean {
  const isMetadata = clause.field === 'metadata';
  if (isMetadata && clause.key === undefined) queryError("metadata takes a key: metadata['key']:'value'");
  const field: SearchField<T> | undefined = isMetadata
    ? { kind: 'string', read: (item) => item.metadata?.[clause.key as string] ?? null }
    : Object.hasOwn(fields, clause.field)
      ? fields[clause.field]
      : undefined;
  if (!field) {
    queryError(`${clause.field} is not a search field of ${resource}; the fields are ${[...Object.keys(fields), 'metadata'].join(', ')}`);
  }
  if (clause.key !== undefined && !isMetadata) queryError(`only metadata takes a key, not ${clause.field}`);
  const { operator, value } = clause;
  const comparison = operator !== ':' && operator !== '~';
  if (comparison && field.kind !== 'number') queryError(`${clause.field} cannot be compared with ${operator}`);
  if (comparison && typeof value !== 'number') queryError(`${operator} takes a number`);
  if (operator === '~' && (field.kind !== 'string' || typeof value !== 'string' || value.length < 3)) {
    queryError(`~ takes a quoted string of at least 3 characters, on a text field`);
  }
  if (field.kind === 'number' && typeof value === 'string') queryError(`${clause.field} takes a number`);
  const matches = (item: T): boolean => {
    const actual = field.read(item);
    if (value === null) return actual === null;
    if (actual === null) return false;
    if (typeof value === 'number') {
      const n = Number(actual);
      if (operator === '>') return n > value;
      if (operator === '>=') return n >= value;
      if (operator === '<') return n < value;
      if (operator === '<=') return n <= value;
      return n === value;
    }
    const a = String(actual).toLowerCase();
    const v = value.toLowerCase();
    return operator === '~' ? a.includes(v) : a === v;
  };
  return clause.negated ? (item) => !matches(item) : matches;
}

/** A predicate for `query` over objects with `fields` (and `metadata`); `resource` words the errors. */
export function searchMatcher<T extends { metadata: Metadata | null }>(
  query: string,
  fields: Record<string, SearchField<T>>,
  resource: string,
): (item: T) => boolean {
  const parsed = parseQuery(query);
  const matchers = parsed.clauses.map((clause) => clauseMatcher(clause, fields, resource));
  return parsed.join === 'AND' ? (item) => matchers.every((m) => m(item)) : (item) => matchers.some((m) => m(item));
}

function pageToken(afterId: string): string {
  return Buffer.from(JSON.stringify({ after: afterId })).toString('base64url');
}

function afterIdOf(token: string): string {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof decoded.after === 'string') return decoded.after;
  } catch {
    // fall through
  }
  throw invalidRequest(`Invalid page: ${token.slice(0, 100)}. Pass the next_page of a previous search result.`, { param: 'page' });
}

/** The `query` of a search request, required and non-empty as Stripe's. */
export function searchQuery(params: FormObject): string {
  return requiredString(params, 'query', { maxLength: 10_000 });
}

/**
 * One page of the objects in `all` (newest first) that `matches`, in Stripe's search result
 * envelope: `next_page` is the `page` that continues after this one, even if the last object on
 * it has changed since. `total_count` only when expanded, as in Stripe.
 */
export function searchPage<T extends { id: string }>(
  all: T[],
  matches: (item: T) => boolean,
  params: FormObject,
  url: string,
  withTotalCount: boolean,
): SearchResultObject<T> {
  const limit = optionalInteger(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const page = optionalString(params, 'page');
  let start = 0;
  if (page !== undefined) {
    const after = afterIdOf(page);
    const index = all.findIndex((item) => item.id === after);
    if (index === -1)
      throw invalidRequest(`Invalid page: ${page.slice(0, 100)}. It continues after an object that does not exist.`, { param: 'page' });
    start = index + 1;
  }
  const data: T[] = [];
  let hasMore = false;
  for (let i = start; i < all.length; i++) {
    const item = all[i] as T;
    if (!matches(item)) continue;
    if (data.length === limit) {
      hasMore = true;
      break;
    }
    data.push(item);
  }
  return {
    object: 'search_result',
    data,
    has_more: hasMore,
    next_page: hasMore ? pageToken((data[data.length - 1] as T).id) : null,
    url,
    ...(withTotalCount ? { total_count: all.filter(matches).length } : {}),
  };
}
