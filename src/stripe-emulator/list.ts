import { invalidRequest } from './errors.js';
import type { FormObject } from './form.js';
import type { ListObject } from './objects.js';
import { assertKnownParams, field, optionalInteger, optionalString } from './params.js';

/** Parameters every Stripe list endpoint takes. */
export const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'created', 'expand'] as const;

interface Listable {
  id: string;
}

/**
 * `created` as Stripe takes it: an exact unix time (`created=…`) or a range
 * (`created[gt]`, `created[gte]`, `created[lt]`, `created[lte]`).
 */
export function createdFilter(params: FormObject): (item: { created: number }) => boolean {
  const value = field(params, 'created');
  if (value === undefined || value === '') return () => true;
  if (typeof value === 'string') {
    const exact = optionalInteger(params, 'created');
    return (item) => item.created === exact;
  }
  if (Array.isArray(value)) throw invalidRequest('Invalid created: expected an integer or a range object', { param: 'created' });
  assertKnownParams(value, ['gt', 'gte', 'lt', 'lte'], 'created');
  const bound = (name: string) => optionalInteger(value, name, { path: `created[${name}]` });
  const gt = bound('gt');
  const gte = bound('gte');
  const lt = bound('lt');
  const lte = bound('lte');
  return (item) =>
    (gt === undefined || item.created > gt) &&
    (gte === undefined || item.created >= gte) &&
    (lt === undefined || item.created < lt) &&
    (lte === undefined || item.created <= lte);
}

/**
 * One page of `items` (already filtered, newest first) in Stripe's list envelope. `starting_after`
 * pages towards older objects, `ending_before` towards newer ones; a cursor that is not in the
 * list is refused like Stripe refuses an unknown id. `objectName` words that error.
 */
export function paginate<T extends Listable>(items: T[], params: FormObject, url: string, objectName: string): ListObject<T> {
  const limit = optionalInteger(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const startingAfter = optionalString(params, 'starting_after');
  const endingBefore = optionalString(params, 'ending_before');
  if (startingAfter && endingBefore) {
    throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', { param: 'ending_before' });
  }
  const indexOf = (id: string, param: string) => {
    const index = items.findIndex((item) => item.id === id);
    if (index === -1) throw invalidRequest(`No such ${objectName}: '${id}'`, { param, code: 'resource_missing' });
    return index;
  };
  if (endingBefore !== undefined) {
    const end = indexOf(endingBefore, 'ending_before');
    const start = Math.max(0, end - limit);
    return { object: 'list', data: items.slice(start, end), has_more: start > 0, url };
  }
  const start = startingAfter === undefined ? 0 : indexOf(startingAfter, 'starting_after') + 1;
  return { object: 'list', data: items.slice(start, start + limit), has_more: start + limit < items.length, url };
}
