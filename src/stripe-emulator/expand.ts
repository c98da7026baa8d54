import type { EmulatorContext } from './context.js';
import { invalidRequest } from './errors.js';
import type { ListObject } from './objects.js';
import { paymentMethodObject } from './payment-methods.js';

/**
 * `expand[]`: replaces id references with the objects they name, along dotted paths
 * (`latest_charge`, `payment_intent.latest_charge`; on lists `data.latest_charge`). Only the
 * fields Stripe lets you expand on each object are expandable; anything else is refused as Stripe does.
 */

const EXPANDABLE: Record<string, readonly string[]> = {
  payment_intent: ['latest_charge', 'payment_method'],
  charge: ['payment_intent'],
  refund: ['charge', 'payment_intent', 'payment_method'],
  'checkout.session': ['payment_intent', 'line_items'],
};

type JsonObject = Record<string, unknown>;

function resolveId(ctx: EmulatorContext, id: string): unknown {
  const { store } = ctx;
  if (id.startsWith('pi_')) return store.paymentIntents.get(id);
  if (id.startsWith('ch_')) return store.charges.get(id);
  if (id.startsWith('re_')) return store.refunds.get(id);
  if (id.startsWith('cs_')) return store.checkoutSessions.get(id);
  if (id.startsWith('pm_')) return paymentMethodObject(id, ctx.clock.nowSeconds()) ?? undefined;
  return undefined;
}

function lineItemsList(ctx: EmulatorContext, sessionId: string): ListObject<unknown> {
  const items = ctx.store.checkoutExtras.get(sessionId)?.lineItems ?? [];
  return { object: 'list', data: items, has_more: false, url: `/v1/checkout/sessions/${sessionId}/line_items` };
}

function expandPath(ctx: EmulatorContext, target: JsonObject, segments: string[], fullPath: string): void {
  const [head, ...rest] = segments as [string, ...string[]];
  const objectType = String(target.object);
  if (!EXPANDABLE[objectType]?.includes(head)) {
    throw invalidRequest(`This property cannot be expanded (${fullPath}).`, { param: 'expand' });
  }
  let value = target[head];
  if (objectType === 'checkout.session' && head === 'line_items') value = lineItemsList(ctx, String(target.id));
  else if (typeof value === 'string') value = structuredClone(resolveId(ctx, value) ?? value);
  target[head] = value;
  if (rest.length > 0 && value && typeof value === 'object') expandPath(ctx, value as JsonObject, rest, fullPath);
}

/** A copy of `object` with `paths` expanded; the stored object is never changed. */
export function expandObject<T>(ctx: EmulatorContext, object: T, paths: readonly string[]): T {
  if (paths.length === 0) return object;
  const copy = structuredClone(object) as JsonObject;
  for (const path of paths) expandPath(ctx, copy, path.split('.'), path);
  return copy as T;
}

/** Expansions on a list (or a search result) name the items' fields as `data.<field>`. */
export function expandList<L extends { data: unknown[] }>(ctx: EmulatorContext, list: L, paths: readonly string[]): L {
  if (paths.length === 0) return list;
  const itemPaths = paths.map((path) => {
    if (!path.startsWith('data.')) throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    return path.slice('data.'.length);
  });
  return { ...list, data: list.data.map((item) => expandObject(ctx, item, itemPaths)) };
}
