import { getEncoding, type Tiktoken } from 'js-tiktoken';
import type { EncodingName } from '../config.js';

const cache = new Map<EncodingName, Tiktoken>();

/** The shared tokenizer for an encoding; building the BPE ranks is costly, so it is built once per process. */
export function tokenizer(encoding: EncodingName): Tiktoken {
  let enc = cache.get(encoding);
  if (!enc) {
    enc = getEncoding(encoding);
    cache.set(encoding, enc);
  }
  return enc;
}

/** Tokens in `text` under `encoding`. */
export function countTokens(text: string, encoding: EncodingName): number {
  return tokenizer(encoding).encode(text).length;
}
