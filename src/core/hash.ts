import { createHash } from 'node:crypto';

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A page id is its content hash, shortened: same bytes, same id, in every process. */
export function pageIdOf(contentSha256: string): string {
  return `p${contentSha256.slice(0, 20)}`;
}

/** Control characters (C0 and DEL), which a document name may not contain. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * A document id depends on its source name and its bytes, so re-ingesting the same file is idempotent.
 * `source` must hold no control character (CONTROL_CHARACTER; callers check it as input): the id hashes
 * `source + NUL + text`, which names one (source, text) pair only while the source holds no NUL
 * (otherwise ("a\0b", "c") and ("a", "b\0c") would share an id).
 */
export function documentIdOf(source: string, text: string): string {
  if (CONTROL_CHARACTER.test(source))
    throw new Error(
      `document source ${JSON.stringify(source)} holds a control character; ingest refuses such names before ids are made`,
    );
  return `d${createHash('sha256').update(source, 'utf8').update('\0').update(text, 'utf8').digest('hex').slice(0, 16)}`;
}
