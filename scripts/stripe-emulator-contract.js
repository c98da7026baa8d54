#!/usr/bin/env node
// `npm run emulator:contract` turns the installed stripe SDK's own type definitions into the JSON
// Schema the Stripe emulator's answers are checked against (test/contract/stripe-api.schema.json).
// Run it after upgrading the SDK; a test fails while the checked-in file and the SDK disagree.
//
// How the SDK's TypeScript becomes JSON Schema:
// - every property is required unless the SDK marks it optional (`?`): Stripe returns every
//   property of an object, null when unset; `| null` allows null;
// - string-literal unions become enums of exactly those values (the SDK's `| OtherString`, its
//   escape hatch for values newer than the pinned API version, is left out);
// - objects allow no property the SDK does not declare (an interface that declares none is the
//   SDK's free-form hash, e.g. `next_action.use_stripe_sdk`);
// - an expandable field (`string | Charge`) takes an id, or the object when the emulator has that
//   resource; objects of resources the emulator does not have (Customer, Account, ...) are never
//   valid, so only their id (or null, or an empty array) is;
// - Stripe's `Decimal` is a decimal string on the wire.
import { writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CONTRACT_FILE = join(ROOT, 'test', 'contract', 'stripe-api.schema.json');

/**
 * What the emulator answers with, as SDK types. The keys only order the roots; definitions are
 * named after the SDK's own (namespaced) type names.
 */
const CONTRACT_SOURCE = `
import type Stripe from 'stripe';
export interface StripeEmulatorContract {
  PaymentIntent: Stripe.PaymentIntent;
  Charge: Stripe.Charge;
  Refund: Stripe.Refund;
  CheckoutSession: Stripe.Checkout.Session;
  LineItem: Stripe.LineItem;
  Price: Stripe.Price;
  PaymentMethod: Stripe.PaymentMethod;
  Event: Stripe.Event;
  WebhookEndpoint: Stripe.WebhookEndpoint;
  DeletedWebhookEndpoint: Stripe.DeletedWebhookEndpoint;
  PaymentIntentList: Stripe.ApiList<Stripe.PaymentIntent>;
  PaymentIntentSearchResult: Stripe.ApiSearchResult<Stripe.PaymentIntent>;
  ChargeList: Stripe.ApiList<Stripe.Charge>;
  RefundList: Stripe.ApiList<Stripe.Refund>;
  CheckoutSessionList: Stripe.ApiList<Stripe.Checkout.Session>;
  LineItemList: Stripe.ApiList<Stripe.LineItem>;
  EventList: Stripe.ApiList<Stripe.Event>;
  WebhookEndpointList: Stripe.ApiList<Stripe.WebhookEndpoint>;
  /** Stripe's error body; the SDK types the error object as a PaymentIntent's last_payment_error */
  Error: { error: Stripe.PaymentIntent.LastPaymentError };
}
`;

const NEVER = false;
const DECIMAL = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$' };

const ENTRY = join(ROOT, '__stripe_emulator_contract__.ts');
const OPTIONS = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
  types: [],
};

/** The installed SDK, as TypeScript resolves `import 'stripe'` from this project: its version and API version. */
function installedSdk() {
  const resolved = ts.resolveModuleName('stripe', ENTRY, OPTIONS, ts.sys, undefined, undefined, ts.ModuleKind.ESNext).resolvedModule;
  if (!resolved) throw new Error('cannot find the stripe SDK: run npm ci');
  const typesDir = dirname(resolved.resolvedFileName);
  let dir = typesDir;
  let manifest;
  while (!manifest || manifest.name !== 'stripe') {
    if (dirname(dir) === dir) throw new Error(`no package.json of stripe above ${typesDir}`);
    const text = ts.sys.readFile(join(dir, 'package.json'));
    manifest = text ? JSON.parse(text) : undefined;
    if (!manifest || manifest.name !== 'stripe') dir = dirname(dir);
  }
  const pinned = /ApiVersion\s*=\s*["']([^"']+)["']/.exec(ts.sys.readFile(join(typesDir, 'apiVersion.d.ts')) ?? '');
  if (!pinned) throw new Error(`cannot find the API version the SDK pins in ${join(typesDir, 'apiVersion.d.ts')}`);
  return { typesDir, version: manifest.version, apiVersion: pinned[1] };
}

