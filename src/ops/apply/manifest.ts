/** A Kubernetes object as read from a manifest: only what every object has is typed. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** An object together with the file it came from (when the renderer says), for messages and --skip. */
export interface SourcedObject {
  object: KubeObject;
  /** path of the file that declared it, relative to the directory given to apply; undefined if unknown */
  file: string | undefined;
}

/** The label apply puts on everything it applies; --prune deletes only objects that carry it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGER = 'paymentsctl';

/** kustomize's buildMetadata [originAnnotations]: where an object came from. Not sent to the cluster. */
export const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';

export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
}

/** `Deployment/publish-outbox`, the way kubectl names objects. */
export function objectName(object: KubeObject): string {
  return `${object.kind}/${object.metadata.name ?? '(no name)'}`;
}

/** `Deployment bookstore/publish-outbox (base/publish-outbox.yaml)` for messages. */
export function describeObject(object: KubeObject, file?: string): string {
  const ns = object.metadata.namespace ? `${object.metadata.namespace}/` : '';
  return `${object.kind} ${ns}${object.metadata.name ?? '(no name)'}${file ? ` (${file})` : ''}`;
}

/** Kinds that live outside namespaces (for the --namespace override before discovery can say). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService',
  'ClusterSecretStore',
  'ClusterExternalSecret',
]);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
