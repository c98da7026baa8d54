/** `{ [key]: value }` when value is defined, else `{}`: keeps optional fields absent rather than undefined. */
export function defined<K extends string, V>(key: K, value: V | undefined | null | '' | false): { [P in K]?: V } {
  return (value === undefined || value === null || value === '' || value === false ? {} : { [key]: value }) as { [P in K]?: V };
}