/** The contract as a JSON Schema object, built from the installed SDK. */
export function generateContract() {
  const { typesDir, version, apiVersion } = installedSdk();
  const entry = ENTRY;
  const options = OPTIONS;
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === entry ? ts.createSourceFile(name, CONTRACT_SOURCE, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === entry || fileExists.call(host, name);
  host.readFile = (name) => (name === entry ? CONTRACT_SOURCE : readFile.call(host, name));
  const program = ts.createProgram([entry], options, host);
  const problems = ts.getPreEmitDiagnostics(program, program.getSourceFile(entry));
  if (problems.length > 0) {
    throw new Error(`the SDK's types do not compile: ${ts.flattenDiagnosticMessageText(problems[0].messageText, '\n')}`);
  }
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  const contractSymbol = checker.getExportsOfModule(checker.getSymbolAtLocation(source)).find((s) => s.name === 'StripeEmulatorContract');
  const contract = checker.getDeclaredTypeOfSymbol(contractSymbol);
  const walker = new SchemaWalker(checker, join(typesDir, 'resources'));
  const rootProperties = checker.getPropertiesOfType(contract);
  for (const property of rootProperties) {
    const type = checker.getTypeOfSymbol(property);
    for (const member of type.isUnion() ? type.types : [type]) {
      const object = objectLiteral(checker, member);
      if (object !== undefined) walker.emulated.add(object);
    }
  }
  const roots = {};
  const inline = {};
  for (const property of rootProperties) {
    const schema = walker.schemaOf(checker.getTypeOfSymbol(property));
    if (schema.$ref) roots[property.name] = refName(schema.$ref);
    else {
      inline[property.name] = schema;
      roots[property.name] = property.name;
    }
  }
  const definitions = walker.reachable([...Object.values(roots).map((name) => ({ $ref: `#/definitions/${name}` }))], inline);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment: `Generated by scripts/stripe-emulator-contract.js from the type definitions of stripe ${version}. Do not edit: run npm run emulator:contract.`,
    'x-stripe': { sdkVersion: version, apiVersion, roots },
    definitions,
  };
}

export function contractText(contract) {
  return `${JSON.stringify(contract, null, 2)}\n`;
}

class SchemaWalker {
  constructor(checker, resourcesDir) {
    this.checker = checker;
    this.resourcesDir = resourcesDir;
    /** definition name → schema */
    this.definitions = new Map();
    /** definition name → the type it was made from, to catch two types with one name */
    this.owners = new Map();
    this.identities = [];
    /** the `object` of every resource the emulator has: only those may appear as objects */
    this.emulated = new Set();
  }

