import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDocuments } from '../../src/ops/apply/render.js';
import { validateObject } from '../../src/ops/apply/validate.js';
import { parseJson, runCli } from '../helpers/cli.js';

// No cluster here: HOME points at an empty directory and KUBECONFIG is unset, so apply finds none.
let home: string;
const noCluster = () => ({ HOME: home, KUBECONFIG: undefined });

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'apply-cli-home-'));
});

async function manifestFiles(dir = 'manifests'): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map((e) => (e.isDirectory() ? manifestFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [])),
  );
  return files.flat();
}

describe('manifests', () => {
  it('every object in every manifest file validates offline', async () => {
    const files = (await manifestFiles()).filter((f) => !f.endsWith('kustomization.yaml') && !f.includes('remove-placeholder'));
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const file of files) {
      for (const object of parseDocuments(await readFile(file, 'utf8'), file)) {
        const result = await validateObject(object);
        expect({ file, kind: object.kind, ...result }).toMatchObject({ file, ok: true });
        expect(result.schema).not.toBe('none');
      }
    }
  });

  it.each(['dev', 'production'])('kubectl kustomize renders the %s overlay', async (overlay) => {
    const { stdout } = await execa('kubectl', ['kustomize', `manifests/overlays/${overlay}`]);
    const kinds = parseDocuments(stdout, overlay).map((o) => o.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['Namespace', 'ConfigMap', 'Job', 'Deployment', 'Service', 'PodDisruptionBudget', 'CronJob']),
    );
    expect(kinds.includes('Secret')).toBe(overlay === 'dev');
    expect(kinds.includes('ExternalSecret')).toBe(overlay === 'production');
  });
});

describe('paymentsctl apply without a cluster', () => {
  it('dev overlay: prints the ordered plan and the validation result, exit 0', async () => {
    const result = await runCli(['apply', 'manifests/overlays/dev'], noCluster());
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('cluster: none — no kubeconfig');
    expect(result.stdout).toMatch(/validation: ✓ all 15 objects valid/);
    const order = [...result.stdout.matchAll(/^\d+\s+(\w+)\s+(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(order[0]).toBe('namespace Namespace/bookstore-platform-payments');
    expect(order.indexOf('migrate Job/paymentsctl-migrate')).toBeGreaterThan(order.indexOf('config Secret/paymentsctl-secrets'));
    expect(order.indexOf('workloads Deployment/stripe-emulator')).toBeGreaterThan(order.indexOf('migrate Job/paymentsctl-migrate'));
  });

  it('production overlay as JSON: the Istio and ESO objects are planned only if served', async () => {
    const result = await runCli(['--json', 'apply', 'manifests/overlays/production', '--image', 'sha256:abc'], noCluster());
    expect(result.exitCode).toBe(0);
    const report = parseJson<any>(result.stdout);
    expect(report).toMatchObject({ outcome: 'ok', exitCode: 0, cluster: { state: 'none' } });
    expect(report.objects.at(-1)).toMatchObject({
      kind: 'AuthorizationPolicy',
      step: 'policy',
      note: expect.stringContaining('security.istio.io/v1'),
    });
    expect(report.objects.find((o: any) => o.kind === 'ExternalSecret').validation).toMatchObject({ ok: true, schema: 'crd' });
  });

  it('--execute with no cluster: exit 3', async () => {
    const result = await runCli(['apply', 'manifests/overlays/dev', '--execute'], noCluster());
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain('--execute needs a cluster, and there is none');
  });

  it('a deliberately broken copy: exit 2 naming the object and the field, nothing applied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'apply-broken-'));
    await cp('manifests', join(dir, 'manifests'), { recursive: true });
    const worker = join(dir, 'manifests/base/worker.yaml');
    await writeFile(worker, (await readFile(worker, 'utf8')).replace('replicas: 3', 'replicas: three'));
    const policy = join(dir, 'manifests/istio/webhook-authorization-policy.yaml');
    await writeFile(policy, (await readFile(policy, 'utf8')).replace('action: ALLOW', 'action: PERMIT'));
    const result = await runCli(['apply', join(dir, 'manifests/overlays/production'), '--execute'], noCluster());
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toMatch(
      /✗ Deployment bookstore-platform-payments\/payments-worker \(.*manifests\/base\/worker\.yaml\): spec\.replicas must be integer/,
    );
    expect(result.stdout).toMatch(
      /✗ AuthorizationPolicy bookstore-platform-payments\/webhook-serve-public-path .*: spec\.action must be one of/,
    );
    expect(result.stdout).toContain('2 of 14 objects invalid — nothing was sent to the cluster');
  });

  it("a kustomization that does not render: exit 2 with kustomize's message", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'apply-bad-kustomization-'));
    await writeFile(join(dir, 'kustomization.yaml'), 'resources:\n  - missing.yaml\n');
    const result = await runCli(['apply', dir], noCluster());
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/kubectl kustomize .* failed: .*missing\.yaml/s);
  });
});
