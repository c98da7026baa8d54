import { Box, Text, render, type Instance } from 'ink';
import { ProgressBar } from '@inkjs/ui';
import type { DevPhase, DevSnapshot, RoleSnapshot, RoleState, StageSnapshot } from '../dev/types.js';
import { OUTCOME_ORDER, completionPercent, formatCount, formatDuration, formatRate } from './dev.js';

/*
 * The live view of `paymentsctl dev`. It has to fit a 24 × 100 terminal, so each section is a
 * fixed number of rows and long text is truncated rather than wrapped.
 */

const RECENT_SHOWN = 5;
const BAR_WIDTH = 40;
const STAGE_NAME_WIDTH = 11;
const HEALTH_NAME_WIDTH = 16;
const NUMBER_WIDTH = 9;

const PHASE_COLOR: Record<DevPhase, string> = { placing: 'cyan', draining: 'yellow', checking: 'magenta', done: 'green' };
const ROLE_COLOR: Record<RoleState, string | undefined> = { ready: 'green', starting: 'yellow', down: 'red', stopped: undefined };

function Header({ snapshot }: { snapshot: DevSnapshot }) {
  return (
    <Box gap={2}>
      <Text bold>paymentsctl dev</Text>
      <Text color={PHASE_COLOR[snapshot.phase]}>{snapshot.phase}</Text>
      <Text>{formatDuration(snapshot.elapsedMs)}</Text>
      {snapshot.chaos && (
        <Text backgroundColor="red" color="white" bold>
          {' chaos '}
        </Text>
      )}
    </Box>
  );
}

function Progress({ orders }: { orders: DevSnapshot['orders'] }) {
  const percent = completionPercent(orders);
  return (
    <Box gap={2}>
      <Box width={BAR_WIDTH}>
        <ProgressBar value={percent} />
      </Box>
      <Text bold>{`${percent}%`.padStart(4)}</Text>
      <Text>
        settled {formatCount(orders.terminal)}/{formatCount(orders.planned)}
      </Text>
      <Text dimColor>
        placed {formatCount(orders.placed)}/{formatCount(orders.planned)}
      </Text>
    </Box>
  );
}

function StageRow({ name, stage }: { name: string; stage: StageSnapshot }) {
  return (
    <Text>
      {name.padEnd(STAGE_NAME_WIDTH)}
      {formatCount(stage.total).padStart(NUMBER_WIDTH)}
      {formatRate(stage.perSecond).padStart(NUMBER_WIDTH + 1)}
    </Text>
  );
}

function Throughput({ stages }: { stages: DevSnapshot['stages'] }) {
  return (
    <Box flexDirection="column" width={STAGE_NAME_WIDTH + 2 * NUMBER_WIDTH + 1}>
      <Text dimColor>
        {'throughput'.padEnd(STAGE_NAME_WIDTH)}
        {'total'.padStart(NUMBER_WIDTH)}
        {'rate'.padStart(NUMBER_WIDTH + 1)}
      </Text>
      <StageRow name="placed" stage={stages.placed} />
      <StageRow name="published" stage={stages.published} />
      <StageRow name="settled" stage={stages.settled} />
      <StageRow name="webhooks" stage={stages.webhooks} />
    </Box>
  );
}

function HealthRow({ name, value, alarmWhenAboveZero = false }: { name: string; value: number; alarmWhenAboveZero?: boolean }) {
  const alarm = alarmWhenAboveZero && value > 0;
  return (
    <Text>
      {name.padEnd(HEALTH_NAME_WIDTH)}
      <Text color={alarm ? 'red' : undefined} bold={alarm}>
        {formatCount(value).padStart(NUMBER_WIDTH)}
      </Text>
    </Text>
  );
}

