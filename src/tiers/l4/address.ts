import { pageIdOf, sha256 } from '../../core/hash.js';
import type { Page } from '../../core/page.js';
import { CorruptPageError } from '../../errors.js';

/** What a page or record id may be: a name that cannot leave the store (no separator, no `..`). */
const ID = /^[a-z0-9]{4,64}$/;

/** Whether `id` is a valid page or record id. */
export const isValidId = (id: string): boolean => ID.test(id);

/** `id`, when it is a valid id of `what` (a page, or a kind of record); throws otherwise. */
export function checkedId(what: string, id: string): string {
  if (!ID.test(id)) throw new Error(`invalid ${what} id ${JSON.stringify(id)}`);
  return id;
}

/**
 * Whether `page` is exactly what `id` addresses. Its text must be well-formed: sha256 hashes UTF-8, where a
 * lone surrogate becomes U+FFFD, so a text holding one would share the address of another text.
 */
export function addresses(page: Page, id: string): boolean {
  if (page.id !== id || typeof page.text !== 'string' || !page.text.isWellFormed()) return false;
  const hash = sha256(page.text);
  return hash === page.sha256 && pageIdOf(hash) === id;
}

/** Throws unless every page is what its id addresses: L4 never stores a page it would refuse to serve. */
export function assertStorable(pages: Page[]): void {
  for (const p of pages) {
    if (!addresses(p, p.id))
      throw new Error(
        `refusing to store page ${p.id}: its text is not what its id addresses (ingest makes texts well-formed and hashes them)`,
      );
  }
}

/**
 * The page stored as `raw` under `id`, checked against its address. The source of truth checks itself: the id
 * is the content's address, so a page whose bytes changed in storage (even with its recorded hash rewritten to
 * match) is never served. `where` names the file or object in the error.
 */
export function verifiedPage(raw: string, id: string, where: string): Page {
  let page: Page | undefined;
  try {
    page = JSON.parse(raw) as Page;
  } catch {
    // not JSON: refused below like any other damage
  }
  if (!page || typeof page !== 'object' || !addresses(page, id)) {
    throw new CorruptPageError(
      `page ${id} in ${where} does not match its hash; restore it from a backup or re-ingest its source`,
    );
  }
  return page;
}
