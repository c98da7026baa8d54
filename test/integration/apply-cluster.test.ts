import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runApply, type ApplyOptions } from '../../src/ops/apply/apply.js';
import type { ApplyEvent } from '../../src/ops/apply/report.js';
import { UnavailableError } from '../../src/errors.js';
import { startKubeStandin, TOKEN, type Standin, type StandinOptions } from '../helpers/kube-standin.js';

// No real Kubernetes API server can run on these machines (no Docker; none is packaged for Debian,
// npm or Maven): these tests run `apply` against the HTTP stand-in in test/helpers/kube-standin.ts.

const NS = 'bookstore-platform-payments';
let home: string;
let standin: Standin | undefined;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'apply-home-'));
});
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

async function cluster(options: StandinOptions = {}, namespaceExists = true): Promise<Standin> {
  standin = await startKubeStandin(options);
  if (namespaceExists)
    standin.seed(`/api/v1/namespaces/${NS}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, resourceVersion: '1' } });
  return standin;
}

function apply(target: string, s: Standin | undefined, extra: Partial<ApplyOptions> = {}, events: ApplyEvent[] = []) {
  return runApply(
    {
      target,
      execute: false,
      only: [],
      skip: [],
      prune: false,
      forceConflicts: false,
      timeoutMs: 20_000,
      pollIntervalMs: 5,
      env: s ? { KUBECONFIG: s.kubeconfig } : {},
      home,
      ...extra,
    },
    (event) => events.push(event),
  );
}

const applies = (s: Standin) => s.requests.filter((r) => r.method === 'PATCH');
const kindOf = (path: string) => path.split('/').slice(-2, -1)[0];

describe('apply against a stand-in API server', () => {
  it('dry run: server-side apply requests with dryRun=All, field manager paymentsctl, no force; Istio and ESO skipped when not served', async () => {
    const s = await cluster();
    const report = await apply('manifests/overlays/production', s);
    expect(report.cluster).toMatchObject({ state: 'reachable', context: 'standin' });
    const patches = applies(s);
    expect(patches.length).toBeGreaterThan(5);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query).toMatchObject({ fieldManager: 'paymentsctl', dryRun: 'All', fieldValidation: 'Strict' });
      expect(p.query.force).toBeUndefined();
      expect(p.authorization).toBe(`Bearer ${TOKEN}`);
      expect(p.body.apiVersion).toBeTruthy();
      expect(p.body.metadata.labels['app.kubernetes.io/managed-by']).toBe('paymentsctl');
    }
    expect(s.objects.size).toBe(1); // a dry run stores nothing
    const byKind = Object.fromEntries(report.objects.map((o) => [o.kind, o]));
    expect(byKind.AuthorizationPolicy).toMatchObject({ plan: 'skip', note: expect.stringMatching(/^skipped: Istio is not installed/) });
    expect(byKind.ExternalSecret).toMatchObject({
      plan: 'skip',
      note: expect.stringContaining('Secret paymentsctl-secrets must then come from elsewhere'),
    });
    expect(byKind.Namespace!.plan).toBe('configure'); // the seeded Namespace lacks our labels
    expect(byKind.Deployment!.plan).toBe('create');
    expect(report.exitCode).toBe(0);
  });

  it('dry run on a cluster without the namespace checks its objects offline only', async () => {
    const s = await cluster({}, false);
    const report = await apply('manifests/overlays/dev', s);
    expect(report.objects[0]).toMatchObject({ kind: 'Namespace', plan: 'create' });
    expect(report.objects.slice(1).every((o) => o.plan === 'create' && o.note?.includes('namespace does not exist yet'))).toBe(true);
    expect(applies(s).map((p) => p.path)).toEqual([`/api/v1/namespaces/${NS}`]);
    expect(report.exitCode).toBe(0);
  });

  it('--execute applies in the seed order, waits for the ExternalSecret, the Job and every rollout, and ends with what runs', async () => {
    const s = await cluster({ istio: true, externalSecrets: true });
    const events: ApplyEvent[] = [];
    const report = await apply('manifests/overlays/production', s, { execute: true }, events);
    expect(report.exitCode).toBe(0);
    const patches = applies(s);
    expect(patches.every((p) => p.query.dryRun === undefined && p.query.force === undefined)).toBe(true);
    expect(patches.map((p) => kindOf(p.path))).toEqual([
      'namespaces',
      'serviceaccounts',
      'configmaps',
      'externalsecrets',
      'jobs',
      'deployments',
      'deployments',
      'deployments',
      'services',
      'poddisruptionbudgets',
      'poddisruptionbudgets',
      'poddisruptionbudgets',
      'cronjobs',
      'authorizationpolicies',
    ]);
    // Each step is waited for before the next starts: the Job's PATCH comes after the ExternalSecret synced, …
    const order = s.requests.map((r) => `${r.method} ${kindOf(r.path)}`);
    const lastEsRead = order.lastIndexOf('GET externalsecrets');
    expect(lastEsRead).toBeLessThan(order.indexOf('PATCH jobs'));
    expect(order.lastIndexOf('GET jobs')).toBeLessThan(order.indexOf('PATCH deployments'));
    expect(order.lastIndexOf('GET deployments') > order.indexOf('PATCH deployments')).toBe(true);
    expect(order.indexOf('PATCH authorizationpolicies')).toBeGreaterThan(order.lastIndexOf('GET deployments'));

    const progress = events.filter((e) => e.type === 'progress').map((e) => (e as { message: string }).message);
    expect(progress).toContain('Waiting for deployment spec update to be observed...');
    expect(progress).toContain('Waiting for deployment "payments-worker" rollout to finish: 1 out of 3 new replicas have been updated...');
    expect(progress).toContain('Waiting for deployment "payments-worker" rollout to finish: 2 of 3 updated replicas are available...');
    expect(report.waits.map((w) => w.message)).toEqual(
      expect.arrayContaining([
        'externalsecret "paymentsctl-secrets" synced',
        'job "paymentsctl-migrate" completed',
        'deployment "webhook-serve" successfully rolled out',
      ]),
    );
    expect(report.objects.every((o) => o.result === (o.kind === 'Namespace' ? 'configured' : 'created'))).toBe(true);
    expect(report.running.map((r) => `${r.kind}/${r.name}`)).toEqual(
      expect.arrayContaining(['Deployment/payments-worker', 'Service/webhook-serve', 'AuthorizationPolicy/webhook-serve-public-path']),
    );
    expect(report.running.find((r) => r.name === 'publish-outbox')!.columns).toContainEqual(['READY', '3/3']);

    // A second run changes nothing, re-runs the migrate Job, and still waits for it.
    const again = await apply('manifests/overlays/production', s, { execute: true });
    expect(again.exitCode).toBe(0);
    expect(again.objects.find((o) => o.kind === 'Deployment')!.result).toBe('unchanged');
    expect(
      s.requests.some(
        (r) => r.method === 'DELETE' && r.path.endsWith('/jobs/paymentsctl-migrate') && r.query.propagationPolicy === 'Background',
      ),
    ).toBe(true);
  });

  it('skips the AuthorizationPolicy with "Istio is not installed" and still exits 0', async () => {
    const s = await cluster();
    const report = await apply('manifests/overlays/dev', s, {
      execute: true,
      only: ['Namespace', 'webhook-authorization-policy.yaml'],
      target: 'manifests/overlays/production',
    });
    expect(report.objects.map((o) => `${o.kind}:${o.result}`)).toEqual(['Namespace:configured', 'AuthorizationPolicy:skipped']);
    expect(report.objects[1]!.note).toMatch(/^skipped: Istio is not installed/);
    expect(report.exitCode).toBe(0);
  });

  it('sends force=true only with --force-conflicts, and explains a conflict without it', async () => {
    const conflict = {
      status: 409,
      reason: 'Conflict',
      message: 'Apply failed with 1 conflict: conflict with "kubectl-edit": .data.LOG_LEVEL',
    };
    let s = await cluster({ rejectApply: { 'paymentsctl-config': conflict } });
    const failed = await apply('manifests/overlays/dev', s, { execute: true });
    expect(failed.exitCode).toBe(1);
    expect(failed.objects.find((o) => o.kind === 'ConfigMap')).toMatchObject({
      result: 'failed',
      note: expect.stringContaining('--force-conflicts'),
    });
    expect(failed.objects.find((o) => o.kind === 'Job')!.result).toBe('not applied');
    expect(applies(s).some((p) => p.path.includes('/jobs/'))).toBe(false);
    await s.close();

    s = standin = await startKubeStandin();
    const forced = await apply('manifests/overlays/dev', s, { execute: true, forceConflicts: true, only: ['Namespace', 'ConfigMap'] });
    expect(forced.exitCode).toBe(0);
    expect(applies(s).every((p) => p.query.force === 'true')).toBe(true);
  });

  it("stops at a failed migrate Job and prints its pod's last log lines", async () => {
    const s = await cluster({
      jobStatuses: () => [
        { active: 1 },
        {
          failed: 3,
          conditions: [
            { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
          ],
        },
      ],
      jobPods: (job) => [
        {
          metadata: { name: `${job}-x1`, creationTimestamp: '2025-01-01T00:00:00Z' },
          status: {
            initContainerStatuses: [{ name: 'topics-ensure', state: { terminated: { exitCode: 0 } } }],
            containerStatuses: [{ name: 'migrate', state: { terminated: { exitCode: 1 } } }],
          },
        },
      ],
      podLogs: {
        'paymentsctl-migrate-x1/migrate':
          '{"level":"error","msg":"002_outbox_commit_order.sql failed: relation \\"outbox\\" does not exist"}\n',
      },
    });
    const events: ApplyEvent[] = [];
    const report = await apply('manifests/overlays/dev', s, { execute: true }, events);
    expect(report.exitCode).toBe(1);
    const wait = report.waits.find((w) => w.object === 'Job/paymentsctl-migrate')!;
    expect(wait).toMatchObject({ ok: false, message: expect.stringContaining('BackoffLimitExceeded') });
    expect(wait.detail).toContain('container migrate exited 1');
    expect(wait.detail).toContain('relation \\"outbox\\" does not exist');
    expect(report.objects.filter((o) => o.step === 'workloads').every((o) => o.result === 'not applied')).toBe(true);
    expect(applies(s).some((p) => p.path.includes('/deployments/'))).toBe(false);
  });

  it('fails a rollout that exceeds its progress deadline, and one that does not finish within --timeout', async () => {
    let s = await cluster({
      deploymentStatuses: (name, generation, replicas) =>
        name === 'payments-worker'
          ? [
              {
                observedGeneration: generation,
                replicas,
                updatedReplicas: 1,
                conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
              },
            ]
          : [{ observedGeneration: generation, replicas, updatedReplicas: replicas, availableReplicas: replicas }],
    });
    let report = await apply('manifests/overlays/dev', s, { execute: true });
    expect(report.exitCode).toBe(1);
    expect(report.waits.find((w) => !w.ok)!.message).toBe('deployment "payments-worker" exceeded its progress deadline');
    await s.close();

    s = standin = await startKubeStandin({ deploymentStatuses: (_n, generation) => [{ observedGeneration: generation - 1 }] });
    report = await apply('manifests/overlays/dev', s, { execute: true, timeoutMs: 300, only: ['Namespace', 'Deployment'] });
    expect(report.exitCode).toBe(1);
    expect(report.waits.every((w) => !w.ok && w.message.includes('not finished within'))).toBe(true);
  });

  it('--prune lists (dry run) and deletes (--execute) our objects the manifests no longer have', async () => {
    const s = await cluster();
    const stale = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'old-worker', namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'paymentsctl' } },
      spec: { replicas: 1 },
    };
    const theirs = { ...stale, metadata: { ...stale.metadata, name: 'someone-elses', labels: {} } };
    s.seed(`/apis/apps/v1/namespaces/${NS}/deployments/old-worker`, stale);
    s.seed(`/apis/apps/v1/namespaces/${NS}/deployments/someone-elses`, theirs);
    const dry = await apply('manifests/overlays/dev', s, { prune: true });
    expect(dry.prune).toEqual([{ object: 'Deployment/old-worker', namespace: NS, result: 'would delete' }]);
    expect(s.objects.has(`/apis/apps/v1/namespaces/${NS}/deployments/old-worker`)).toBe(true);
    const executed = await apply('manifests/overlays/dev', s, { prune: true, execute: true });
    expect(executed.prune).toEqual([{ object: 'Deployment/old-worker', namespace: NS, result: 'deleted' }]);
    expect(s.objects.has(`/apis/apps/v1/namespaces/${NS}/deployments/old-worker`)).toBe(false);
    expect(s.objects.has(`/apis/apps/v1/namespaces/${NS}/deployments/someone-elses`)).toBe(true);
  });

  it('shows what would change against the live object, Secret values masked', async () => {
    const s = await cluster();
    await apply('manifests/overlays/dev', s, { execute: true, only: ['Secret', 'ConfigMap'] });
    const report = await apply('manifests/overlays/dev', s, { only: ['Secret', 'ConfigMap'], image: 'x', namespace: NS });
    expect(report.objects.map((o) => o.plan)).toEqual(['unchanged', 'unchanged']);
    const secretPath = `/api/v1/namespaces/${NS}/secrets/paymentsctl-secrets`;
    const live = s.objects.get(secretPath);
    s.seed(secretPath, { ...live, stringData: { ...live.stringData, STRIPE_API_KEY: 'sk_test_previous_value' } });
    const changed = await apply('manifests/overlays/dev', s, { only: ['Secret'] });
    expect(changed.objects[0]).toMatchObject({ plan: 'configure' });
    expect(changed.objects[0]!.diff).toContain('*** (before)');
    expect(changed.objects[0]!.diff).not.toContain('previous_value');
  });

  it('with --execute and no reachable cluster: unavailable (exit 3); a dry run says so and stays offline', async () => {
    const s = await startKubeStandin();
    await s.close();
    await expect(apply('manifests/overlays/dev', s, { execute: true })).rejects.toBeInstanceOf(UnavailableError);
    const dry = await apply('manifests/overlays/dev', s);
    expect(dry).toMatchObject({ exitCode: 0, cluster: { state: 'unreachable' } });
    await expect(apply('manifests/overlays/dev', undefined, { execute: true })).rejects.toThrow(
      /--execute needs a cluster, and there is none: no kubeconfig/,
    );
  });

  it('takes --context from the kubeconfig and its namespace for objects without one', async () => {
    const s = await cluster();
    await expect(apply('manifests/base/config.yaml', s, { context: 'missing' })).rejects.toThrow(
      /--context missing is not in the kubeconfig/,
    );
    const report = await apply('manifests/base/config.yaml', s, { context: 'other' });
    expect(report.objects[0]).toMatchObject({ namespace: 'elsewhere', file: 'manifests/base/config.yaml' });
  });
});