function Health({ snapshot }: { snapshot: DevSnapshot }) {
  return (
    <Box flexDirection="column">
      <Text dimColor>pipeline</Text>
      <HealthRow name="outbox backlog" value={snapshot.outboxBacklog} />
      <HealthRow name="consumer lag" value={snapshot.consumerLag} />
      <HealthRow name="retries" value={snapshot.retries} />
      {/* A dead letter is a message the pipeline gave up on: always worth a look. */}
      <HealthRow name="DLQ" value={snapshot.deadLetters} alarmWhenAboveZero />
    </Box>
  );
}

function Outcomes({ snapshot }: { snapshot: DevSnapshot }) {
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text dimColor>{'outcomes'.padEnd(STAGE_NAME_WIDTH)}</Text>
        {OUTCOME_ORDER.map((status) => `${status} ${formatCount(snapshot.outcomes[status])}`).join('  ')}
      </Text>
      <Text wrap="truncate-end">
        <Text dimColor>{'compensated'.padEnd(STAGE_NAME_WIDTH + 1)}</Text>
        {formatCount(snapshot.compensated)}
        <Text dimColor>{'    duplicates absorbed  '}</Text>
        worker {formatCount(snapshot.duplicatesAbsorbed.worker)} webhook {formatCount(snapshot.duplicatesAbsorbed.webhook)}
      </Text>
    </Box>
  );
}

function RoleLine({ role }: { role: RoleSnapshot }) {
  const color = ROLE_COLOR[role.state];
  const dim = role.state === 'stopped';
  return (
    <Text wrap="truncate-end">
      <Text color={color} dimColor={dim}>
        {'● '}
        {role.name.padEnd(STAGE_NAME_WIDTH)}
        {role.state.padEnd(10)}
      </Text>
      <Text dimColor>pid </Text>
      {(role.pid === undefined ? '–' : String(role.pid)).padEnd(9)}
      <Text dimColor>kills </Text>
      {formatCount(role.kills).padEnd(5)}
      <Text dimColor>restarts </Text>
      {formatCount(role.restarts).padEnd(5)}
      <Text dimColor>unexpected exits </Text>
      <Text color={role.unexpectedExits > 0 ? 'red' : undefined}>{formatCount(role.unexpectedExits)}</Text>
    </Text>
  );
}

export function DevView({ snapshot }: { snapshot: DevSnapshot }) {
  const recent = snapshot.recent.slice(-RECENT_SHOWN);
  return (
    <Box flexDirection="column">
      <Header snapshot={snapshot} />
      <Progress orders={snapshot.orders} />
      <Box marginTop={1} gap={6}>
        <Throughput stages={snapshot.stages} />
        <Health snapshot={snapshot} />
      </Box>
      <Box marginTop={1}>
        <Outcomes snapshot={snapshot} />
      </Box>
      <Box marginTop={1} flexDirection="column">
        {snapshot.roles.map((role) => (
          <RoleLine key={role.name} role={role} />
        ))}
      </Box>
      {recent.length > 0 && (
        <Box marginTop={1} flexDirection="column">
          {recent.map((line, index) => (
            <Text key={index} dimColor wrap="truncate-end">
              {line}
            </Text>
          ))}
        </Box>
      )}
    </Box>
  );
}

export interface LiveView {
  update(snapshot: DevSnapshot): void;
  stop(): void;
}

/**
 * Redraws the view in place for each snapshot. Nothing is drawn until the first snapshot, and
 * `stop()` leaves the last frame on screen so the run's final state stays above the summary.
 */
export function startLiveView(options: { stdout?: NodeJS.WriteStream } = {}): LiveView {
  let instance: Instance | undefined;
  let stopped = false;
  return {
    update(snapshot) {
      if (stopped) return;
      const view = <DevView snapshot={snapshot} />;
      if (instance) {
        instance.rerender(view);
        return;
      }
      instance = render(view, {
        stdout: options.stdout ?? process.stdout,
        // `dev` stops its roles and cleans up on SIGINT itself; ink must not exit underneath it,
        // and role output goes to log files, so there is no console output to interleave.
        exitOnCtrlC: false,
        patchConsole: false,
      });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      instance?.unmount();
    },
  };
}
