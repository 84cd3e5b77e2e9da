import OpenAI from 'openai';

/** An OpenAI-compatible endpoint as vmem calls it: OpenAI, Ollama, vLLM, HF TEI, LM Studio, llama.cpp's server. */
export interface EndpointOptions {
  baseURL: string;
  model: string;
  /** Sent as a bearer token; local servers accept any. Never logged, never put in an error message. */
  apiKey: string;
  /** One attempt's limit unless a call says otherwise. Default 60 s. */
  timeoutMs?: number;
  /** Retries of a 408/409/429/5xx or a connection error, with exponential backoff (honouring Retry-After). Default 3. */
  maxRetries?: number;
}

/**
 * The client for an endpoint. Only the modules loaded when an endpoint is configured import this one (and
 * so `openai`); retries, backoff and Retry-After are the client's.
 */
export function endpointClient(opts: EndpointOptions): OpenAI {
  return new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    timeout: opts.timeoutMs ?? 60_000,
    maxRetries: opts.maxRetries ?? 3,
  });
}