  schemaOf(type) {
    const checker = this.checker;
    if (type.isUnion())
      return type.aliasSymbol && type.types.some((t) => t.flags & ts.TypeFlags.Object)
        ? this.named(type, () => this.unionSchema(type.types))
        : this.unionSchema(type.types);
    const flags = type.flags;
    if (flags & ts.TypeFlags.Null) return { type: 'null' };
    if (flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void | ts.TypeFlags.Never)) return NEVER;
    if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return {};
    if (flags & ts.TypeFlags.StringLiteral) return { type: 'string', enum: [type.value] };
    if (flags & ts.TypeFlags.NumberLiteral) return { type: 'number', enum: [type.value] };
    if (flags & ts.TypeFlags.BooleanLiteral) return { type: 'boolean', enum: [checker.typeToString(type) === 'true'] };
    if (flags & ts.TypeFlags.String) return { type: 'string' };
    if (flags & ts.TypeFlags.Number) return { type: 'number' };
    if (flags & ts.TypeFlags.Boolean) return { type: 'boolean' };
    if (isOtherString(type)) return { type: 'string' };
    if (this.isDecimal(type)) return DECIMAL;
    if (checker.isArrayType(type)) return { type: 'array', items: this.schemaOf(checker.getTypeArguments(type)[0]) };
    if (flags & ts.TypeFlags.Object) return this.objectSchema(type);
    throw new Error(`cannot express ${checker.typeToString(type)} in JSON Schema`);
  }

  /**
   * `A | B | null`: literals gather into one enum (without OtherString, which only widens the
   * TypeScript type); an expandable `string | Resource` keeps the object only for resources the
   * emulator has; alternatives that can never be valid are dropped.
   */
  unionSchema(members) {
    const literals = [];
    const options = [];
    let nullable = false;
    let otherString = false;
    let plainString = false;
    const booleans = new Set();
    for (const member of members) {
      const flags = member.flags;
      if (flags & ts.TypeFlags.Null) nullable = true;
      else if (flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)) continue;
      else if (flags & (ts.TypeFlags.StringLiteral | ts.TypeFlags.NumberLiteral)) literals.push(member.value);
      else if (flags & ts.TypeFlags.BooleanLiteral) booleans.add(this.checker.typeToString(member) === 'true');
      else if (isOtherString(member)) otherString = true;
      else if (flags & ts.TypeFlags.String) plainString = true;
      else options.push(this.schemaOf(member));
    }
    if (booleans.size === 2) options.push({ type: 'boolean' });
    else if (booleans.size === 1) options.push({ type: 'boolean', enum: [...booleans] });
    if (plainString) options.push({ type: 'string' });
    else if (literals.length > 0) options.push({ type: typeof literals[0], enum: literals });
    else if (otherString) options.push({ type: 'string' });
    const possible = options.filter((option) => this.satisfiable(option));
    if (nullable) possible.push({ type: 'null' });
    if (possible.length === 0) return NEVER;
    if (possible.length === 1) return possible[0];
    return this.discriminated(possible) ?? simpleTypes(possible) ?? { anyOf: possible };
  }

  /** Events: one branch per `type`, so a failure names the properties of the right event. */
  discriminated(options) {
    const tags = options.map((option) => {
      const def = option.$ref ? this.definitions.get(refName(option.$ref)) : undefined;
      const tag = def?.properties?.type;
      return def?.required?.includes('type') && tag?.enum?.length === 1 ? tag.enum[0] : undefined;
    });
    if (tags.some((tag) => typeof tag !== 'string') || new Set(tags).size !== tags.length) return undefined;
    return {
      type: 'object',
      properties: { type: { type: 'string' } },
      required: ['type'],
      discriminator: { propertyName: 'type' },
      oneOf: options,
    };
  }

  objectSchema(type) {
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const object = symbol && this.resourceObject(symbol);
    if (object !== undefined && !this.emulated.has(object)) return NEVER;
    return this.named(type, () => this.objectBody(type));
  }

  /**
   * A reference to the definition of a named type, built on first use; anonymous types are
   * inlined, and impossible ones are NEVER.
   */
  named(type, build) {
    const name = this.nameOf(type);
    if (name === undefined) return build();
    const identity = this.identityOf(type);
    const owner = this.owners.get(name);
    if (owner !== undefined && owner !== identity) throw new Error(`two SDK types are both named ${name}`);
    if (owner === undefined) {
      this.owners.set(name, identity);
      this.definitions.set(name, {}); // placeholder: recursive types refer to it while it is built
      this.definitions.set(name, build());
    }
    return this.definitions.get(name) === NEVER ? NEVER : { $ref: `#/definitions/${name}` };
  }

  /** Two type objects are one named type when their symbols and their type arguments' symbols agree. */
  identityOf(type) {
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const args = type.aliasSymbol
      ? (type.aliasTypeArguments ?? [])
      : type.objectFlags & ts.ObjectFlags.Reference
        ? this.checker.getTypeArguments(type)
        : [];
    const key = [symbol, ...args.map((t) => t.aliasSymbol ?? t.getSymbol() ?? t)];
    const known = this.identities.find((other) => other.length === key.length && other.every((part, i) => part === key[i]));
    if (known) return known;
    this.identities.push(key);
    return key;
  }

  /** The object's schema, or NEVER as soon as a required property can never be valid (required ones go first: it is cheap). */
  objectBody(type) {
    const checker = this.checker;
    const all = checker.getPropertiesOfType(type);
    const isOptional = (property) => (property.flags & ts.SymbolFlags.Optional) !== 0;
    const schemas = new Map();
    for (const property of [...all.filter((p) => !isOptional(p)), ...all.filter(isOptional)]) {
      const schema = this.schemaOf(checker.getTypeOfSymbol(property));
      if (!isOptional(property) && !this.satisfiable(schema)) return NEVER;
      schemas.set(property.name, schema);
    }
    const body = { type: 'object' };
    if (all.length > 0) body.properties = Object.fromEntries(all.map((p) => [p.name, schemas.get(p.name)]));
    const required = all.filter((p) => !isOptional(p)).map((p) => p.name);
    if (required.length > 0) body.required = required;
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    // An interface without properties is how the SDK types a free-form hash (`use_stripe_sdk`).
    if (all.length > 0 || index) body.additionalProperties = index ? this.schemaOf(index.type) : false;
    return body;
  }

  /** `PaymentIntent.LastPaymentError`, `Checkout.Session`, `ApiList(Charge)`; undefined for anonymous types. */
  nameOf(type) {
    const checker = this.checker;
    if (type.aliasSymbol && type.aliasTypeArguments?.length) {
      return `${this.symbolName(type.aliasSymbol)}(${type.aliasTypeArguments.map((t) => this.nameOf(t) ?? '?').join(',')})`;
    }
    const symbol = type.aliasSymbol ?? type.getSymbol();
    if (!symbol || symbol.name === '__type' || symbol.name === '__object') return undefined;
    const args = type.objectFlags & ts.ObjectFlags.Reference ? checker.getTypeArguments(type) : [];
    const base = this.symbolName(symbol);
    return args.length > 0 ? `${base}(${args.map((t) => this.nameOf(t) ?? '?').join(',')})` : base;
  }

  /** The SDK's name for a type: its namespace path in its module, prefixed by the resource folder (`Checkout.`). */
  symbolName(symbol) {
    const qualified = this.checker.getFullyQualifiedName(symbol).replace(/^"[^"]*"\./, '');
    const file = symbol.declarations?.[0]?.getSourceFile().fileName ?? '';
    const inResources = relative(this.resourcesDir, dirname(file));
    const folder = inResources && !inResources.startsWith('..') ? `${inResources.split(sep).join('.')}.` : '';
    return `${folder}${qualified}`;
  }

  /** The `object` of a top-level Stripe object (`'charge'`); undefined for nested structures. */
  resourceObject(symbol) {
    const declaration = symbol.declarations?.[0];
    if (!declaration || !ts.isSourceFile(declaration.parent)) return undefined;
    return objectLiteral(this.checker, this.checker.getDeclaredTypeOfSymbol(symbol));
  }

  isDecimal(type) {
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const file = symbol?.declarations?.[0]?.getSourceFile().fileName ?? '';
    return file.endsWith(`${sep}Decimal.d.ts`) || file.endsWith('/Decimal.d.ts');
  }

  /** Whether some value matches: a required property that can never be valid makes its object impossible. */
  satisfiable(schema, seen = new Set()) {
    if (schema === NEVER) return false;
    if (schema.$ref) {
      const name = refName(schema.$ref);
      if (seen.has(name)) return true;
      seen.add(name);
      return this.satisfiable(this.definitions.get(name) ?? {}, seen);
    }
    if (schema.anyOf) return schema.anyOf.some((option) => this.satisfiable(option, seen));
    if (schema.type === 'object' && schema.required) {
      return schema.required.every((name) => this.satisfiable(schema.properties[name], new Set(seen)));
    }
    return true;
  }

  /** The definitions the roots use, by name: others were only built to find out they were impossible. */
  reachable(roots, inline) {
    for (const [name, schema] of Object.entries(inline)) {
      if (this.definitions.has(name)) throw new Error(`the contract's ${name} clashes with an SDK type of that name`);
      this.definitions.set(name, schema);
    }
    const out = {};
    const visit = (schema) => {
      if (!schema || typeof schema !== 'object') return;
      if (schema.$ref) {
        const name = refName(schema.$ref);
        if (name in out) return;
        out[name] = this.definitions.get(name);
        visit(out[name]);
        return;
      }
      for (const value of Object.values(schema)) {
        if (Array.isArray(value)) value.forEach(visit);
        else visit(value);
      }
    };
    roots.forEach(visit);
    return Object.fromEntries(
      Object.keys(out)
        .sort()
        .map((name) => [name, out[name]]),
    );
  }
}

