import { collectionPath, Discovery, objectPath, type ServedResource } from './discovery.js';
import { KubeApiError } from './errors.js';
import { jobPodDiagnosis } from './job-pods.js';
import type { KubeClient } from './kube-client.js';
import { isObject, MANAGED_BY_LABEL, MANAGER, objectName, type KubeObject } from './manifest.js';
import { optionalApiOf } from './order.js';
import type { ObjectReport, PruneReport, RunningRow, WaitReport } from './report.js';
import { deploymentProgress, externalSecretProgress, jobProgress, type Progress } from './rollout.js';
import { waitUntilDone, type WaitOptions } from './wait.js';

export const APPLY_PATCH = 'application/apply-patch+yaml';

/** Where the object stands in the cluster before anything is sent. */
export type Resolution = { served: true; resource: ServedResource; path: string } | { served: false; skip: boolean; note: string };

/** Every call apply makes to the API server, over one client and one discovery cache. */
export class ClusterSession {
  readonly discovery: Discovery;

  constructor(
    readonly client: KubeClient,
    private readonly forceConflicts: boolean,
  ) {
    this.discovery = new Discovery(client);
  }

  async resolve(object: KubeObject): Promise<Resolution> {
    const resource = await this.discovery.resource(object.apiVersion, object.kind);
    if (resource) return { served: true, resource, path: objectPath(object, resource) };
    const optional = optionalApiOf(object);
    if (optional) return { served: false, skip: true, note: optional.skipped };
    return { served: false, skip: false, note: `the cluster does not serve ${object.apiVersion} ${object.kind} (is its CRD installed?)` };
  }

  live(path: string): Promise<KubeObject | undefined> {
    return this.client.get<KubeObject>(path);
  }

  /**
   * Server-side apply: the manifest is the whole intent of field manager paymentsctl. A field
   * another manager owns is a conflict unless --force-conflicts; field validation is Strict, so an
   * unknown field is an error rather than silently dropped.
   */
  serverSideApply(path: string, object: KubeObject, dryRun: boolean): Promise<KubeObject> {
    return this.client.json<KubeObject>('PATCH', path, {
      query: {
        fieldManager: MANAGER,
        fieldValidation: 'Strict',
        force: this.forceConflicts ? 'true' : undefined,
        dryRun: dryRun ? 'All' : undefined,
      },
      body: object,
      contentType: APPLY_PATCH,
    });
  }

  async delete(path: string): Promise<void> {
    const response = await this.client.request('DELETE', path, { query: { propagationPolicy: 'Background' } });
    if (response.status !== 404 && (response.status < 200 || response.status > 299)) {
      throw new KubeApiError(response.status, undefined, response.text.slice(0, 300), `DELETE ${path}`);
    }
  }

  async waitGone(path: string, options: WaitOptions): Promise<boolean> {
    const result = await waitUntilDone(
      async (): Promise<Progress> =>
        (await this.live(path)) ? { done: false, failed: false, message: 'deleting' } : { done: true, failed: false, message: 'gone' },
      options,
      () => undefined,
    );
    return result.done;
  }

  /** Waits for what the object's kind has to finish: a rollout, a Job, an ExternalSecret's sync. */
  async waitFor(object: KubeObject, path: string, options: WaitOptions, onMessage: (message: string) => void): Promise<WaitReport> {
    const judge = object.kind === 'Deployment' ? deploymentProgress : object.kind === 'Job' ? jobProgress : externalSecretProgress;
    const result = await waitUntilDone(
      async () => {
        const live = await this.live(path);
        return live ? judge(live) : { done: false, failed: false, message: `${objectName(object)} is gone` };
      },
      options,
      onMessage,
    );
    const report: WaitReport = {
      object: objectName(object),
      namespace: object.metadata.namespace,
      ok: result.done,
      message: result.timedOut
        ? `${result.message} — not finished within ${Math.round(options.timeoutMs / 1000)}s (--timeout)`
        : result.message,
    };
    if (!result.done && object.kind === 'Job' && object.metadata.namespace && object.metadata.name) {
      report.detail = await jobPodDiagnosis(this.client, object.metadata.namespace, object.metadata.name).catch(
        (error: unknown) => `(its pods could not be read: ${error instanceof Error ? error.message : String(error)})`,
      );
    }
    return report;
  }

