import OpenAI from 'openai';
import type { Tokenizer } from '../core/tokenizer.js';
import { CompressionError } from '../errors.js';
import { type EndpointOptions, endpointClient } from '../openai-endpoint.js';
import { type Compressor, summaryPrompt } from './compressor.js';

export interface OpenAICompressorOptions extends EndpointOptions {
  tokenizer: Tokenizer;
}

/**
 * Abstractive compression through the chat completions API. This is the only module that imports
 * `openai`; it is loaded only when configured. Concurrency is bounded by the caller (the summarizer's
 * queue), retries and backoff by the client.
 */
export class OpenAICompressor implements Compressor {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(private readonly opts: OpenAICompressorOptions) {
    this.name = `openai:${opts.model}`;
    this.client = endpointClient(opts);
  }

  async compress(text: string, targetTokens: number): Promise<string> {
    let reply: OpenAI.Chat.Completions.ChatCompletion;
    try {
      reply = await this.client.chat.completions.create({
        model: this.opts.model,
        messages: [
          { role: 'system', content: summaryPrompt(targetTokens) },
          { role: 'user', content: text },
        ],
        temperature: 0,
        // Room past the target so a summary ends on a sentence; the page-length check below bounds it.
        max_tokens: Math.ceil(targetTokens * 1.5),
      });
    } catch (err) {
      // The client's own messages carry the status and the server's reason, never the request's headers.
      const status = err instanceof OpenAI.APIError && err.status ? `HTTP ${err.status}: ` : '';
      throw new CompressionError(`${this.opts.baseURL} ${status}${(err as Error).message}`);
    }
    const summary = reply?.choices?.[0]?.message?.content;
    if (typeof summary !== 'string' || !summary.trim()) {
      throw new CompressionError(`${this.opts.baseURL} returned no summary text (model ${this.opts.model})`);
    }
    if (this.opts.tokenizer.count(summary) >= this.opts.tokenizer.count(text)) {
      throw new CompressionError(
        `${this.opts.baseURL} returned a "summary" as long as the page (model ${this.opts.model})`,
      );
    }
    return summary.trim();
  }
}
