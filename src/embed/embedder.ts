/** Turns texts into fixed-size unit vectors. Pluggable: the offline default needs no model and no network. */
export interface Embedder {
  /** Identifies the model and its settings; an index built by one embedder is not searched with another. */
  readonly name: string;
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

/** Cosine similarity of two unit vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
