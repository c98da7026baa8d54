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
 * A counter read from a process that may restart. Each reading says which run of the process it
 * came from (its pid): a new one started over from 0, so what the old one had counted is kept. A
 * drop within the same run is taken as a restart too (as Prometheus' rate() does).
 */
export class RestartingCounter {
  private before = 0;
  private last = 0;
  private instance?: number;

  observe(value: number, instance?: number): void {
    if (instance !== this.instance || value < this.last) {
      this.before += this.last;
      this.last = 0;
    }
    this.instance = instance;
    this.last = value;
  }

  get total(): number {
    return this.before + this.last;
  }
}
