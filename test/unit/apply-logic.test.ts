import { describe, expect, it } from 'vitest';
import { deploymentProgress, externalSecretProgress, jobProgress } from '../../src/ops/apply/rollout.js';
import { orderObjects } from '../../src/ops/apply/order.js';
import { applyOverrides, withImage } from '../../src/ops/apply/overrides.js';
import { fieldPath, validateObject } from '../../src/ops/apply/validate.js';
import { objectDiff } from '../../src/ops/apply/diff.js';
import type { KubeObject } from '../../src/ops/apply/manifest.js';

const deployment = (generation: number, replicas: number, status: Record<string, unknown>) => ({
  metadata: { name: 'payments-worker', generation },
  spec: { replicas },
  status,
});

describe('rollout wait, judged as kubectl rollout status does', () => {
  // The cases of kubectl's rollout_status_test.go, in its order of checks.
  it.each([
    [
      'observedGeneration behind',
      deployment(2, 3, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      false,
      false,
      'Waiting for deployment spec update to be observed...',
    ],
    [
      'progress deadline exceeded',
      deployment(1, 3, {
        observedGeneration: 1,
        updatedReplicas: 1,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      }),
      false,
      true,
      'deployment "payments-worker" exceeded its progress deadline',
    ],
    [
      'updated < replicas',
      deployment(1, 3, { observedGeneration: 1, replicas: 3, updatedReplicas: 1, availableReplicas: 3 }),
      false,
      false,
      'Waiting for deployment "payments-worker" rollout to finish: 1 out of 3 new replicas have been updated...',
    ],
    [
      'old replicas pending termination',
      deployment(1, 3, { observedGeneration: 1, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }),
      false,
      false,
      'Waiting for deployment "payments-worker" rollout to finish: 1 old replicas are pending termination...',
    ],
    [
      'available < updated',
      deployment(1, 3, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 2 }),
      false,
      false,
      'Waiting for deployment "payments-worker" rollout to finish: 2 of 3 updated replicas are available...',
    ],
    [
      'done',
      deployment(3, 3, { observedGeneration: 3, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      true,
      false,
      'deployment "payments-worker" successfully rolled out',
    ],
  ])('%s', (_case, object, done, failed, message) => {
    expect(deploymentProgress(object)).toEqual({ done, failed, message });
  });

  it('judges a Job by its Complete and Failed conditions, and an ExternalSecret by Ready', () => {
    expect(jobProgress({ metadata: { name: 'm' }, status: { active: 1 } })).toMatchObject({ done: false, failed: false });
    expect(jobProgress({ metadata: { name: 'm' }, status: { conditions: [{ type: 'Complete', status: 'True' }] } }).done).toBe(true);
    const failed = jobProgress({
      metadata: { name: 'm' },
      status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] },
    });
    expect(failed).toMatchObject({ failed: true, message: 'job "m" failed: BackoffLimitExceeded' });
    expect(
      externalSecretProgress({
        metadata: { name: 's' },
        status: { conditions: [{ type: 'Ready', status: 'False', reason: 'SecretSyncedError' }] },
      }).done,
    ).toBe(false);
    expect(externalSecretProgress({ metadata: { name: 's' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }).done).toBe(
      true,
    );
  });
});

const obj = (apiVersion: string, kind: string, name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name },
  ...extra,
});

describe('apply order', () => {
  it('follows the seed: Namespace, config and secrets, the Job, workloads, then Istio and other custom resources', () => {
    const shuffled = [
      obj('security.istio.io/v1', 'AuthorizationPolicy', 'authz'),
      obj('batch/v1', 'CronJob', 'reconcile'),
      obj('v1', 'Service', 'webhook-serve'),
      obj('apps/v1', 'Deployment', 'worker'),
      obj('external-secrets.io/v1', 'ExternalSecret', 'secrets'),
      obj('batch/v1', 'Job', 'migrate'),
      obj('policy/v1', 'PodDisruptionBudget', 'worker'),
      obj('v1', 'Secret', 'secrets'),
      obj('example.com/v1', 'Widget', 'w'),
      obj('v1', 'ConfigMap', 'config'),
      obj('v1', 'Namespace', 'payments'),
    ].map((object) => ({ object }));
    expect(orderObjects(shuffled).map((o) => `${o.step}:${o.object.kind}`)).toEqual([
      'namespace:Namespace',
      'config:ConfigMap',
      'config:Secret',
      'config:ExternalSecret',
      'migrate:Job',
      'workloads:Deployment',
      'workloads:Service',
      'workloads:PodDisruptionBudget',
      'workloads:CronJob',
      'policy:AuthorizationPolicy',
      'policy:Widget',
    ]);
  });
});

