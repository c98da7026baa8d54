/** A shell-style glob (`*` any run, `?` one character, nothing else special) as an anchored RegExp. */
export function globRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

export const isGlob = (pattern: string): boolean => /[*?]/.test(pattern);

export const globMatches = (glob: string, value: string): boolean => globRegExp(glob).test(value);