  /** Objects of one kind in one namespace that carry apply's managed-by label. */
  private async listOurs(apiVersion: string, resource: ServedResource, namespace: string): Promise<KubeObject[]> {
    const selector = encodeURIComponent(`${MANAGED_BY_LABEL}=${MANAGER}`);
    const list = await this.client.get<{ items: KubeObject[] }>(
      `${collectionPath(apiVersion, resource, namespace)}?labelSelector=${selector}`,
    );
    return list?.items ?? [];
  }

  /** Objects of ours (managed-by label) in these namespaces that the manifests no longer have. */
  async pruneCandidates(
    desired: ObjectReport[],
    kinds: { apiVersion: string; kind: string }[],
  ): Promise<{ object: KubeObject; path: string }[]> {
    const wanted = new Set(desired.map((o) => `${o.kind}/${o.namespace ?? ''}/${o.name}`));
    const namespaces = [...new Set(desired.map((o) => o.namespace).filter((ns): ns is string => Boolean(ns)))];
    const found: { object: KubeObject; path: string }[] = [];
    for (const { apiVersion, kind } of kinds) {
      const resource = await this.discovery.resource(apiVersion, kind);
      if (!resource?.namespaced) continue;
      for (const namespace of namespaces) {
        for (const item of await this.listOurs(apiVersion, resource, namespace)) {
          const object = { ...item, apiVersion, kind };
          // Objects another controller made (ESO's Secret, a CronJob's Jobs) are that controller's to remove.
          if (Array.isArray(item.metadata.ownerReferences) && item.metadata.ownerReferences.length > 0) continue;
          if (!wanted.has(`${kind}/${namespace}/${item.metadata.name}`)) found.push({ object, path: objectPath(object, resource) });
        }
      }
    }
    return found;
  }

  async prune(candidates: { object: KubeObject; path: string }[], execute: boolean): Promise<PruneReport[]> {
    const reports: PruneReport[] = [];
    for (const { object, path } of candidates) {
      const base = { object: objectName(object), namespace: object.metadata.namespace };
      if (!execute) {
        reports.push({ ...base, result: 'would delete' });
        continue;
      }
      try {
        await this.delete(path);
        reports.push({ ...base, result: 'deleted' });
      } catch (error) {
        reports.push({ ...base, result: 'failed', note: error instanceof KubeApiError ? error.detail : String(error) });
      }
    }
    return reports;
  }

  /** What runs now, for the closing table: our Deployments, Services and AuthorizationPolicies. */
  async running(namespaces: string[]): Promise<RunningRow[]> {
    const kinds: [string, string, (o: KubeObject) => [string, string][]][] = [
      ['apps/v1', 'Deployment', deploymentColumns],
      ['v1', 'Service', serviceColumns],
      [
        'security.istio.io/v1',
        'AuthorizationPolicy',
        (o) => [['ACTION', String((o.spec as { action?: string } | undefined)?.action ?? 'ALLOW')]],
      ],
    ];
    const rows: RunningRow[] = [];
    for (const [apiVersion, kind, columns] of kinds) {
      const resource = await this.discovery.resource(apiVersion, kind);
      if (!resource) continue;
      for (const namespace of namespaces) {
        for (const item of await this.listOurs(apiVersion, resource, namespace))
          rows.push({ kind, name: item.metadata.name ?? '', namespace, columns: columns(item) });
      }
    }
    return rows;
  }
}

function deploymentColumns(object: KubeObject): [string, string][] {
  const status = isObject(object.status) ? object.status : {};
  const wanted = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const n = (key: string) => String(typeof status[key] === 'number' ? status[key] : 0);
  return [
    ['READY', `${n('readyReplicas')}/${wanted}`],
    ['UP-TO-DATE', n('updatedReplicas')],
    ['AVAILABLE', n('availableReplicas')],
  ];
}

function serviceColumns(object: KubeObject): [string, string][] {
  const spec = (object.spec ?? {}) as { type?: string; clusterIP?: string; ports?: { port: number; protocol?: string }[] };
  return [
    ['TYPE', spec.type ?? 'ClusterIP'],
    ['CLUSTER-IP', spec.clusterIP ?? '<none>'],
    ['PORTS', (spec.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>'],
  ];
}
