import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DlqReplayReport } from '../../src/ops/replay/dlq.js';
import { ReplayHeaders } from '../../src/ops/replay/replay-headers.js';
import type { StatusReport } from '../../src/ops/status/report.js';
import { parseJson, runCli } from '../helpers/cli.js';
import type { ConsumedMessage } from '../helpers/kafka.js';
import { startPipeline, type Pipeline } from '../helpers/pipeline.js';
import type { RoleProcess } from '../helpers/roles.js';
import { waitFor } from '../helpers/wait.js';

const NO_FAULTS = { errorRate: 0, errorAfterRunRate: 0, resetRate: 0, timeoutRate: 0 };
const forKey = (key: string) => (messages: ConsumedMessage[]) => messages.some((m) => m.key === key);

/** A payment dead-lettered while Stripe was refusing, replayed once the cause is gone: charged once, however often replayed. */
describe('replay dlq through a running worker', () => {
  let pipeline: Pipeline;
  let worker: RoleProcess;

  beforeAll(async () => {
    pipeline = await startPipeline();
    worker = await pipeline.startWorker(['--handlers', 'payments', '--retry-delays', '300ms,600ms,900ms', '--stripe-timeout', '1s']);
  });
  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(pipeline.logs());
  });
  afterAll(async () => {
    await pipeline?.close();
  });

  const replay = async (args: string[]) => {
    const result = await runCli(['replay', 'dlq', '--topic', 'orders.placed', ...args, '--json'], pipeline.env);
    if (result.exitCode !== 0) throw new Error(`replay dlq exited ${result.exitCode}:\n${result.stderr}`);
    return parseJson<DlqReplayReport>(result.stdout);
  };
  const completedFor = async (key: string) => (await pipeline.read('payments.completed', forKey(key))).filter((m) => m.key === key);

  it('the poison payment is processed once after the fix; a second replay skips it; --again is absorbed by the inbox', async () => {
    // The incident: every Stripe call refused, so the payment runs out of retries.
    pipeline.emulator.setFaults({ errorRate: 1, errorStatus: 429 });
    await pipeline.placeOrders([{ order_id: 'ord-replayed', amount: 2100, currency: 'usd', payment_method: 'pm_card_visa' }]);
    await pipeline.read('orders.placed.dlq', forKey('ord-replayed'));
    expect((await pipeline.charges()).byOrder['ord-replayed'] ?? 0).toBe(0);

    // The fix: Stripe answers again. The dry run shows it, sends nothing.
    pipeline.emulator.setFaults(NO_FAULTS);
    const plan = await replay([]);
    expect(plan).toMatchObject({ mode: 'plan', selected: 1, toReplay: 1 });
    expect(plan.groups[0]).toMatchObject({ errorKind: 'transient', reason: 'retries_exhausted', count: 1 });

    const done = await replay(['--execute']);
    expect(done).toMatchObject({ replayed: 1, failed: [] });
    const completed = await completedFor('ord-replayed');
    expect(completed).toHaveLength(1);
    const row = (await pipeline.pool.query('SELECT status FROM payments WHERE aggregate_id = $1', ['ord-replayed'])).rows[0];
    expect(row).toMatchObject({ status: 'succeeded' });
    expect((await pipeline.charges()).byOrder['ord-replayed']).toBe(1);

    // status counts the dead-letter depth net of what was replayed.
    const status = parseJson<StatusReport>((await runCli(['status', '--json', '--look-interval', '300ms'], pipeline.env)).stdout);
    expect(status.deadLetters?.find((d) => d.topic === `${pipeline.prefix}orders.placed.dlq`)).toMatchObject({ depth: 1, replayed: 1 });
    expect(status.findings.filter((f) => f.kind === 'dead_letters')).toEqual([]);

    const second = await replay(['--execute']);
    expect(second).toMatchObject({ selected: 1, alreadyReplayed: 1, toReplay: 0, replayed: 0 });

    const duplicatesBefore = await worker.metric('paymentsctl_worker_messages_processed_total', { result: 'duplicate' });
    const again = await replay(['--execute', '--again']);
    expect(again).toMatchObject({ replayed: 1 });
    // The worker saw the copy (its inbox knew the ce_id) and did nothing with it.
    await waitFor(
      'the worker to drop the copy as a duplicate',
      async () => (await worker.metric('paymentsctl_worker_messages_processed_total', { result: 'duplicate' })) > duplicatesBefore,
    );
    const placed = await pipeline.read('orders.placed', (m) => m.filter((x) => x.key === 'ord-replayed').length >= 3);
    expect(placed.filter((m) => m.key === 'ord-replayed').map((m) => m.headers[ReplayHeaders.count] ?? 'original')).toEqual([
      'original',
      '1',
      '2',
    ]);
    expect(await completedFor('ord-replayed')).toHaveLength(1);
    expect((await pipeline.charges()).byOrder['ord-replayed']).toBe(1);
    expect((await pipeline.charges()).duplicates.orders).toEqual([]);
  });
});
