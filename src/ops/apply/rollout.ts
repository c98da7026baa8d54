import { isObject } from './manifest.js';

/** Where a rollout or a Job stands, in the words kubectl uses. */
export interface Progress {
  done: boolean;
  /** finished without success: waiting longer will not help */
  failed: boolean;
  message: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function conditions(status: unknown): Condition[] {
  return isObject(status) && Array.isArray(status.conditions) ? (status.conditions as Condition[]) : [];
}

const num = (value: unknown): number => (typeof value === 'number' ? value : 0);

/**
 * A Deployment's rollout, judged exactly as `kubectl rollout status` does
 * (pkg/polymorphichelpers/rollout_status.go): nothing counts until the controller has observed
 * the current generation; then a passed progress deadline fails it, and it is done when every
 * replica is updated, no old one is left and every updated one is available.
 */
export function deploymentProgress(deployment: {
  metadata?: { name?: string; generation?: number };
  spec?: unknown;
  status?: unknown;
}): Progress {
  const name = deployment.metadata?.name ?? '';
  const status = isObject(deployment.status) ? deployment.status : {};
  const spec = isObject(deployment.spec) ? deployment.spec : {};
  const generation = num(deployment.metadata?.generation);
  if (generation > num(status.observedGeneration)) {
    return { done: false, failed: false, message: 'Waiting for deployment spec update to be observed...' };
  }
  const progressing = conditions(status).find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { done: false, failed: true, message: `deployment "${name}" exceeded its progress deadline` };
  }
  const updated = num(status.updatedReplicas);
  const wanted = typeof spec.replicas === 'number' ? spec.replicas : undefined;
  if (wanted !== undefined && updated < wanted) {
    return {
      done: false,
      failed: false,
      message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${wanted} new replicas have been updated...`,
    };
  }
  if (num(status.replicas) > updated) {
    return {
      done: false,
      failed: false,
      message: `Waiting for deployment "${name}" rollout to finish: ${num(status.replicas) - updated} old replicas are pending termination...`,
    };
  }
  if (num(status.availableReplicas) < updated) {
    return {
      done: false,
      failed: false,
      message: `Waiting for deployment "${name}" rollout to finish: ${num(status.availableReplicas)} of ${updated} updated replicas are available...`,
    };
  }
  return { done: true, failed: false, message: `deployment "${name}" successfully rolled out` };
}

/** A Job: Complete or Failed conditions decide; otherwise its pod counts. */
export function jobProgress(job: { metadata?: { name?: string }; status?: unknown }): Progress {
  const name = job.metadata?.name ?? '';
  const status = isObject(job.status) ? job.status : {};
  const isTrue = (type: string) => conditions(status).find((c) => c.type === type && c.status === 'True');
  if (isTrue('Complete')) return { done: true, failed: false, message: `job "${name}" completed` };
  const failed = isTrue('Failed');
  if (failed)
    return {
      done: false,
      failed: true,
      message: `job "${name}" failed: ${failed.reason ?? ''}${failed.message ? ` (${failed.message})` : ''}`.trim(),
    };
  return {
    done: false,
    failed: false,
    message: `Waiting for job "${name}" to complete: ${num(status.active)} active, ${num(status.succeeded)} succeeded, ${num(status.failed)} failed`,
  };
}

/** An ExternalSecret is done once ESO reports Ready, i.e. it has written its target Secret. */
export function externalSecretProgress(externalSecret: { metadata?: { name?: string }; status?: unknown }): Progress {
  const name = externalSecret.metadata?.name ?? '';
  const ready = conditions(externalSecret.status).find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return { done: true, failed: false, message: `externalsecret "${name}" synced` };
  const why = ready?.reason ? `: ${ready.reason}${ready.message ? ` (${ready.message})` : ''}` : '';
  return { done: false, failed: false, message: `Waiting for externalsecret "${name}" to sync${why}` };
}
