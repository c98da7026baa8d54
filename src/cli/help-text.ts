/**
 * Help text as an operator reads it on an 80-column terminal. Command descriptions are written as
 * source lines of about 100 columns; commander keeps every line break and wraps each line on its
 * own, which leaves ragged half-lines and list items whose second line starts at column 0.
 */

/** Joins the lines of each paragraph, so it is wrapped once. Blank and indented lines keep their breaks. */
export function reflowParagraphs(text: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const previous = out[out.length - 1];
    const continues = previous !== undefined && isProse(previous) && isProse(line);
    if (continues) out[out.length - 1] = `${previous.trimEnd()} ${line.trim()}`;
    else out.push(line);
  }
  return out.join('\n');
}

const isProse = (line: string) => line.trim() !== '' && !/^\s/.test(line);

/** Where an indented item's text starts: after its indent and term, at the first gap of two or more spaces. */
function hangingColumn(line: string): number {
  const indent = /^\s*/.exec(line)![0].length;
  const gap = /^\s*\S.*?\s{2,}(?=\S)/.exec(line);
  return gap ? gap[0].length : indent;
}

/**
 * Wraps at whitespace to `width`. An indented item (`  term   text`) wraps under its text, and a
 * source line indented to that column continues the item above it.
 */
export function wrapHelpText(text: string, width: number): string {
  const items: { line: string; indent: number; hang: number }[] = [];
  for (const line of text.split('\n')) {
    const last = items[items.length - 1];
    const indent = /^\s*/.exec(line)![0].length;
    if (last && last.hang > last.indent && line.trim() !== '' && indent === last.hang) {
      last.line = `${last.line.trimEnd()} ${line.trim()}`;
      continue;
    }
    items.push({ line, indent, hang: indent > 0 ? hangingColumn(line) : 0 });
  }
  return items.map(({ line, hang }) => wrapLine(line, width, hang)).join('\n');
}

function wrapLine(line: string, width: number, hang: number): string {
  if (line.length <= width) return line;
  const lead = /^\s*/.exec(line)![0];
  const words = line.slice(lead.length).split(/\s+/);
  // An item's term keeps its own spacing: wrapping starts in its text.
  const head = hang > lead.length ? line.slice(0, hang) : lead;
  const rest = hang > lead.length ? line.slice(hang).split(/\s+/) : words;
  const pad = ' '.repeat(hang);
  const lines: string[] = [];
  let current = head;
  let fresh = true;
  for (const word of rest) {
    if (!fresh && current.length + 1 + word.length > width) {
      lines.push(current);
      current = pad + word;
    } else {
      current += (fresh ? '' : ' ') + word;
    }
    fresh = false;
  }
  lines.push(current);
  return lines.join('\n');
}
