/** `text` in at most `chars` characters: cut at its end (or, with 'start', at its start), marked by an ellipsis. */
export function clip(text: string, chars: number, cut: 'start' | 'end' = 'end'): string {
  if (text.length <= chars) return text;
  return cut === 'end'
    ? `${text.slice(0, chars - 1).trimEnd()}…`
    : `…${text.slice(text.length - chars + 1).trimStart()}`;
}
