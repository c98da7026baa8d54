import type { CliContext } from './context.js';

/** Prints a command's result: one JSON document with --json (`asJson` of it), else its text view. */
export async function printResult<T>(
  c: CliContext,
  result: T,
  asText: (result: T) => string,
  asJson: (result: T) => unknown = (value) => value,
): Promise<void> {
  const { renderJson } = await import('../ui/output.js');
  c.stdout(c.json ? renderJson(asJson(result)) : asText(result));
}
