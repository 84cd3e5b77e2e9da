import OpenAI from 'openai';
import { EmbedderMismatchError, EmbeddingError } from '../errors.js';
import { type EndpointOptions, endpointClient } from '../openai-endpoint.js';
import { type EmbedCallOptions, type Embedder, normalise } from './embedder.js';

export interface OpenAIEmbedderOptions extends EndpointOptions {
  /** Inputs per request. Default EMBED_BATCH. */
  batchSize?: number;
}

/**
 * Inputs per request: OpenAI takes up to 2,048, but local servers (Ollama, TEI's default
 * max-client-batch-size of 32… 64) refuse or stall on large batches, and 64 passages of ~256 tokens
 * stay far below every server's per-request token limit.
 */
export const EMBED_BATCH = 64;

/**
 * Embeddings through the OpenAI embeddings API. This is the only module of the embedders that imports
 * `openai`; it is loaded only when configured. Retries, backoff and Retry-After are the client's; what
 * comes back is checked here, because a wrong vector silently mis-ranks forever.
 */
export class OpenAIEmbedder implements Embedder {
  readonly name: string;
  private readonly client: OpenAI;
  private dimension = 0;

  constructor(private readonly opts: OpenAIEmbedderOptions) {
    this.name = `openai:${opts.model}`;
    this.client = endpointClient(opts);
  }

  /** The dimension of the vectors received so far; 0 before the first reply. */
  get dim(): number {
    return this.dimension;
  }

  async embed(texts: string[], call: EmbedCallOptions = {}): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const size = this.opts.batchSize ?? EMBED_BATCH;
    for (let i = 0; i < texts.length; i += size) out.push(...(await this.request(texts.slice(i, i + size), call)));
    return out;
  }

  private async request(input: string[], call: EmbedCallOptions): Promise<Float32Array[]> {
    let reply: OpenAI.CreateEmbeddingResponse;
    try {
      reply = await this.client.embeddings.create(
        // 'float': the client's default asks for base64, which Ollama and other servers do not all speak.
        { model: this.opts.model, input, encoding_format: 'float' },
        // Only the limits a call sets: the client refuses an explicit undefined.
        {
          ...(call.timeoutMs !== undefined && { timeout: call.timeoutMs }),
          ...(call.maxRetries !== undefined && { maxRetries: call.maxRetries }),
          ...(call.signal && { signal: call.signal }),
        },
      );
    } catch (err) {
      // The client's own messages carry the status and the server's reason, never the request's headers.
      const status = err instanceof OpenAI.APIError && err.status ? `HTTP ${err.status}: ` : '';
      throw new EmbeddingError(`${this.opts.baseURL} ${status}${(err as Error).message}`, { cause: err });
    }
    return this.vectorsOf(reply, input.length);
  }

  private vectorsOf(reply: OpenAI.CreateEmbeddingResponse, count: number): Float32Array[] {
    const where = `${this.opts.baseURL} (model ${this.opts.model})`;
    const data = (reply as { data?: unknown })?.data;
    if (!Array.isArray(data) || data.length !== count)
      throw new EmbeddingError(
        `${where} returned ${Array.isArray(data) ? data.length : 'no'} embeddings for ${count} inputs`,
      );
    // Servers may answer out of order; `index` says whose each vector is.
    const byIndex = data.every((d) => Number.isInteger(d?.index)) ? [...data].sort((a, b) => a.index - b.index) : data;
    return byIndex.map((d, i) => {
      const e = (d as { embedding?: unknown })?.embedding;
      if (!Array.isArray(e) || !e.length || !e.every((x) => typeof x === 'number' && Number.isFinite(x)))
        throw new EmbeddingError(`${where} returned embedding ${i} that is not a list of numbers`);
      if (this.dimension && e.length !== this.dimension)
        throw new EmbedderMismatchError(
          `${where} returned a vector of dimension ${e.length} after ${this.dimension}: the model behind the endpoint changed; run \`vmem reindex\` to rebuild L3 with it`,
        );
      this.dimension = e.length;
      return normalise(Float32Array.from(e));
    });
  }
}