/** `{type: ['string', 'null']}` (with the enum, if any) instead of an anyOf of plain types. */
function simpleTypes(options) {
  const plain = (option) => Object.keys(option).every((key) => key === 'type' || key === 'enum') && typeof option.type === 'string';
  if (!options.every(plain) || options.filter((option) => option.enum).length > 1) return undefined;
  const types = options.map((option) => option.type);
  if (new Set(types).size !== types.length) return undefined;
  const enumerated = options.find((option) => option.enum);
  if (!enumerated) return { type: types };
  // an enum also limits the other types: list their values (only null is ever the other one)
  if (options.some((option) => !option.enum && option.type !== 'null')) return undefined;
  return { type: types, enum: [...enumerated.enum, ...(types.includes('null') ? [null] : [])] };
}

function refName(ref) {
  return ref.slice('#/definitions/'.length);
}

/** The literal type of a type's `object` property, if it has one. */
function objectLiteral(checker, type) {
  const property = checker.getPropertyOfType(type, 'object');
  const objectType = property && checker.getTypeOfSymbol(property);
  return objectType && objectType.flags & ts.TypeFlags.StringLiteral ? objectType.value : undefined;
}

/** The SDK's `OtherString` (`string & Record<never, never>`). */
function isOtherString(type) {
  return type.isIntersection() && type.types.some((t) => t.flags & ts.TypeFlags.String);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const contract = generateContract();
  const text = contractText(contract);
  const where = relative(ROOT, CONTRACT_FILE);
  const { sdkVersion, apiVersion } = contract['x-stripe'];
  if (process.argv.includes('--check')) {
    // For CI and the tests: is the checked-in contract the one the installed SDK gives?
    if (ts.sys.readFile(CONTRACT_FILE) !== text) {
      process.stderr.write(
        `${where} is not the contract of the installed stripe ${sdkVersion} (API ${apiVersion}): run npm run emulator:contract\n`,
      );
      process.exit(1);
    }
    process.stdout.write(`${where} is up to date with stripe ${sdkVersion} (API ${apiVersion})\n`);
  } else {
    await writeFile(CONTRACT_FILE, text);
    process.stdout.write(
      `wrote ${where}: ${Object.keys(contract.definitions).length} definitions from stripe ${sdkVersion} (API ${apiVersion})\n`,
    );
  }
}
