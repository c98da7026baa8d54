import { isDeepStrictEqual } from 'node:util';

/**
 * Applies `changes` to `target` and returns what the changed properties were before, as Stripe's
 * `*.updated` events carry it in `data.previous_attributes` (empty when nothing changed).
 * Properties set to `undefined` in `changes` are left alone.
 */
export function applyChanges<T extends object>(target: T, changes: Partial<T>): Partial<T> {
  const previous: Partial<T> = {};
  for (const key of Object.keys(changes) as (keyof T)[]) {
    const value = changes[key];
    if (value === undefined || isDeepStrictEqual(target[key], value)) continue;
    previous[key] = structuredClone(target[key]);
    target[key] = value as T[keyof T];
  }
  return previous;
}

export function changedAnything(previous: object): boolean {
  return Object.keys(previous).length > 0;
}
