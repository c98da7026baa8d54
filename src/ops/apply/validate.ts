import { crdKey, crdValidators, type SchemaError } from './crd-schemas.js';
import { groupOf, isObject, type KubeObject } from './manifest.js';

export interface FieldProblem {
  /** the field, written as in kubectl explain: spec.template.spec.containers[0].image */
  field: string;
  message: string;
}

export interface ObjectValidation {
  ok: boolean;
  /** what it was checked against */
  schema: 'kubernetes' | 'istio' | 'crd' | 'none';
  problems: FieldProblem[];
}

/** API groups built into Kubernetes: kubernetes-models 4 (Kubernetes 1.27 schemas) has their models. */
const BUILT_IN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'policy',
  'autoscaling',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'events.k8s.io',
  'node.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'apiregistration.k8s.io',
  'certificates.k8s.io',
  'flowcontrol.apiserver.k8s.io',
]);
const ISTIO_GROUPS = new Set(['security.istio.io', 'networking.istio.io', 'telemetry.istio.io', 'extensions.istio.io']);

type ModelClass = { kind?: string; new (data: unknown): { validate(): void } };

/** Loads the model class for an apiVersion/kind from its package, or undefined if it has none. */
async function modelFor(packageName: string, apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const modules = (await import(`${packageName}/${apiVersion}/${kind}`).catch(() => undefined)) as Record<string, unknown> | undefined;
  const model = modules?.[kind] as ModelClass | undefined;
  return typeof model === 'function' && model.kind === kind ? model : undefined;
}

/**
 * Checks one object offline: built-in kinds against kubernetes-models, Istio kinds against
 * @kubernetes-models/istio, ExternalSecret against the ESO CRD schema in infra/crds. Kinds none
 * of them knows are reported as not checked (the server-side dry run still checks them).
 */
export async function validateObject(object: KubeObject): Promise<ObjectValidation> {
  const problems: FieldProblem[] = metadataProblems(object);
  const group = groupOf(object.apiVersion);
  const version = object.apiVersion.slice(object.apiVersion.indexOf('/') + 1);
  const body = withoutEmptyMetadata(object);
  if (BUILT_IN_GROUPS.has(group) || ISTIO_GROUPS.has(group)) {
    const schema = BUILT_IN_GROUPS.has(group) ? 'kubernetes' : 'istio';
    const model = await modelFor(
      schema === 'kubernetes' ? 'kubernetes-models' : '@kubernetes-models/istio',
      group ? `${group}/${version}` : version,
      object.kind,
    );
    if (!model) {
      problems.push({ field: 'apiVersion', message: `${object.apiVersion} has no kind ${object.kind}` });
      return { ok: false, schema, problems };
    }
    try {
      new model(body).validate();
    } catch (error) {
      problems.push(...schemaProblems((error as { errors?: SchemaError[] }).errors ?? [], error));
    }
    return { ok: problems.length === 0, schema, problems };
  }
  const validator = (await crdValidators()).get(crdKey(object.apiVersion, object.kind));
  if (!validator) return { ok: problems.length === 0, schema: 'none', problems };
  if (!validator(body)) problems.push(...schemaProblems(validator.errors ?? [], undefined));
  return { ok: problems.length === 0, schema: 'crd', problems };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function metadataProblems(object: KubeObject): FieldProblem[] {
  const name = object.metadata.name;
  if (typeof name !== 'string' || name === '') return [{ field: 'metadata.name', message: 'is required' }];
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return [
      {
        field: 'metadata.name',
        message: `"${name}" must be lower case letters, digits, '-' and '.', starting and ending with a letter or digit`,
      },
    ];
  }
  return [];
}

function withoutEmptyMetadata(object: KubeObject): Record<string, unknown> {
  return Object.keys(object.metadata).length ? object : { ...object, metadata: {} };
}

/** `/spec/template/spec/containers/0/ports` → `spec.template.spec.containers[0].ports` */
export function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

function schemaProblems(errors: SchemaError[], fallback: unknown): FieldProblem[] {
  if (errors.length === 0)
    return [{ field: '(object)', message: fallback instanceof Error ? fallback.message : 'does not match its schema' }];
  const byField = new Map<string, string[]>();
  for (const error of errors) {
    const base = fieldPath(error.instancePath);
    const params = isObject(error.params) ? error.params : {};
    let field = base;
    let message = error.message ?? error.keyword;
    if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
      field = base ? `${base}.${params.missingProperty}` : params.missingProperty;
      message = 'is required';
    } else if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      field = base ? `${base}.${params.additionalProperty}` : params.additionalProperty;
      message = 'is not a field of this object (unknown field)';
    } else if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      message = `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    const messages = byField.get(field || '(object)') ?? [];
    if (!messages.includes(message)) messages.push(message);
    byField.set(field || '(object)', messages);
  }
  return [...byField].map(([field, messages]) => {
    // "must match exactly one schema in oneOf" only repeats what the alternatives already said.
    const telling = messages.filter((m) => !/schema in "?(oneOf|anyOf)"?/.test(m));
    return { field, message: (telling.length ? telling : messages).join('; ') };
  });
}
