import http from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the Kubernetes API server, answering just what `paymentsctl apply` asks: no real
 * API server can run on these machines (no Docker; none is packaged for Debian, npm or Maven, and
 * fabric8's mock server rejects application/apply-patch+yaml). It serves discovery (/apis,
 * /api/v1, /apis/<group>/<version>, CRD groups only when "installed"), stores objects applied with
 * server-side apply (a dry run returns the merged object without storing it), and plays scripted
 * status progressions for Deployments, Jobs and ExternalSecrets, one step per GET.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  body: any;
}

interface Kind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const BUILT_IN: Kind[] = [
  ['', 'v1', 'Namespace', 'namespaces', false],
  ['', 'v1', 'ConfigMap', 'configmaps', true],
  ['', 'v1', 'Secret', 'secrets', true],
  ['', 'v1', 'ServiceAccount', 'serviceaccounts', true],
  ['', 'v1', 'Service', 'services', true],
  ['', 'v1', 'Pod', 'pods', true],
  ['apps', 'v1', 'Deployment', 'deployments', true],
  ['batch', 'v1', 'Job', 'jobs', true],
  ['batch', 'v1', 'CronJob', 'cronjobs', true],
  ['policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true],
].map(([group, version, kind, plural, namespaced]) => ({ group, version, kind, plural, namespaced }) as Kind);
const ISTIO: Kind = {
  group: 'security.istio.io',
  version: 'v1',
  kind: 'AuthorizationPolicy',
  plural: 'authorizationpolicies',
  namespaced: true,
};
const ESO: Kind = { group: 'external-secrets.io', version: 'v1', kind: 'ExternalSecret', plural: 'externalsecrets', namespaced: true };

export interface StandinOptions {
  istio?: boolean;
  externalSecrets?: boolean;
  /** status of a Deployment on its n-th GET after an apply; the last one repeats */
  deploymentStatuses?: (name: string, generation: number, replicas: number) => Record<string, unknown>[];
  jobStatuses?: (name: string) => Record<string, unknown>[];
  /** pods listed for a Job (job-name label) and their logs by "pod/container" */
  jobPods?: (name: string) => any[];
  podLogs?: Record<string, string>;
  /** answer an apply (not a dry run) of this object name with this status and message */
  rejectApply?: Record<string, { status: number; reason: string; message: string }>;
}

export interface Standin {
  url: string;
  kubeconfig: string;
  requests: RecordedRequest[];
  objects: Map<string, any>;
  /** put an object in place as if it existed before the test */
  seed(path: string, object: any): void;
  close(): Promise<void>;
}

export const TOKEN = 'standin-token';

export async function startKubeStandin(options: StandinOptions = {}): Promise<Standin> {
  const kinds = [...BUILT_IN, ...(options.istio ? [ISTIO] : []), ...(options.externalSecrets ? [ESO] : [])];
  const objects = new Map<string, any>();
  const reads = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  let resourceVersion = 100;

  const versionPath = (k: Kind) => (k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`);
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const status = (res: http.ServerResponse, code: number, reason: string, message: string) =>
    send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

  /** /apis/apps/v1/namespaces/ns/deployments/name → its kind, namespace and name */
  const parse = (path: string) => {
    for (const k of kinds) {
      const prefix = versionPath(k);
      if (!path.startsWith(`${prefix}/`)) continue;
      const rest = path.slice(prefix.length + 1).split('/');
      let namespace: string | undefined;
      if (k.namespaced && rest[0] === 'namespaces' && rest.length >= 3) {
        namespace = decodeURIComponent(rest[1]!);
        rest.splice(0, 2);
      }
      // /api/v1/namespaces/<ns>/<plural>/… is a namespaced kind's path, not the Namespace's.
      if (rest[0] !== k.plural || (!k.namespaced && rest.length > 2)) continue;
      return { kind: k, namespace, name: rest[1] ? decodeURIComponent(rest[1]) : undefined, sub: rest[2] };
    }
    return undefined;
  };

  const withStatus = (path: string, object: any) => {
    const n = (reads.get(path) ?? 0) + 1;
    reads.set(path, n);
    const pick = (list: Record<string, unknown>[] | undefined) => (list && list.length ? list[Math.min(n, list.length) - 1] : undefined);
    const name = object.metadata.name;
    let scripted: Record<string, unknown> | undefined;
    if (object.kind === 'Deployment') {
      const replicas = object.spec?.replicas ?? 1;
      const generation = object.metadata.generation;
      scripted = pick(
        options.deploymentStatuses?.(name, generation, replicas) ?? [
          { observedGeneration: generation - 1 },
          { observedGeneration: generation, replicas, updatedReplicas: 1, availableReplicas: 0 },
          { observedGeneration: generation, replicas, updatedReplicas: replicas, availableReplicas: replicas - 1 },
          { observedGeneration: generation, replicas, updatedReplicas: replicas, availableReplicas: replicas, readyReplicas: replicas },
        ],
      );
    } else if (object.kind === 'Job') {
      scripted = pick(options.jobStatuses?.(name) ?? [{ active: 1 }, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }]);
    } else if (object.kind === 'ExternalSecret') {
      scripted = pick([
        { conditions: [{ type: 'Ready', status: 'False', reason: 'SecretSyncing' }] },
        { conditions: [{ type: 'Ready', status: 'True' }] },
      ]);
    }
    return scripted ? { ...object, status: scripted } : object;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://standin');
      const text = Buffer.concat(chunks).toString('utf8');
      const record: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        body: text ? JSON.parse(text) : undefined,
      };
      requests.push(record);
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
      const path = url.pathname;
      if (req.method === 'GET' && path === '/apis') {
        const groups = [...new Set(kinds.filter((k) => k.group).map((k) => k.group))].map((group) => ({
          name: group,
          versions: kinds.filter((k) => k.group === group).map((k) => ({ groupVersion: `${group}/${k.version}`, version: k.version })),
        }));
        return send(res, 200, { kind: 'APIGroupList', groups });
      }
      const served = kinds.filter((k) => versionPath(k) === path);
      if (req.method === 'GET' && served.length) {
        return send(res, 200, {
          kind: 'APIResourceList',
          resources: served.flatMap((k) => [
            { name: k.plural, kind: k.kind, namespaced: k.namespaced },
            { name: `${k.plural}/status`, kind: k.kind, namespaced: k.namespaced },
          ]),
        });
      }
      const target = parse(path);
      if (!target) return status(res, 404, 'NotFound', `the server could not find the requested resource (${path})`);
      if (req.method === 'GET' && target.kind.kind === 'Pod' && target.sub === 'log') {
        const log = options.podLogs?.[`${target.name}/${url.searchParams.get('container')}`];
        if (log === undefined) return status(res, 404, 'NotFound', 'no log');
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(log);
      }
      if (req.method === 'GET' && !target.name) {
        const selector = url.searchParams.get('labelSelector') ?? '';
        if (target.kind.kind === 'Pod') {
          const job = /job-name=(.+)/.exec(selector)?.[1];
          return send(res, 200, { items: job ? (options.jobPods?.(job) ?? []) : [] });
        }
        const [key, value] = selector.split('=');
        const prefix = path + '/';
        const items = [...objects]
          .filter(([p, o]) => p.startsWith(prefix) && (!key || o.metadata.labels?.[key!] === value))
          .map(([p, o]) => withStatus(p, o));
        return send(res, 200, { items });
      }
      if (req.method === 'GET') {
        const object = objects.get(path);
        return object
          ? send(res, 200, withStatus(path, object))
          : status(res, 404, 'NotFound', `${target.kind.plural} "${target.name}" not found`);
      }
      if (req.method === 'DELETE') {
        if (!objects.delete(path)) return status(res, 404, 'NotFound', 'not found');
        return send(res, 200, { kind: 'Status', status: 'Success' });
      }
      if (req.method === 'PATCH') {
        if (record.contentType !== 'application/apply-patch+yaml')
          return status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${record.contentType}`);
        if (target.namespace && !objects.has(`/api/v1/namespaces/${target.namespace}`))
          return status(res, 404, 'NotFound', `namespaces "${target.namespace}" not found`);
        const dryRun = record.query.dryRun === 'All';
        const reject = options.rejectApply?.[target.name ?? ''];
        if (reject && !dryRun) return status(res, reject.status, reject.reason, reject.message);
        const live = objects.get(path);
        const { status: _ignored, ...intent } = record.body;
        const candidate = { ...live, ...intent, metadata: { ...live?.metadata, ...intent.metadata } };
        const comparable = (o: any) =>
          JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined, generation: undefined, uid: undefined } });
        const changed = !live || comparable(live) !== comparable(candidate);
        const specChanged = !live || JSON.stringify(live.spec) !== JSON.stringify(intent.spec);
        const merged = {
          ...candidate,
          metadata: {
            ...candidate.metadata,
            uid: live?.metadata.uid ?? `uid-${target.name}`,
            generation: (live?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
            resourceVersion: changed ? String(++resourceVersion) : live.metadata.resourceVersion,
          },
        };
        if (!dryRun) {
          objects.set(path, merged);
          reads.delete(path);
        }
        return send(res, live ? 200 : 201, merged);
      }
      return status(res, 405, 'MethodNotAllowed', 'method not allowed');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), 'apply-standin-'));
  const kubeconfig = join(dir, 'config');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: standin',
      'clusters: [{ name: standin, cluster: { server: "' + url + '", insecure-skip-tls-verify: true } }]',
      'users: [{ name: tester, user: { token: ' + TOKEN + ' } }]',
      'contexts: [{ name: standin, context: { cluster: standin, user: tester } }, { name: other, context: { cluster: standin, user: tester, namespace: elsewhere } }]',
      '',
    ].join('\n'),
  );
  return {
    url,
    kubeconfig,
    requests,
    objects,
    seed: (path, object) => objects.set(path, object),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
