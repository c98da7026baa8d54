import { OperationError, PaymentsctlError, UnavailableError, errorMessage } from '../../errors.js';
import { describeTarget } from '../../db/connect.js';

/** Runs database work; a server that cannot be reached becomes exit 3, missing tables a hint to migrate. */
export async function postgresReachable<T>(url: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // Our own errors (a bad selection, say) are already what the operator should see.
    if (error instanceof PaymentsctlError) throw error;
    const code = (error as { code?: string }).code ?? '';
    if (code === '42P01')
      throw new OperationError(`the replay tables are missing in ${describeTarget(url)}`, {
        hint: 'apply the migrations first: paymentsctl migrate',
        cause: error,
      });
    if (
      ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P03', '3D000', '28P01'].includes(code) ||
      /connect|timeout/i.test(errorMessage(error))
    )
      throw new UnavailableError(`cannot reach PostgreSQL at ${describeTarget(url)}: ${errorMessage(error)}`, {
        hint: 'check DATABASE_URL and that PostgreSQL is up',
        cause: error,
      });
    throw error;
  }
}
