/**
 * Compressors turn an evicted page into a summary of about `targetTokens` tokens (by default a tenth
 * of the page), so an agent can keep the gist of many pages where the full text of few would fit.
 */
export interface Compressor {
  /** Names the method and model, recorded with every summary it makes. */
  readonly name: string;
  /**
   * A summary of `text`. Throws CompressionError when it cannot make one now (the page stays
   * uncompressed and is tried again later); never returns an empty or longer-than-the-page text.
   */
  compress(text: string, targetTokens: number): Promise<string>;
}

/** The instruction for abstractive compressors (an API model or the host's own): facts kept, nothing added. */
export function summaryPrompt(targetTokens: number): string {
  return [
    `Compress the document the user sends to about ${targetTokens} tokens, for an AI agent that will read this summary instead of the document.`,
    'Keep every name, number, date, quantity, definition and causal claim that you can fit, with the exact spelling and units of the document.',
    'Write plain sentences in the document’s language. Invent nothing: no facts, interpretations or commentary that the document does not state.',
    'Reply with the summary only, without a preamble.',
  ].join(' ');
}
