/**
 * The value of a Prometheus sample in text exposition format, summed over the label sets that
 * contain `labels`. Enough to read our own roles' counters; not a general parser.
 */
export function sumSamples(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * A counter read from a process that may restart: a drop means the process started over from 0,
 * so what it counts since is added to what was counted before (as Prometheus' rate() does).
 */
export class RestartingCounter {
  private before = 0;
  private last = 0;

  observe(value: number): void {
    if (value < this.last) this.before += this.last;
    this.last = value;
  }

  get total(): number {
    return this.before + this.last;
  }
}
