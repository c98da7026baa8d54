import { UsageError } from '../../errors.js';
import { isClusterScoped, isObject, MANAGED_BY_LABEL, MANAGER, type KubeObject, type SourcedObject } from './manifest.js';

export interface Overrides {
  /** every namespaced object goes here; a single Namespace object is renamed to it */
  namespace?: string;
  /** where objects without a namespace go (the kubeconfig context's, else default) */
  defaultNamespace: string;
  /** a tag, a digest (sha256:…) or a full image reference for every paymentsctl container */
  image?: string;
  /** kinds (Deployment) or files (worker.yaml, base/worker.yaml): apply only these */
  only: string[];
  skip: string[];
}

/** The objects as apply will send them: filtered, namespaced, re-imaged, labelled as ours. */
export function applyOverrides(items: SourcedObject[], overrides: Overrides): SourcedObject[] {
  const namespaces = items.filter((item) => item.object.kind === 'Namespace');
  if (overrides.namespace && namespaces.length > 1) {
    throw new UsageError(`--namespace cannot rename ${namespaces.length} Namespace objects into one`, {
      hint: 'apply them separately, or drop --namespace',
    });
  }
  return items
    .filter(
      (item) =>
        (overrides.only.length === 0 || overrides.only.some((s) => selects(s, item))) && !overrides.skip.some((s) => selects(s, item)),
    )
    .map(({ object, file }) => ({ object: transform(object, overrides), file }));
}

/** A selector with a dot or slash names a file (by its end); otherwise a kind, in any case. */
function selects(selector: string, item: SourcedObject): boolean {
  if (/[./]/.test(selector)) return item.file !== undefined && (item.file === selector || item.file.endsWith(`/${selector}`));
  return item.object.kind.toLowerCase() === selector.toLowerCase();
}

function transform(original: KubeObject, overrides: Overrides): KubeObject {
  const object = structuredClone(original);
  object.metadata.labels = { ...object.metadata.labels, [MANAGED_BY_LABEL]: MANAGER };
  if (object.kind === 'Namespace') {
    if (overrides.namespace) object.metadata.name = overrides.namespace;
  } else if (!isClusterScoped(object.kind)) {
    object.metadata.namespace = overrides.namespace ?? object.metadata.namespace ?? overrides.defaultNamespace;
  }
  if (overrides.image) for (const container of containersOf(object)) container.image = withImage(container.image, overrides.image);
  return object;
}

/** Containers of every pod template an object carries (Deployment, Job, CronJob, Pod, …). */
function containersOf(object: KubeObject): { image?: unknown }[] {
  const spec = object.spec as Record<string, unknown> | undefined;
  const jobTemplate = spec?.jobTemplate as { spec?: { template?: unknown } } | undefined;
  const template = (jobTemplate?.spec?.template ?? spec?.template) as { spec?: unknown } | undefined;
  const podSpec = object.kind === 'Pod' ? spec : template?.spec;
  if (!isObject(podSpec)) return [];
  return ['initContainers', 'containers']
    .flatMap((key) => (Array.isArray(podSpec[key]) ? (podSpec[key] as unknown[]) : []))
    .filter(isObject) as { image?: unknown }[];
}

const TAG = /^[\w][\w.-]{0,127}$/;

/** Replaces the image of a paymentsctl container; leaves other containers' images alone. */
export function withImage(current: unknown, override: string): unknown {
  if (typeof current !== 'string') return current;
  const repository = current.split('@')[0]!.replace(/:[\w][\w.-]*$/, '');
  if (repository.split('/').pop() !== 'paymentsctl') return current;
  if (override.startsWith('@')) return `${repository}${override}`;
  if (override.startsWith('sha256:')) return `${repository}@${override}`;
  if (TAG.test(override)) return `${repository}:${override}`;
  return override;
}
