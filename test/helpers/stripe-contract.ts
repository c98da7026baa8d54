import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import Stripe from 'stripe';
import { afterEach, expect } from 'vitest';
import { startStripeEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/stripe-emulator/index.js';

/**
 * The Stripe API contract the emulator must keep: test/contract/stripe-api.schema.json, generated
 * from the installed SDK's type definitions (npm run emulator:contract). Every answer the emulator
 * tests get — through `contract.stripe()`, `contract.fetch()` or a webhook handed to
 * `contract.check()` — and every event the emulator recorded is checked against it: every property
 * present, of the right type, enum values of the pinned API version only, nothing unknown.
 * Violations are collected and fail the test that caused them (`useStripeContract`).
 */

export const CONTRACT_PATH = fileURLToPath(new URL('../contract/stripe-api.schema.json', import.meta.url));

interface ContractFile {
  'x-stripe': { sdkVersion: string; apiVersion: string; roots: Record<string, string> };
  definitions: Record<string, unknown>;
}

export type ContractRoot =
  | 'PaymentIntent'
  | 'Charge'
  | 'Refund'
  | 'CheckoutSession'
  | 'LineItem'
  | 'Price'
  | 'PaymentMethod'
  | 'Event'
  | 'WebhookEndpoint'
  | 'DeletedWebhookEndpoint'
  | 'PaymentIntentList'
  | 'PaymentIntentSearchResult'
  | 'ChargeList'
  | 'RefundList'
  | 'CheckoutSessionList'
  | 'LineItemList'
  | 'EventList'
  | 'WebhookEndpointList'
  | 'Error';

const ROOT_OF_OBJECT: Record<string, ContractRoot> = {
  payment_intent: 'PaymentIntent',
  charge: 'Charge',
  refund: 'Refund',
  'checkout.session': 'CheckoutSession',
  item: 'LineItem',
  price: 'Price',
  payment_method: 'PaymentMethod',
  event: 'Event',
  webhook_endpoint: 'WebhookEndpoint',
};

/** Which list a list URL answers with. */
const LIST_OF_URL: [RegExp, ContractRoot][] = [
  [/^\/v1\/payment_intents$/, 'PaymentIntentList'],
  [/^\/v1\/charges$/, 'ChargeList'],
  [/^\/v1\/refunds$/, 'RefundList'],
  [/^\/v1\/checkout\/sessions$/, 'CheckoutSessionList'],
  [/^\/v1\/checkout\/sessions\/[^/]+\/line_items$/, 'LineItemList'],
  [/^\/v1\/events$/, 'EventList'],
  [/^\/v1\/webhook_endpoints$/, 'WebhookEndpointList'],
];

let compiled: { file: ContractFile; validators: Map<ContractRoot, ValidateFunction> } | undefined;

export function contractFile(): ContractFile {
  return loadContract().file;
}

function loadContract(): NonNullable<typeof compiled> {
  if (compiled) return compiled;
  const file = JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as ContractFile;
  const ajv = new Ajv({ strict: true, allErrors: true, discriminator: true, allowUnionTypes: true });
  ajv.addVocabulary(['x-stripe']);
  ajv.addSchema(file, 'stripe');
  const validators = new Map<ContractRoot, ValidateFunction>();
  for (const [root, definition] of Object.entries(file['x-stripe'].roots)) {
    validators.set(root as ContractRoot, ajv.getSchema(`stripe#/definitions/${definition}`) as ValidateFunction);
  }
  compiled = { file, validators };
  return compiled;
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  // With a discriminator the branch's own errors say what is wrong; anyOf alternatives add noise.
  const useful = (errors ?? []).filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  return (useful.length > 0 ? useful : (errors ?? [])).slice(0, 25).map((e) => {
    const detail =
      e.keyword === 'additionalProperties'
        ? `has unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`
        : e.keyword === 'enum'
          ? `${e.message}: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues).slice(0, 200)}`
          : e.message;
    return `${e.instancePath || '(root)'} ${detail}`;
  });
}

/** The problems of `body` as `root`; empty when it conforms. */
export function violationsOf(root: ContractRoot, body: unknown): string[] {
  const validate = loadContract().validators.get(root);
  if (!validate) throw new Error(`no contract root ${root}`);
  return validate(body) ? [] : describe(validate.errors);
}

/** Which root a Stripe answer is, from its shape (and for lists, the URL). */
export function rootOf(body: unknown, path = ''): ContractRoot | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const value = body as Record<string, unknown>;
  if ('error' in value && !('object' in value)) return 'Error';
  const object = value.object;
  if (object === 'list') return LIST_OF_URL.find(([pattern]) => pattern.test(path.split('?')[0] as string))?.[1];
  if (object === 'search_result') return path.startsWith('/v1/payment_intents/search') ? 'PaymentIntentSearchResult' : undefined;
  if (object === 'webhook_endpoint' && value.deleted === true) return 'DeletedWebhookEndpoint';
  return typeof object === 'string' ? ROOT_OF_OBJECT[object] : undefined;
}

