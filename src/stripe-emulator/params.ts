import type Stripe from 'stripe';
import { invalidRequest, missingParam } from './errors.js';
import type { FormObject, FormValue } from './form.js';

/**
 * Reading request parameters the way Stripe validates them: every problem is a 400
 * invalid_request_error naming the offending `param`, with Stripe's wording and codes.
 * `path` is the parameter's full name as the client sent it (e.g. `line_items[0][quantity]`).
 */

export function field(params: FormObject, name: string): FormValue | undefined {
  return Object.hasOwn(params, name) ? params[name] : undefined;
}

export function childPath(parent: string, name: string | number): string {
  return parent ? `${parent}[${name}]` : String(name);
}

function expectString(value: FormValue, path: string): string {
  if (typeof value !== 'string') throw invalidRequest(`Invalid string: ${JSON.stringify(value).slice(0, 100)}`, { param: path });
  return value;
}

function emptyNotAllowed(path: string) {
  return invalidRequest(
    `You passed an empty string for '${path}'. We assume empty values are an attempt to unset a parameter; however '${path}' cannot be unset. You should remove '${path}' from your request or supply a non-empty value.`,
    { param: path, code: 'parameter_invalid_empty' },
  );
}

/** Refuses parameters the endpoint does not take, as Stripe does: a typo must not pass silently. */
export function assertKnownParams(params: FormObject, allowed: readonly string[], parent = ''): void {
  for (const name of Object.keys(params)) {
    if (!allowed.includes(name)) {
      const path = childPath(parent, name);
      throw invalidRequest(`Received unknown parameter: ${path}`, { param: path, code: 'parameter_unknown' });
    }
  }
}

/** An optional string; an empty string counts as absent (Stripe's "unset"). */
export function optionalString(params: FormObject, name: string, { path = name, maxLength = 5000 } = {}): string | undefined {
  const value = field(params, name);
  if (value === undefined) return undefined;
  const text = expectString(value, path);
  if (text === '') return undefined;
  if (text.length > maxLength)
    throw invalidRequest(`Invalid string: ${text.slice(0, 20)}...; must be at most ${maxLength} characters`, { param: path });
  return text;
}

export function requiredString(params: FormObject, name: string, options: { path?: string; maxLength?: number } = {}): string {
  const path = options.path ?? name;
  const value = field(params, name);
  if (value === undefined) throw missingParam(path);
  if (value === '') throw emptyNotAllowed(path);
  return optionalString(params, name, { ...options, path }) as string;
}

export function optionalInteger(
  params: FormObject,
  name: string,
  { path = name, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = {},
): number | undefined {
  const value = field(params, name);
  if (value === undefined || value === '') return undefined;
  const text = expectString(value, path);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw invalidRequest(`Invalid integer: ${text.slice(0, 100)}`, { param: path, code: 'parameter_invalid_integer' });
  }
  const n = Number(text);
  if (n < min)
    throw invalidRequest(`This value must be greater than or equal to ${min}.`, { param: path, code: 'parameter_invalid_integer' });
  if (n > max) throw invalidRequest(`This value must be less than or equal to ${max}.`, { param: path, code: 'parameter_invalid_integer' });
  return n;
}

export function requiredInteger(params: FormObject, name: string, options: { path?: string; min?: number; max?: number } = {}): number {
  if (field(params, name) === undefined) throw missingParam(options.path ?? name);
  const n = optionalInteger(params, name, options);
  if (n === undefined) throw emptyNotAllowed(options.path ?? name);
  return n;
}

export function optionalBoolean(params: FormObject, name: string, { path = name } = {}): boolean | undefined {
  const value = field(params, name);
  if (value === undefined || value === '') return undefined;
  const text = expectString(value, path);
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw invalidRequest(`Invalid boolean: ${text.slice(0, 100)}`, { param: path });
}

export function optionalEnum<T extends string>(
  params: FormObject,
  name: string,
  values: readonly T[],
  { path = name } = {},
): T | undefined {
  const text = optionalString(params, name, { path });
  if (text === undefined) return undefined;
  if (!(values as readonly string[]).includes(text)) {
    throw invalidRequest(`Invalid ${path}: must be one of ${values.join(', ')}`, { param: path });
  }
  return text as T;
}

/** Three-letter ISO currency code, lower-cased as Stripe returns it. */
export function currency(params: FormObject, name: string, { path = name, required = true } = {}): string | undefined {
  const value = required ? requiredString(params, name, { path }) : optionalString(params, name, { path });
  if (value === undefined) return undefined;
  if (!/^[A-Za-z]{3}$/.test(value)) throw invalidRequest(`Invalid currency: ${value.slice(0, 20)}`, { param: path });
  return value.toLowerCase();
}

/** A nested object parameter (`name[key]=…`). */
export function optionalObject(params: FormObject, name: string, { path = name } = {}): FormObject | undefined {
  const value = field(params, name);
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' || Array.isArray(value)) {
    throw invalidRequest('Invalid object', { param: path });
  }
  return value;
}

