import { UsageError } from '../../errors.js';
import { globMatches } from './glob.js';
import { textOf, type RawMessage, type TailRecord } from './record.js';

/** What `tail` keeps; every given filter must match. Globs use `*` and `?`. */
export interface TailFilters {
  key?: string;
  /** the CloudEvents type (`ce_type`) */
  type?: string;
  headers: { name: string; glob: string }[];
  partitions?: number[];
  /** a field of the JSON value at a dotted path, compared (as text) with a glob */
  where: { path: string[]; glob: string }[];
  /** text the value must contain */
  grep?: string;
}

export const noFilters = (): TailFilters => ({ headers: [], where: [] });

function splitPair(text: string, flag: string, what: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`${flag} takes ${what}=<value>, got "${text}"`);
  return [text.slice(0, at), text.slice(at + 1)];
}

export function parseHeaderFilter(text: string): { name: string; glob: string } {
  const [name, glob] = splitPair(text, '--header', '<name>');
  return { name, glob };
}

export function parseWhere(text: string): { path: string[]; glob: string } {
  const [path, glob] = splitPair(text, '--where', '<field.path>');
  return { path: path.split('.'), glob };
}

const headerText = (message: RawMessage, name: string): string | undefined => {
  const value = message.headers[name];
  const one = Array.isArray(value) ? value[value.length - 1] : value;
  return one === undefined ? undefined : one.toString();
};

/**
 * The filters that need no value: checked on the raw message before its value is decoded, so a
 * big value a filter rules out is never parsed.
 */
export function matchesEnvelope(filters: TailFilters, message: RawMessage): boolean {
  if (filters.partitions && !filters.partitions.includes(message.partition)) return false;
  if (filters.key !== undefined && (message.key === null || !globMatches(filters.key, message.key.toString()))) return false;
  if (filters.type !== undefined) {
    const type = headerText(message, 'ce_type');
    if (type === undefined || !globMatches(filters.type, type)) return false;
  }
  for (const { name, glob } of filters.headers) {
    const value = headerText(message, name);
    if (value === undefined || !globMatches(glob, value)) return false;
  }
  return true;
}

function fieldAt(data: unknown, path: string[]): unknown {
  let current: unknown = data;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** The filters on the value, on the decoded record. */
export function matchesValue(filters: TailFilters, record: TailRecord, rawValue: Buffer | null): boolean {
  for (const { path, glob } of filters.where) {
    if (record.valueFormat !== 'json') return false;
    const value = fieldAt(record.data, path);
    if (value === undefined || !globMatches(glob, asText(value))) return false;
  }
  if (filters.grep !== undefined) {
    const text = textOf(record.valueFormat === 'binary' ? undefined : (rawValue?.toString('utf8') ?? ''));
    if (text === undefined || !text.includes(filters.grep)) return false;
  }
  return true;
}
