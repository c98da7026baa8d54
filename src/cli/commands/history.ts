import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addStoreOptions, type StoreFlags } from '../options.js';
import { printResult } from '../print.js';
import { UsageError } from '../../errors.js';

interface HistoryFlags extends StoreFlags {
  user?: string;
  limit: string;
  before?: string;
}

export function historyCommand(ctx: () => CliContext): Command {
  const command = new Command('history')
    .summary("show a rider's or customer's transactions (charges, refunds, failed payments)")
    .description(
      "Show one user's transaction history, newest first, as the worker's history handler recorded it\n" +
        'from payments.completed, payments.refunded and payments.failed: the user is the trip’s rider\n' +
        '(user_id) or the order’s customer. Amounts in minor units and in major units. Read-only; needs\n' +
        'only the database. A page ends with the cursor to pass to --before for the next, older one.',
    )
    .option('--user <id>', 'the user id (a rider’s user_id, an order’s customer)')
    .option('--limit <n>', 'entries per page (at most 200)', '20')
    .option('--before <cursor>', 'the next-page cursor an earlier page printed');
  addStoreOptions(command, ['databaseUrl']);
  return command.action(async (flags: HistoryFlags) => {
    const c = ctx();
    const { databaseUrl, positiveInt } = await import('../../config.js');
    if (!flags.user?.trim()) throw new UsageError('--user is required', { hint: 'e.g. paymentsctl history --user rider_42' });
    const options = {
      databaseUrl: databaseUrl(flags),
      userId: flags.user.trim(),
      limit: positiveInt(flags.limit, '--limit', { max: 200 }),
      ...(flags.before ? { before: flags.before } : {}),
    };
    const { readTransactionHistory } = await import('../../payments/history.js');
    const { renderHistory } = await import('../../ui/history.js');
    await printResult(c, await readTransactionHistory(options), renderHistory);
  });
}