/** An array parameter (`name[0]=…` or `name[]=…`). */
export function optionalArray(params: FormObject, name: string, { path = name } = {}): FormValue[] | undefined {
  const value = field(params, name);
  if (value === undefined || value === '') return undefined;
  if (!Array.isArray(value)) throw invalidRequest('Invalid array', { param: path });
  return value;
}

export function optionalStringArray(params: FormObject, name: string, { path = name } = {}): string[] | undefined {
  return optionalArray(params, name, { path })?.map((item, i) => expectString(item, childPath(path, i)));
}

export function optionalObjectArray(params: FormObject, name: string, { path = name } = {}): FormObject[] | undefined {
  return optionalArray(params, name, { path })?.map((item, i) => {
    if (typeof item === 'string' || Array.isArray(item)) throw invalidRequest('Invalid object', { param: childPath(path, i) });
    return item;
  });
}

const METADATA_MAX_KEYS = 50;

/**
 * Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500. An empty value
 * means "remove this key" on update (on create it is simply not stored); `metadata=` (null here)
 * removes every key.
 */
export function metadata(params: FormObject, name = 'metadata', { path = name } = {}): Record<string, string> | null | undefined {
  const value = field(params, name);
  if (value === undefined) return undefined;
  if (value === '') return null;
  if (typeof value === 'string' || Array.isArray(value)) throw invalidRequest('Invalid object', { param: path });
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    const itemPath = childPath(path, key);
    const text = expectString(item, itemPath);
    if (key.length > 40) throw invalidRequest(`Metadata keys can have up to 40 characters.`, { param: itemPath });
    if (text.length > 500) throw invalidRequest(`Metadata values can have up to 500 characters.`, { param: itemPath });
    out[key] = text;
  }
  if (Object.keys(out).length > METADATA_MAX_KEYS)
    throw invalidRequest(`Metadata can have up to ${METADATA_MAX_KEYS} keys.`, { param: path });
  return out;
}

/** Applies a metadata update: keys with an empty value are removed; null removes them all. */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string> | null | undefined): Record<string, string> {
  if (update === undefined) return current;
  if (update === null) return {};
  const out = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === '') delete out[key];
    else out[key] = value;
  }
  return out;
}

/** The `expand[]` paths requested. */
export function expandPaths(params: FormObject): string[] {
  return optionalStringArray(params, 'expand') ?? [];
}

/** A string Stripe lets you unset with an empty value: undefined when absent, null when unset. */
export function unsettableString(params: FormObject, name: string, { path = name, maxLength = 5000 } = {}): string | null | undefined {
  if (field(params, name) === '') return null;
  return optionalString(params, name, { path, maxLength });
}

const ADDRESS_FIELDS = ['city', 'country', 'line1', 'line2', 'postal_code', 'state'] as const;

/** A postal address parameter (`…[address][line1]=…`); fields left out are null. */
export function address(params: FormObject, name: string, { path = name } = {}): Stripe.Address | undefined {
  const value = optionalObject(params, name, { path });
  if (!value) return undefined;
  assertKnownParams(value, ADDRESS_FIELDS, path);
  const read = (key: (typeof ADDRESS_FIELDS)[number]) => optionalString(value, key, { path: childPath(path, key) }) ?? null;
  return {
    city: read('city'),
    country: read('country'),
    line1: read('line1'),
    line2: read('line2'),
    postal_code: read('postal_code'),
    state: read('state'),
  };
}

/** `shipping[name]`, `shipping[address][…]`, …: undefined when absent, null when unset with `shipping=`. */
export function shipping(params: FormObject, name = 'shipping'): Stripe.PaymentIntent.Shipping | null | undefined {
  if (field(params, name) === '') return null;
  const value = optionalObject(params, name);
  if (!value) return undefined;
  assertKnownParams(value, ['name', 'address', 'carrier', 'phone', 'tracking_number'], name);
  const addressPath = childPath(name, 'address');
  const shippingAddress = address(value, 'address', { path: addressPath });
  if (!shippingAddress) throw missingParam(addressPath);
  return {
    address: shippingAddress,
    carrier: optionalString(value, 'carrier', { path: childPath(name, 'carrier') }) ?? null,
    name: requiredString(value, 'name', { path: childPath(name, 'name') }),
    phone: optionalString(value, 'phone', { path: childPath(name, 'phone') }) ?? null,
    tracking_number: optionalString(value, 'tracking_number', { path: childPath(name, 'tracking_number') }) ?? null,
  };
}

/**
 * `statement_descriptor_suffix`: at most 22 characters, at least one letter, none of `<>\'"*`
 * (Stripe's rules for what a card statement can show).
 */
export function descriptorSuffix(params: FormObject, name = 'statement_descriptor_suffix'): string | undefined {
  const value = optionalString(params, name);
  if (value === undefined) return undefined;
  if (value.length > 22 || !/[A-Za-z]/.test(value) || /[<>\\'"*]/.test(value)) {
    throw invalidRequest(
      `Invalid ${name}: it must be at most 22 characters, contain at least one letter and none of the special characters < > \\ ' " *.`,
      { param: name },
    );
  }
  return value;
}