type Emulator = Pick<RunningEmulator, 'url' | 'port'>;

export class StripeContract {
  private readonly problems: string[] = [];
  private readonly emulators = new Set<Emulator>();

  /** Records what is wrong with a Stripe answer; `where` says which request it answered. */
  check(body: unknown, where: string, path = ''): void {
    const root = rootOf(body, path);
    if (!root) {
      this.problems.push(`${where}: not a Stripe object the contract knows: ${JSON.stringify(body).slice(0, 200)}`);
      return;
    }
    for (const problem of violationsOf(root, body)) this.problems.push(`${where} (${root}): ${problem}`);
  }

  /** The official SDK against `emulator`; every response body is checked. */
  stripe(emulator: Emulator, key = 'sk_test_contract', config: Stripe.StripeConfig = {}): Stripe {
    this.emulators.add(emulator);
    return new Stripe(key, {
      host: '127.0.0.1',
      port: emulator.port,
      protocol: 'http',
      maxNetworkRetries: 0,
      ...config,
      httpClient: this.checkingClient(Stripe.createNodeHttpClient()),
    });
  }

  /** fetch against the emulator's API: JSON answers of /v1 and of the admin endpoints that return Stripe objects are checked. */
  async fetch(emulator: Emulator, path: string, init: RequestInit = {}): Promise<Response> {
    this.emulators.add(emulator);
    if (path.startsWith('/_emulator/reset')) await this.checkEvents(emulator); // they are about to go
    const response = await fetch(`${emulator.url}${path}`, init);
    const isJson = response.headers.get('content-type')?.includes('application/json');
    const isStripeAnswer = path.startsWith('/v1/') || /^\/_emulator\/(checkout\/sessions|payment_intents)\//.test(path);
    if (isJson && isStripeAnswer && !(path.startsWith('/_emulator/') && !response.ok)) {
      const body: unknown = await response.clone().json();
      this.check(body, `${init.method ?? 'GET'} ${path} → ${response.status}`, path);
    }
    return response;
  }

  /** An admin call (`/_emulator/…`, JSON body: POST, else GET) that must answer 200; its body, checked when it is a Stripe object. */
  async admin(emulator: Emulator, path: string, body?: unknown): Promise<unknown> {
    const response = await this.fetch(emulator, path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    return response.json();
  }

  /** Starts an emulator whose events are all checked before it closes. */
  async startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
    const emulator = await startStripeEmulator(options);
    this.emulators.add(emulator);
    const close = emulator.close.bind(emulator);
    let closed = false;
    return {
      ...emulator,
      setFaults: emulator.setFaults,
      close: async () => {
        if (!closed) {
          closed = true;
          await this.checkEvents(emulator).finally(() => this.emulators.delete(emulator));
        }
        await close();
      },
    };
  }

  /**
   * Checks every event the emulator recorded (what its webhooks carry) through the admin
   * endpoint, which is never faulted and draws nothing from the fault sequence.
   */
  async checkEvents(emulator: Emulator): Promise<void> {
    const response = await fetch(`${emulator.url}/_emulator/events`);
    const { events } = (await response.json()) as { events: { id: string; type: string }[] };
    for (const event of events) this.check(event, `event ${event.id} (${event.type})`);
  }

  /** Checks the events of every emulator still open, and hands back every problem seen so far. */
  async takeViolations(): Promise<string[]> {
    for (const emulator of this.emulators) await this.checkEvents(emulator).catch(() => this.emulators.delete(emulator));
    return this.problems.splice(0);
  }

  private checkingClient(inner: Stripe.HttpClient): Stripe.HttpClient {
    const client = Object.create(inner) as Stripe.HttpClient;
    client.makeRequest = async (...args: Parameters<Stripe.HttpClient['makeRequest']>) => {
      const [, , path, method] = args;
      const response = await inner.makeRequest(...args);
      const toJSON = response.toJSON.bind(response);
      response.toJSON = async () => {
        const body: unknown = await toJSON();
        this.check(body, `${method} ${path} → ${response.getStatusCode()}`, path);
        return body;
      };
      return response;
    };
    return client;
  }
}

/**
 * A contract for one test file: after each test, the events of its emulators are checked and the
 * test fails on any violation it caused.
 */
export function useStripeContract(): StripeContract {
  const contract = new StripeContract();
  afterEach(async () => {
    expect(await contract.takeViolations(), 'answers that break the Stripe API contract').toEqual([]);
  });
  return contract;
}
