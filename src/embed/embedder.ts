/** Per-call limits of an embedder that calls a network service; an offline embedder ignores them. */
export interface EmbedCallOptions {
  /** One attempt's limit, in milliseconds. */
  timeoutMs?: number;
  /** Retries of a 408/409/429/5xx or a connection error. */
  maxRetries?: number;
  signal?: AbortSignal;
}

/** Turns texts into fixed-size unit vectors. Pluggable: the offline default needs no model and no network. */
export interface Embedder {
  /** Identifies the model and its settings; an index built by one embedder is not searched with another. */
  readonly name: string;
  /** The vectors' dimension; 0 while unknown (a remote model's is learnt from its first reply). */
  readonly dim: number;
  embed(texts: string[], opts?: EmbedCallOptions): Promise<Float32Array[]>;
}

/** Cosine similarity of two unit vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Scales `v` to unit length in place (a zero vector stays zero: it matches nothing). */
export function normalise(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}
