import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { collect } from '../options.js';

interface ApplyFlags {
  execute?: boolean;
  context?: string;
  namespace?: string;
  image?: string;
  only?: string[];
  skip?: string[];
  prune?: boolean;
  forceConflicts?: boolean;
  timeout: string;
  pollInterval: string;
}

const HELP_AFTER = `
Order (each step applied, then waited for):
  1 Namespace
  2 ServiceAccounts, ConfigMaps, Secrets, ExternalSecrets (waited until ESO has synced them)
  3 the migrate Job (topics ensure + migrate), waited for; a failed Job stops here with its pod's last log lines
  4 Deployments, Services, PodDisruptionBudgets, the CronJob; each rollout waited for as kubectl rollout status does
  5 the Istio AuthorizationPolicy and other custom resources
  then what runs, like kubectl get deploy,svc,authorizationpolicy
Istio and External Secrets objects are skipped with a note (exit 0) when the cluster does not serve their API.

Exit codes: 0 applied and rolled out (dry run: valid and acceptable to the cluster) · 1 an object failed or a
rollout did not finish within --timeout · 2 an invalid manifest (the object and field are named) · 3 no cluster
reachable with --execute

Examples:
  paymentsctl apply manifests/overlays/dev                        # offline validation + plan (and diff, with a cluster)
  paymentsctl apply manifests/overlays/dev --context kind-kind --execute
  paymentsctl apply manifests/overlays/production --image registry.example.com/payments/paymentsctl@sha256:… --execute
  paymentsctl apply manifests/overlays/production --only Deployment --skip reconcile-cronjob.yaml`;

export function applyCommand(ctx: () => CliContext): Command {
  return new Command('apply')
    .summary("apply the Kubernetes manifests in the seed's order: server-side apply, Job and rollout waits")
    .description(
      'Render DIR (a kustomization such as manifests/overlays/dev, through kubectl kustomize; or a directory\n' +
        'of YAML files; or a file), validate every object offline against the Kubernetes, Istio and External\n' +
        'Secrets schemas, and print the ordered plan. With a cluster in the kubeconfig (KUBECONFIG, --context)\n' +
        'the plan also comes from a server-side dry run (dryRun=All) with a diff against the live objects.\n' +
        '--execute applies: server-side apply as field manager paymentsctl, in order, waiting at each step.',
    )
    .argument('[dir]', 'kustomization directory, directory of manifests, or a file', '.')
    .option('--execute', 'apply (default: dry run)')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('-n, --namespace <namespace>', 'put every namespaced object here (and rename the Namespace object)')
    .option('--image <ref>', 'image of every paymentsctl container: a tag (0.2.0), a digest (sha256:…) or a full reference')
    .option('--only <kinds|files>', 'apply only these kinds (Deployment) or files (worker.yaml); repeatable, comma separated', collect)
    .option('--skip <kinds|files>', 'leave out these kinds or files; repeatable, comma separated', collect)
    .option('--prune', 'delete objects labelled app.kubernetes.io/managed-by=paymentsctl that the manifests no longer have')
    .option('--force-conflicts', 'take over fields another field manager owns (server-side apply force)')
    .option('--timeout <duration>', 'how long the Job, each rollout and each ExternalSecret sync may take', '5m')
    .option('--poll-interval <duration>', 'how often rollouts and the Job are checked', '2s')
    .addHelpText('after', HELP_AFTER)
    .action(async (dir: string, flags: ApplyFlags) => {
      const c = ctx();
      const { durationMs } = await import('../../config.js');
      const { runApply } = await import('../../ops/apply/apply.js');
      const { renderJson } = await import('../../ui/output.js');
      const { renderApplyReport, renderApplyEvent } = await import('../../ui/apply.js');
      const list = (values: string[] | undefined) =>
        (values ?? [])
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter(Boolean);
      const report = await runApply(
        {
          target: dir,
          execute: Boolean(flags.execute),
          context: flags.context,
          namespace: flags.namespace,
          image: flags.image,
          only: list(flags.only),
          skip: list(flags.skip),
          prune: Boolean(flags.prune),
          forceConflicts: Boolean(flags.forceConflicts),
          timeoutMs: durationMs(flags.timeout, '--timeout', { min: 1000 }),
          pollIntervalMs: durationMs(flags.pollInterval, '--poll-interval', { min: 10 }),
        },
        (event) => (c.json ? c.stderr : c.stdout)(renderApplyEvent(event)),
      );
      c.stdout(c.json ? renderJson(report) : renderApplyReport(report));
      c.exitCode = report.exitCode;
    });
}
