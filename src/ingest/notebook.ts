import { type DocumentText, UnreadableFile } from './formats.js';

/** A cell's text output beyond this is clipped: logs and tables of numbers say little per token. */
const OUTPUT_CHARS = 2000;

interface Cell {
  cell_type?: string;
  source?: string | string[];
  outputs?: { output_type?: string; text?: string | string[]; data?: Record<string, string | string[]> }[];
}

const joined = (s: string | string[] | undefined): string => (Array.isArray(s) ? s.join('') : (s ?? ''));

/**
 * A Jupyter notebook (JSON, nbformat 4) as Markdown: Markdown cells as they are, code cells fenced in the
 * kernel's language, their text outputs (streams and plain-text results, clipped) fenced after them.
 * Images and HTML outputs are left out.
 */
export function notebookText(json: string, path: string): DocumentText {
  let nb: { cells?: Cell[]; metadata?: { kernelspec?: { language?: string }; language_info?: { name?: string } } };
  try {
    nb = JSON.parse(json) as typeof nb;
  } catch (err) {
    throw new UnreadableFile(
      path,
      `is not a valid notebook (${(err as Error).message})`,
      'check that it is saved JSON',
    );
  }
  if (!Array.isArray(nb?.cells))
    throw new UnreadableFile(
      path,
      'is not a Jupyter notebook of nbformat 4 (no cells)',
      'save it with Jupyter 4 or later',
    );
  const language = nb.metadata?.kernelspec?.language ?? nb.metadata?.language_info?.name ?? '';
  const blocks: string[] = [];
  for (const cell of nb.cells) {
    const source = joined(cell.source).trimEnd();
    if (cell.cell_type === 'markdown' && source.trim()) blocks.push(source);
    else if (cell.cell_type === 'code' && source.trim()) {
      blocks.push(fenced(source, language));
      const output = (cell.outputs ?? [])
        .map((o) => (o.output_type === 'stream' ? joined(o.text) : joined(o.data?.['text/plain'])))
        .join('')
        .trimEnd();
      if (output.trim())
        blocks.push(fenced(output.length > OUTPUT_CHARS ? `${output.slice(0, OUTPUT_CHARS)}\n…` : output, 'output'));
    } else if (cell.cell_type === 'raw' && source.trim()) blocks.push(source);
  }
  return { text: blocks.join('\n\n') };
}

/** `code` in a fence longer than any backtick run inside it. */
function fenced(code: string, info: string): string {
  const longest = Math.max(2, ...(code.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${info}\n${code}\n${fence}`;
}
