import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Tokenizer } from '../core/tokenizer.js';
import { CompressionError } from '../errors.js';
import { type Compressor, summaryPrompt } from './compressor.js';

/** How long the host may take to answer one sampling request (it may ask its user first). */
const SAMPLING_TIMEOUT_MS = 120_000;

/**
 * Compression by the host's own model, through MCP sampling (`sampling/createMessage`). It works while
 * a connected client has declared the sampling capability; without one, or when the client refuses,
 * it throws a non-retryable CompressionError so that the summarizer falls back (to the extractive
 * compressor) instead of waiting for a capability that will not come.
 */
export class SamplingCompressor implements Compressor {
  readonly name = 'sampling';
  private readonly servers: Server[] = [];

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Offers a connected session's server as a way to the host's model; returns the detach function. */
  attach(server: Server): () => void {
    this.servers.push(server);
    return () => {
      const i = this.servers.indexOf(server);
      if (i >= 0) this.servers.splice(i, 1);
    };
  }

  async compress(text: string, targetTokens: number): Promise<string> {
    const server = this.servers.find((s) => s.getClientCapabilities()?.sampling);
    if (!server) throw new CompressionError('no connected MCP client offers sampling', false);
    let result: Awaited<ReturnType<typeof server.createMessage>>;
    try {
      result = await server.createMessage(
        {
          systemPrompt: summaryPrompt(targetTokens),
          messages: [{ role: 'user', content: { type: 'text', text } }],
          maxTokens: Math.ceil(targetTokens * 1.5),
          temperature: 0,
          includeContext: 'none',
          // Summaries are many and routine: ask for a fast, cheap model.
          modelPreferences: { speedPriority: 0.8, costPriority: 0.8, intelligencePriority: 0.3 },
        },
        { timeout: SAMPLING_TIMEOUT_MS },
      );
    } catch (err) {
      // A refusal (the user declined, or the host does not sample for servers) is not worth retrying.
      throw new CompressionError(`the MCP client did not sample: ${(err as Error).message}`, false);
    }
    const content = result.content;
    const summary = !Array.isArray(content) && content.type === 'text' ? content.text.trim() : '';
    if (!summary) throw new CompressionError('the MCP client sampled no text');
    if (this.tokenizer.count(summary) >= this.tokenizer.count(text))
      throw new CompressionError('the MCP client sampled a "summary" as long as the page');
    return summary;
  }
}
