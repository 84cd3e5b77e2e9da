import { createHash } from 'node:crypto';

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A page id is its content hash, shortened: same bytes, same id, in every process. */
export function pageIdOf(contentSha256: string): string {
  return `p${contentSha256.slice(0, 20)}`;
}

/** A document id depends on its source name and its bytes, so re-ingesting the same file is idempotent. */
export function documentIdOf(source: string, text: string): string {
  return `d${createHash('sha256').update(source, 'utf8').update('\0').update(text, 'utf8').digest('hex').slice(0, 16)}`;
}
