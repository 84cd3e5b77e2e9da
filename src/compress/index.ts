import { type Config, endpointKey, settingName } from '../config.js';
import type { Tokenizer } from '../core/tokenizer.js';
import { loadOptional } from '../optional.js';
import type { Compressor } from './compressor.js';
import { ExtractiveCompressor } from './extractive.js';
import { SamplingCompressor } from './sampling.js';

export interface Compressors {
  compressor: Compressor;
  /** For pages the configured compressor can never do (sampling without a sampling client). */
  fallback?: Compressor;
  /** Set when compressing through the host's model: MCP sessions attach to it. */
  sampling?: SamplingCompressor;
}

/** The configured compressor; the OpenAI client is loaded only when it is the one. */
export async function openCompressors(
  config: Config,
  tokenizer: Tokenizer,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Compressors> {
  const extractive = new ExtractiveCompressor(tokenizer);
  switch (config.compressor) {
    case 'extractive':
      return { compressor: extractive };
    case 'sampling': {
      const sampling = new SamplingCompressor(tokenizer);
      return { compressor: sampling, fallback: extractive, sampling };
    }
    case 'openai': {
      const apiKey = endpointKey(config.openaiBaseUrl, env, 'compressor', 'openaiBaseUrl');
      const { OpenAICompressor } = await loadOptional(
        'openai',
        `${settingName('compressor')} is openai`,
        () => import('./openai.js'),
      );
      return {
        compressor: new OpenAICompressor({
          baseURL: config.openaiBaseUrl,
          model: config.openaiModel,
          apiKey,
          tokenizer,
        }),
      };
    }
  }
}
