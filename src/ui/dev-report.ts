import { createLogger, type Logger } from '../log.js';
import type { DevIncident, DevSnapshot, DevSummary, InvariantCheck } from '../dev/types.js';
import { renderDevSummary, renderProgressLine } from './dev.js';
import { renderEnvLines, renderJson } from './output.js';

/** Plain progress lines (no TTY, or --json) at most this often. */
const PROGRESS_EVERY_MS = 2_000;

export interface DevReporter {
  /** the logger for the run: quiet under the live view, whose frames log lines would tear apart */
  log: Logger;
  onStep(text: string): void;
  onSnapshot(snapshot: DevSnapshot): void;
  onSummary(summary: DevSummary): void;
  /** --keep: says how to reach the pipeline that keeps running (and, with --incident, what heals it) */
  keptRunning(variables: Record<string, string>, incident?: DevIncident): void;
  /** --incident: every check holds again */
  healed(checks: InvariantCheck[]): void;
  /** --incident: the pipeline was stopped with the incident not healed */
  stoppedUnhealed(): void;
  stop(): void;
}

/**
 * How `dev` shows itself: a live view on a terminal, else a progress line every 2 s; the summary on
 * stdout, as text or one JSON document. Plain lines go where they do not disturb that document.
 */
export async function createDevReporter(options: {
  json: boolean;
  /** stdout is a terminal */
  tty: boolean;
  log: Logger;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}): Promise<DevReporter> {
  const live = !options.json && options.tty;
  const plain = options.json ? options.stderr : options.stdout;
  const view = live ? (await import('./dev-view.js')).startLiveView() : undefined;
  let lastLine = 0;
  return {
    log: live ? createLogger({ level: 'error' }) : options.log,
    onStep: (text) => plain(`${text}\n`),
    onSnapshot: (snapshot) => {
      if (view) return view.update(snapshot);
      if (Date.now() - lastLine < PROGRESS_EVERY_MS && snapshot.phase !== 'done') return;
      lastLine = Date.now();
      plain(renderProgressLine(snapshot));
    },
    onSummary: (summary) => {
      view?.stop();
      options.stdout(options.json ? renderJson(summary) : renderDevSummary(summary));
    },
    keptRunning: (variables, incident) =>
      plain(
        `\nThe pipeline keeps running (--keep). In another shell:\n${renderEnvLines(variables)}` +
          (incident
            ? `\nThe incident: ${incident.deadLettered.length} payments in a dead-letter topic, ${incident.awaitingWebhooks.length} Checkout outcomes whose webhooks were dropped. What heals it, with those variables set:\n` +
              incident.heal.map((command) => `  ${command}\n`).join('') +
              'This run says so here once every check holds over every order.\n'
            : '') +
          'Ctrl-C stops the roles; the stack, the database and the topics stay (`paymentsctl stack down` removes the stack).\n',
      ),
    healed: (checks) => plain(`\nThe incident is healed: all ${checks.length} checks hold over every order (Ctrl-C stops the pipeline).\n`),
    stoppedUnhealed: () => plain('\nStopped with the incident not healed: some orders are still unsettled or dead-lettered.\n'),
    stop: () => view?.stop(),
  };
}
