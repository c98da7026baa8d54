import { UnavailableError, UsageError } from '../../errors.js';
import { ClusterSession } from './cluster.js';
import { KubeApiError } from './errors.js';
import { findCluster } from './kube-client.js';
import { describeObject, objectName, type KubeObject } from './manifest.js';
import { optionalApiOf, orderObjects, STEPS } from './order.js';
import { objectDiff } from './diff.js';
import { applyOverrides } from './overrides.js';
import { renderManifests } from './render.js';
import {
  outcomeOf,
  type ApplyEvent,
  type ApplyReport,
  type ClusterState,
  type ObjectReport,
  type PruneReport,
  type WaitReport,
} from './report.js';
import { jobProgress } from './rollout.js';
import { validateObject } from './validate.js';

export interface ApplyOptions {
  /** a kustomization directory (an overlay), a directory of YAML files, or a file */
  target: string;
  execute: boolean;
  context?: string;
  namespace?: string;
  image?: string;
  only: string[];
  skip: string[];
  prune: boolean;
  forceConflicts: boolean;
  /** how long each wait (the Job, the rollouts, an ExternalSecret's sync) may take */
  timeoutMs: number;
  pollIntervalMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/** Kinds --prune looks at even when the manifests no longer contain any of them. */
const PRUNABLE = [
  ['v1', 'ConfigMap'],
  ['v1', 'Secret'],
  ['v1', 'ServiceAccount'],
  ['v1', 'Service'],
  ['apps/v1', 'Deployment'],
  ['batch/v1', 'Job'],
  ['batch/v1', 'CronJob'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['security.istio.io/v1', 'AuthorizationPolicy'],
  ['external-secrets.io/v1', 'ExternalSecret'],
].map(([apiVersion, kind]) => ({ apiVersion: apiVersion!, kind: kind! }));

interface Planned {
  report: ObjectReport;
  object: KubeObject;
}

/**
 * `paymentsctl apply`: render, validate every object offline, then — dry run — compare with the
 * cluster through a server-side dry run, or — with execute — apply step by step in the seed's
 * order, waiting for the migrate Job and each rollout before going on.
 */
export async function runApply(options: ApplyOptions, onEvent: (event: ApplyEvent) => void = () => undefined): Promise<ApplyReport> {
  const rendered = await renderManifests(options.target, options.cwd);
  const found = findCluster({ context: options.context, env: options.env, home: options.home });
  const items = applyOverrides(rendered.objects, {
    namespace: options.namespace,
    defaultNamespace: 'client' in found ? found.namespace : 'default',
    image: options.image,
    only: options.only,
    skip: options.skip,
  });
  if (items.length === 0) throw new UsageError(`nothing to apply: ${options.target} has no objects left after --only/--skip`);
  const planned: Planned[] = [];
  for (const item of orderObjects(items)) {
    const { object, file, step } = item;
    const optional = optionalApiOf(object);
    const report: ObjectReport = {
      step,
      apiVersion: object.apiVersion,
      kind: object.kind,
      name: object.metadata.name ?? '',
      ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
      ...(file ? { file } : {}),
      validation: await validateObject(object),
      plan: 'apply',
      ...(optional ? { note: `only if the cluster serves ${object.apiVersion} (${optional.product})` } : {}),
    };
    planned.push({ report, object });
  }
  markDuplicates(planned);

  const finish = (
    cluster: ClusterState,
    waits: WaitReport[] = [],
    prune: PruneReport[] = [],
    running: ApplyReport['running'] = [],
  ): ApplyReport => ({
    target: options.target,
    renderer: rendered.renderer,
    execute: options.execute,
    cluster,
    objects: planned.map((p) => p.report),
    waits,
    prune,
    running,
    ...outcomeOf(
      planned.map((p) => p.report),
      waits,
      prune,
    ),
  });

  const invalid = planned.some((p) => !p.report.validation.ok);
  if (!('client' in found)) {
    if (options.execute && !invalid) {
      throw new UnavailableError(`--execute needs a cluster, and there is none: ${found.reason}`, {
        hint: 'point KUBECONFIG at your cluster (or pass --context); without --execute, apply validates offline',
      });
    }
    return finish({ state: 'none', reason: found.reason });
  }
  if (invalid) return finish({ state: 'none', reason: `${found.context} not contacted: the manifests are invalid` });

  const session = new ClusterSession(found.client, options.forceConflicts);
  try {
    await session.discovery.serves('apps/v1');
  } catch (error) {
    if (!(error instanceof UnavailableError) || options.execute) throw error;
    return finish({ state: 'unreachable', context: found.context, server: found.server, reason: error.message });
  }
  const cluster: ClusterState = { state: 'reachable', context: found.context, server: found.server };
  const waitOptions = { timeoutMs: options.timeoutMs, intervalMs: options.pollIntervalMs ?? 2000 };

  if (!options.execute) {
    await dryRun(session, planned);
    const prune = options.prune ? await session.prune(await session.pruneCandidates(served(planned), prunableKinds(planned)), false) : [];
    return finish(cluster, [], prune);
  }

  const waits: WaitReport[] = [];
  let stopped = false;
  for (const step of STEPS) {
    const inStep = planned.filter((p) => p.report.step === step.name);
    if (inStep.length === 0) continue;
    if (stopped) {
      for (const p of inStep) p.report.result = 'not applied';
      continue;
    }
    onEvent({ type: 'step', step: step.name, title: step.title });
    const toWait: { object: KubeObject; path: string }[] = [];
    for (const p of inStep) {
      const path = await applyOne(session, p, waitOptions);
      onEvent({ type: 'object', object: p.report });
      if (path && ['Job', 'Deployment', 'ExternalSecret'].includes(p.object.kind)) toWait.push({ object: p.object, path });
    }
    if (inStep.some((p) => p.report.result === 'failed')) {
      stopped = true;
      continue;
    }
    const results = await Promise.all(
      toWait.map(({ object, path }) =>
        session.waitFor(object, path, waitOptions, (message) => onEvent({ type: 'progress', object: objectName(object), message })),
      ),
    );
    for (const wait of results) {
      waits.push(wait);
      onEvent({ type: 'waited', wait });
    }
    if (results.some((w) => !w.ok)) stopped = true;
  }
  const prune =
    options.prune && !stopped ? await session.prune(await session.pruneCandidates(served(planned), prunableKinds(planned)), true) : [];
  for (const p of prune) onEvent({ type: 'pruned', prune: p });
  const namespaces = [...new Set(planned.map((p) => p.report.namespace).filter((ns): ns is string => Boolean(ns)))];
  return finish(cluster, waits, prune, await session.running(namespaces));
}

const served = (planned: Planned[]): ObjectReport[] =>
  planned.map((p) => p.report).filter((r) => r.plan !== 'skip' && r.result !== 'skipped');

function prunableKinds(planned: Planned[]): { apiVersion: string; kind: string }[] {
  const kinds = [...PRUNABLE, ...planned.map((p) => ({ apiVersion: p.object.apiVersion, kind: p.object.kind }))].filter(
    (k) => k.kind !== 'Namespace',
  );
  return [...new Map(kinds.map((k) => [`${k.apiVersion}/${k.kind}`, k])).values()];
}

/** The same object twice would be applied twice, the second silently winning: refuse it. */
function markDuplicates(planned: Planned[]): void {
  const seen = new Set<string>();
  for (const p of planned) {
    const key = `${p.object.apiVersion.split('/')[0]}/${p.object.kind}/${p.object.metadata.namespace ?? ''}/${p.object.metadata.name}`;
    if (seen.has(key)) {
      p.report.validation = {
        ...p.report.validation,
        ok: false,
        problems: [...p.report.validation.problems, { field: 'metadata.name', message: 'is declared twice' }],
      };
    }
    seen.add(key);
  }
}

function failure(report: ObjectReport, error: unknown): void {
  if (!(error instanceof KubeApiError)) throw error;
  report.note = error.detail;
  // 400/422: the server found the manifest invalid (unknown field under Strict, immutable field, bad value).
  if (error.status === 400 || error.status === 422) report.invalid = true;
  if (error.status === 409)
    report.note = `${error.detail} — another field manager owns these fields; re-run with --force-conflicts to take them over`;
}

async function dryRun(session: ClusterSession, planned: Planned[]): Promise<void> {
  const newNamespaces = new Set<string>();
  for (const p of planned) {
    const { report, object } = p;
    const resolution = await session.resolve(object);
    if (!resolution.served) {
      report.plan = resolution.skip ? 'skip' : 'fail';
      report.note = resolution.note;
      continue;
    }
    delete report.note;
    if (report.namespace && newNamespaces.has(report.namespace)) {
      report.plan = 'create';
      report.note = 'checked offline only: its namespace does not exist yet';
      continue;
    }
    const live = await session.live(resolution.path);
    if (object.kind === 'Namespace' && !live && report.name) newNamespaces.add(report.name);
    if (object.kind === 'Job' && live) {
      const progress = jobProgress(live);
      if (progress.done || progress.failed) {
        report.plan = 're-run';
        report.note = 'the finished Job is deleted and created again';
      } else {
        report.plan = 'fail';
        report.note = `${describeObject(object)} is still running (another apply?); wait for it or delete it`;
      }
      continue;
    }
    try {
      const after = await session.serverSideApply(resolution.path, object, true);
      const diff = objectDiff(objectName(object), live, after);
      report.plan = !live ? 'create' : diff.changed ? 'configure' : 'unchanged';
      if (live && diff.changed) report.diff = diff.text;
    } catch (error) {
      report.plan = 'fail';
      failure(report, error);
    }
  }
}

/** Applies one object; returns its path when it was applied and is worth waiting for. */
async function applyOne(
  session: ClusterSession,
  p: Planned,
  waitOptions: { timeoutMs: number; intervalMs: number },
): Promise<string | undefined> {
  const { report, object } = p;
  const resolution = await session.resolve(object);
  if (!resolution.served) {
    report.result = resolution.skip ? 'skipped' : 'failed';
    report.note = resolution.note;
    return undefined;
  }
  delete report.note;
  try {
    let before = await session.live(resolution.path);
    if (object.kind === 'Job' && before) {
      const progress = jobProgress(before);
      if (!progress.done && !progress.failed) {
        report.result = 'failed';
        report.note = `${describeObject(object)} is still running (another apply?); wait for it or delete it`;
        return undefined;
      }
      // A Job's pod template cannot change and a finished Job never runs again: start it afresh.
      await session.delete(resolution.path);
      if (!(await session.waitGone(resolution.path, waitOptions))) {
        report.result = 'failed';
        report.note = 'the finished Job was not deleted in time';
        return undefined;
      }
      before = undefined;
    }
    const after = await session.serverSideApply(resolution.path, object, false);
    report.result = !before ? 'created' : before.metadata.resourceVersion === after.metadata.resourceVersion ? 'unchanged' : 'configured';
    return resolution.path;
  } catch (error) {
    report.result = 'failed';
    failure(report, error);
    return undefined;
  }
}
