import { groupOf, type KubeObject } from './manifest.js';

/**
 * The seed's order, as steps: each step is applied, then waited for, before the next begins.
 * ExternalSecrets go with the Secrets rather than last: in production they are the only source of
 * the Secret the migrate Job and the roles read at start, so nothing after them could start first.
 */
export const STEPS = [
  { name: 'namespace', title: 'Namespace' },
  { name: 'config', title: 'ConfigMaps and Secrets' },
  { name: 'migrate', title: 'the migrate Job' },
  { name: 'workloads', title: 'Deployments, Services, PDBs, the CronJob' },
  { name: 'policy', title: 'Istio policy and other custom resources' },
] as const;
export type StepName = (typeof STEPS)[number]['name'];

const KIND_ORDER: Record<StepName, string[]> = {
  namespace: ['Namespace', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass'],
  config: [
    'ServiceAccount',
    'ClusterRole',
    'ClusterRoleBinding',
    'Role',
    'RoleBinding',
    'ResourceQuota',
    'LimitRange',
    'NetworkPolicy',
    'ConfigMap',
    'Secret',
    'ExternalSecret',
    'PersistentVolumeClaim',
  ],
  migrate: ['Job'],
  workloads: ['Deployment', 'StatefulSet', 'DaemonSet', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'CronJob', 'Ingress'],
  policy: [],
};

export function stepOf(object: KubeObject): StepName {
  for (const step of STEPS) if (KIND_ORDER[step.name].includes(object.kind)) return step.name;
  return 'policy';
}

/** An API that only some clusters serve: its objects are skipped, not failed, when it is absent. */
export interface OptionalApi {
  product: string;
  /** the line printed instead of applying */
  skipped: string;
}

const OPTIONAL_GROUPS: Record<string, (object: KubeObject) => OptionalApi> = {
  'security.istio.io': (object) => ({ product: 'Istio', skipped: `skipped: Istio is not installed (${object.apiVersion} is not served)` }),
  'external-secrets.io': (object) => {
    const target = (object.spec as { target?: { name?: string } } | undefined)?.target?.name ?? object.metadata.name;
    return {
      product: 'External Secrets Operator',
      skipped:
        `skipped: the External Secrets Operator is not installed (${object.apiVersion} is not served); ` +
        `Secret ${target} must then come from elsewhere, or pods that read it will not start`,
    };
  },
};

export function optionalApiOf(object: KubeObject): OptionalApi | undefined {
  return OPTIONAL_GROUPS[groupOf(object.apiVersion)]?.(object);
}

/** Objects in apply order: by step, by kind within a step, otherwise as written. */
export function orderObjects<T extends { object: KubeObject }>(items: T[]): (T & { step: StepName })[] {
  const rank = (item: T): [number, number] => {
    const step = stepOf(item.object);
    const kinds = KIND_ORDER[step];
    const kind = kinds.indexOf(item.object.kind);
    return [STEPS.findIndex((s) => s.name === step), kind === -1 ? kinds.length : kind];
  };
  return items
    .map((item, index) => ({ item, index, rank: rank(item) }))
    .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.index - b.index)
    .map(({ item }) => ({ ...item, step: stepOf(item.object) }));
}