describe('overrides', () => {
  it('replaces the image of paymentsctl containers only, by tag, digest or full reference', () => {
    expect(withImage('registry.example.com/payments/paymentsctl:0.1.0', '0.2.0')).toBe('registry.example.com/payments/paymentsctl:0.2.0');
    expect(withImage('paymentsctl:dev', 'sha256:abc')).toBe('paymentsctl@sha256:abc');
    expect(withImage('registry:5000/paymentsctl', '@sha256:abc')).toBe('registry:5000/paymentsctl@sha256:abc');
    expect(withImage('paymentsctl:dev', 'ghcr.io/me/paymentsctl:9')).toBe('ghcr.io/me/paymentsctl:9');
    expect(withImage('istio/proxyv2:1.20', '0.2.0')).toBe('istio/proxyv2:1.20');
  });

  it('moves namespaced objects and renames the Namespace with --namespace, labels everything, filters by kind or file', () => {
    const items = [
      { object: obj('v1', 'Namespace', 'payments'), file: 'base/namespace.yaml' },
      {
        object: obj('batch/v1', 'CronJob', 'reconcile', { metadata: { name: 'reconcile', namespace: 'payments' } }),
        file: 'base/reconcile-cronjob.yaml',
      },
      {
        object: obj('apps/v1', 'Deployment', 'worker', {
          spec: { template: { spec: { initContainers: [{ image: 'paymentsctl:1' }], containers: [{ image: 'paymentsctl:1' }] } } },
        }),
        file: 'base/worker.yaml',
      },
    ];
    const out = applyOverrides(items, {
      namespace: 'staging',
      defaultNamespace: 'default',
      image: '2',
      only: [],
      skip: ['reconcile-cronjob.yaml'],
    });
    expect(out.map((i) => `${i.object.kind}/${i.object.metadata.name}@${i.object.metadata.namespace ?? ''}`)).toEqual([
      'Namespace/staging@',
      'Deployment/worker@staging',
    ]);
    expect(out.every((i) => i.object.metadata.labels?.['app.kubernetes.io/managed-by'] === 'paymentsctl')).toBe(true);
    expect(JSON.stringify(out[1]!.object.spec)).toContain('"paymentsctl:2"');
    expect(JSON.stringify(out[1]!.object.spec)).not.toContain('"paymentsctl:1"');
    expect(
      applyOverrides(items, { defaultNamespace: 'ctx-ns', only: ['deployment'], skip: [] }).map((i) => i.object.metadata.namespace),
    ).toEqual(['ctx-ns']);
  });
});

describe('offline validation', () => {
  it('names the field, as kubectl explain writes it', async () => {
    expect(fieldPath('/spec/template/spec/containers/0/ports/1/containerPort')).toBe(
      'spec.template.spec.containers[0].ports[1].containerPort',
    );
    const broken = obj('apps/v1', 'Deployment', 'worker', {
      spec: {
        replicas: 'three',
        selector: {},
        template: { spec: { containers: [{ name: 'w', image: 'x', ports: [{ containerPort: 'http' }] }] } },
      },
    });
    const result = await validateObject(broken);
    expect(result).toMatchObject({ ok: false, schema: 'kubernetes' });
    expect(result.problems.map((p) => p.field)).toContain('spec.replicas');
  });

  it('checks Istio kinds with their models and ExternalSecrets with the ESO CRD schema, unknown fields included', async () => {
    const policy = await validateObject(obj('security.istio.io/v1', 'AuthorizationPolicy', 'a', { spec: { action: 'PERMIT' } }));
    expect(policy).toMatchObject({ ok: false, schema: 'istio', problems: [{ field: 'spec.action' }] });
    const good = obj('external-secrets.io/v1', 'ExternalSecret', 's', {
      spec: { secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault' }, data: [{ secretKey: 'K', remoteRef: { key: 'k' } }] },
    });
    expect(await validateObject(good)).toMatchObject({ ok: true, schema: 'crd' });
    const typo = obj('external-secrets.io/v1', 'ExternalSecret', 's', {
      spec: { secretStoreRef: { name: 'vault' }, data: [{ secretKey: 'K', remoteRef: { keyy: 'k' } }] },
    });
    const result = await validateObject(typo);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual({
      field: 'spec.data[0].remoteRef.keyy',
      message: 'is not a field of this object (unknown field)',
    });
    expect(result.problems.map((p) => p.field)).toContain('spec.data[0].remoteRef.key');
  });

  it('refuses a built-in group with a kind it does not have, and a missing name', async () => {
    expect((await validateObject(obj('apps/v1', 'Deploymnet', 'x'))).problems).toEqual([
      { field: 'apiVersion', message: 'apps/v1 has no kind Deploymnet' },
    ]);
    expect((await validateObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} })).problems[0]).toEqual({
      field: 'metadata.name',
      message: 'is required',
    });
    expect(await validateObject(obj('example.com/v1', 'Widget', 'w'))).toMatchObject({ ok: true, schema: 'none' });
  });
});

describe('diff against the live object', () => {
  it('leaves out server fields and never shows a Secret value', () => {
    const live = obj('v1', 'Secret', 's', {
      metadata: { name: 's', resourceVersion: '7', uid: 'u' },
      data: { KEY: Buffer.from('old-secret-value').toString('base64'), SAME: 'eA==' },
    });
    const after = obj('v1', 'Secret', 's', {
      metadata: { name: 's', resourceVersion: '8', uid: 'u' },
      data: { KEY: Buffer.from('new-secret-value').toString('base64'), SAME: 'eA==' },
    });
    const diff = objectDiff('Secret/s', live, after);
    expect(diff.changed).toBe(true);
    expect(diff.text).toContain('-  KEY: "*** (before)"');
    expect(diff.text).toContain('+  KEY: "*** (after)"');
    expect(diff.text).not.toMatch(/secret-value|bmV3|b2xk|resourceVersion/);
    expect(objectDiff('Secret/s', live, { ...live, metadata: { ...live.metadata, resourceVersion: '9' } }).changed).toBe(false);
  });
});
