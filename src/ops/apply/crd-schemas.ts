import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { packageRoot } from '../../stack/paths.js';
import { isObject } from './manifest.js';

/**
 * Validators for custom resources whose model packages do not run on Node 20, compiled from their
 * CRDs' OpenAPI schemas kept in infra/crds/. Like the API server with field validation Strict, a
 * field the schema does not declare is an error unless the schema preserves unknown fields.
 */
export type CrdValidators = Map<string, ValidateFunction>;

export const crdKey = (apiVersion: string, kind: string): string => `${apiVersion}/${kind}`;

let loaded: Promise<CrdValidators> | undefined;

export function crdValidators(dir = join(packageRoot(), 'infra', 'crds')): Promise<CrdValidators> {
  loaded ??= loadCrdValidators(dir);
  return loaded;
}

async function loadCrdValidators(dir: string): Promise<CrdValidators> {
  // Formats (int32, date-time, byte) are the API server's business; types and fields are ours.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validators: CrdValidators = new Map();
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.yaml')).sort()) {
    const crd = parse(await readFile(join(dir, file), 'utf8')) as {
      spec: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema?: unknown } }[] };
    };
    for (const version of crd.spec.versions) {
      const schema = version.schema?.openAPIV3Schema;
      if (!isObject(schema)) continue;
      validators.set(crdKey(`${crd.spec.group}/${version.name}`, crd.spec.names.kind), ajv.compile(strictFields(schema)));
    }
  }
  return validators;
}

/** Objects with declared properties reject others, as a structural schema does under Strict validation. */
function strictFields(schema: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...schema };
  if (isObject(copy.properties)) {
    copy.properties = Object.fromEntries(
      Object.entries(copy.properties).map(([key, value]) => [key, isObject(value) ? strictFields(value) : value]),
    );
    // allOf/anyOf/oneOf branches only add value checks to these properties: they stay as written.
    const preserves = copy['x-kubernetes-preserve-unknown-fields'] === true;
    if (!preserves && copy.additionalProperties === undefined) copy.additionalProperties = false;
  }
  if (isObject(copy.items)) copy.items = strictFields(copy.items);
  if (isObject(copy.additionalProperties)) copy.additionalProperties = strictFields(copy.additionalProperties);
  return copy;
}

export type SchemaError = Pick<ErrorObject, 'instancePath' | 'keyword' | 'params' | 'message'>;
