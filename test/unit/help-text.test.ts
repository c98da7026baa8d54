import { describe, expect, it } from 'vitest';
import { reflowParagraphs, wrapHelpText } from '../../src/cli/help-text.js';

describe('help text', () => {
  it('joins the source lines of a paragraph, and keeps blank and indented lines', () => {
    const source =
      'Read the health of the pipeline\nfrom PostgreSQL and Kafka:\n  outbox   rows\n  retries  copies\n\nRead-only.\nExit 0 healthy.';
    expect(reflowParagraphs(source)).toBe(
      'Read the health of the pipeline from PostgreSQL and Kafka:\n  outbox   rows\n  retries  copies\n\nRead-only. Exit 0 healthy.',
    );
  });

  it('wraps prose at the width and an indented item under its own text, joining a line indented to continue it', () => {
    const text = [
      'one two three four five six',
      '  term     alpha beta gamma delta',
      '           epsilon',
      '  two words here with no gap between term and text',
      '  next     a',
    ].join('\n');
    expect(wrapHelpText(text, 20)).toBe(
      [
        'one two three four',
        'five six',
        '  term     alpha',
        '           beta',
        '           gamma',
        '           delta',
        '           epsilon',
        '  two words here',
        '  with no gap',
        '  between term and',
        '  text',
        '  next     a',
      ].join('\n'),
    );
  });

  it('leaves what fits alone', () => {
    expect(wrapHelpText('short\n\n  a  b', 80)).toBe('short\n\n  a  b');
  });
});
