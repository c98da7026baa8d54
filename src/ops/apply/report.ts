import { ExitCode } from '../../errors.js';
import type { StepName } from './order.js';
import type { ObjectValidation } from './validate.js';

/** What apply means to do with an object (dry run), decided from the cluster when there is one. */
export type Plan = 'apply' | 'create' | 'configure' | 'unchanged' | 're-run' | 'skip' | 'fail';
/** What happened to it (--execute). */
export type Result = 'created' | 'configured' | 'unchanged' | 'skipped' | 'failed' | 'not applied';

export interface ObjectReport {
  step: StepName;
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  file?: string;
  validation: ObjectValidation;
  plan: Plan;
  result?: Result;
  /** why it is skipped or failed, or a caveat about the plan */
  note?: string;
  /** the server rejected it as invalid (exit 2 rather than 1) */
  invalid?: boolean;
  /** unified diff against the live object (dry run with a cluster) */
  diff?: string;
}

export interface WaitReport {
  object: string;
  namespace?: string;
  ok: boolean;
  message: string;
  /** a failed Job's pod: its last log lines or why it never started */
  detail?: string;
}

export interface PruneReport {
  object: string;
  namespace?: string;
  result: 'would delete' | 'deleted' | 'failed';
  note?: string;
}

/** One line of the closing table, like the seed's `kubectl get deploy,svc,authorizationpolicy`. */
export interface RunningRow {
  kind: string;
  name: string;
  namespace?: string;
  columns: [string, string][];
}

export type ClusterState =
  | { state: 'none'; reason: string }
  | { state: 'unreachable'; context: string; server: string; reason: string }
  | { state: 'reachable'; context: string; server: string };

export interface ApplyReport {
  target: string;
  renderer: string;
  execute: boolean;
  cluster: ClusterState;
  objects: ObjectReport[];
  waits: WaitReport[];
  prune: PruneReport[];
  running: RunningRow[];
  outcome: 'ok' | 'invalid' | 'failed';
  exitCode: ExitCode;
}

export type ApplyEvent =
  | { type: 'step'; step: StepName; title: string }
  | { type: 'object'; object: ObjectReport }
  | { type: 'progress'; object: string; message: string }
  | { type: 'waited'; wait: WaitReport }
  | { type: 'pruned'; prune: PruneReport };

/** 2 for anything invalid (offline or as the server judged it), 1 for any other failure, else 0. */
export function outcomeOf(objects: ObjectReport[], waits: WaitReport[], prune: PruneReport[]): Pick<ApplyReport, 'outcome' | 'exitCode'> {
  if (objects.some((o) => !o.validation.ok || o.invalid)) return { outcome: 'invalid', exitCode: ExitCode.usage };
  const failed =
    objects.some((o) => o.plan === 'fail' || o.result === 'failed') || waits.some((w) => !w.ok) || prune.some((p) => p.result === 'failed');
  return failed ? { outcome: 'failed', exitCode: ExitCode.failed } : { outcome: 'ok', exitCode: ExitCode.ok };
}
