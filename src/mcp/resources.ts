import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from './context.js';
import { pressureJson, resourceError } from './format.js';

export const PAGE_TABLE_URI = 'vmem://page-table';
/** The documents listing by source: versions, the current one, its pages and tokens. */
export const SOURCES_URI = 'vmem://sources';
export const L1_URI = 'vmem://l1';
/** Entries per read of a listing resource: every read stays small whatever the store holds. */
export const DOCUMENTS_PER_READ = 100;
export const PAGES_PER_READ = 100;
/** Snapshots listed by resources/list; any other is read by its id. */
const SNAPSHOTS_LISTED = 100;

const documentUri = (id: string) => `vmem://documents/${id}`;

/** The `from` of a `…?from=N` URI: the position of a listing's first entry in this read. */
function startOf(from: unknown, uri: URL): number {
  const start = from === undefined ? 0 : Number(from);
  if (!Number.isInteger(start) || start < 0)
    throw new McpError(
      ErrorCode.InvalidParams,
      `${uri.href}: from must be a whole number, as in the "next" URI of the previous read`,
    );
  return start;
}

/** The URI of the read after `count` entries from `start` of a listing of `total`, or null after the last. */
const nextUri = (base: string, start: number, count: number, total: number) =>
  start + count < total ? `${base}?from=${start + count}` : null;

const json = (uri: URL, body: unknown) => ({
  contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body, null, 1) }],
});

/**
 * Resources: a second window onto virtual memory for hosts that read them. Every read is bounded: the
 * page table lists documents with counts, a page at a time; each document lists its pages the same way
 * (`next` is the URI of the following read). Subscribed URIs get `resources/updated` when L1 or the page
 * table change; new snapshots send `list_changed`. Returns a function that detaches the listeners.
 */
export function registerResources({ server, pager, session, events }: ToolContext): () => void {
  const pageTable = async (uri: URL, from: unknown) => {
    const start = startOf(from, uri);
    // One more than a read shows: whether there is a next read, whatever was counted.
    const documents = pager.table.documents({ after: start, limit: DOCUMENTS_PER_READ + 1 });
    const shown = documents.slice(0, DOCUMENTS_PER_READ);
    const totals = pager.table.totals();
    return json(uri, {
      l1: { ...pressureJson(pager.pressure(session)), uri: L1_URI },
      totals: { documents: totals.documents, pages: totals.pages },
      levels: { l2: pager.l2.name, l3: pager.l3.name, l4: pager.l4.name },
      documents: shown.map((d) => ({
        id: d.id,
        source: d.source,
        pages: d.pageIds.length,
        tokens: d.tokens,
        ...(d.supersededBy ? { superseded_by: d.supersededBy } : {}),
        uri: documentUri(d.id),
      })),
      next: documents.length > shown.length ? `${PAGE_TABLE_URI}?from=${shown.at(-1)!.cursor}` : null,
    });
  };
  const pageTableMeta = {
    title: 'Page table',
    description: 'What the store holds: totals, L1, and its documents with page counts, 100 per read',
    mimeType: 'application/json',
  };
  server.registerResource('page-table', PAGE_TABLE_URI, pageTableMeta, (uri) => pageTable(uri, undefined));
  server.registerResource(
    'page-table-from',
    new ResourceTemplate(`${PAGE_TABLE_URI}{?from}`, { list: undefined }),
    pageTableMeta,
    (uri, { from }) => pageTable(uri, from),
  );

  const sources = async (uri: URL, after: unknown) => {
    const start = after === undefined ? '' : String(after);
    const listed = pager.table.sources({ after: start, limit: DOCUMENTS_PER_READ + 1 });
    const shown = listed.slice(0, DOCUMENTS_PER_READ);
    return json(uri, {
      sources: shown.map((s) => ({
        source: s.source,
        versions: s.versions,
        current: s.current
          ? {
              id: s.current.id,
              pages: s.current.pages,
              tokens: s.current.tokens,
              ingested_at: new Date(s.current.ingestedAt).toISOString(),
              uri: documentUri(s.current.id),
            }
          : null,
      })),
      next: listed.length > shown.length ? `${SOURCES_URI}?after=${encodeURIComponent(shown.at(-1)!.source)}` : null,
    });
  };
  const sourcesMeta = {
    title: 'Sources',
    description:
      'The documents by source, in order: how many versions, the current one with its pages and tokens; 100 per read',
    mimeType: 'application/json',
  };
  server.registerResource('sources', SOURCES_URI, sourcesMeta, (uri) => sources(uri, undefined));
  server.registerResource(
    'sources-after',
    new ResourceTemplate(`${SOURCES_URI}{?after}`, { list: undefined }),
    sourcesMeta,
    (uri, { after }) => sources(uri, after),
  );

  const document = async (uri: URL, id: string, from: unknown) => {
    const doc = pager.table.document(id);
    if (!doc) throw new McpError(ErrorCode.InvalidParams, `unknown document ${id}; take ids from ${PAGE_TABLE_URI}`);
    const start = startOf(from, uri);
    const entries = doc.pageIds.slice(start, start + PAGES_PER_READ).map((pid) => pager.table.get(pid)!);
    const levels = await pager.levels(
      session,
      entries.map((e) => e.id),
    );
    return json(uri, {
      id: doc.id,
      source: doc.source,
      tokens: doc.tokens,
      bytes: doc.bytes,
      ingested_at: new Date(doc.ingestedAt).toISOString(),
      ...(doc.supersededBy ? { superseded_by: doc.supersededBy } : {}),
      total_pages: doc.pageIds.length,
      pages: entries.map((e, i) => ({
        id: e.id,
        ordinal: start + i,
        tokens: e.tokens,
        lines: [e.lineStart, e.lineEnd],
        sha256: e.sha256,
        levels: levels[i],
        pinned: session.l1.get(e.id)?.pinned ?? false,
        access_count: e.accessCount,
        fault_count: e.faultCount,
        last_access: e.lastAccess ? new Date(e.lastAccess).toISOString() : null,
        gist: e.gist,
        summary: e.summary ? { tokens: e.summary.tokens, by: e.summary.by } : null,
      })),
      next: nextUri(documentUri(doc.id), start, entries.length, doc.pageIds.length),
    });
  };
  const documentMeta = {
    title: 'Document',
    description: "One document's pages in order: size, levels holding each, access stats, pin, gist; 100 per read",
    mimeType: 'application/json',
  };
  // The query form first: the plain template would take "d…?from=N" for an id.
  server.registerResource(
    'document-from',
    new ResourceTemplate('vmem://documents/{documentId}{?from}', { list: undefined }),
    documentMeta,
    (uri, { documentId, from }) => document(uri, String(documentId), from),
  );
  server.registerResource(
    'document',
    new ResourceTemplate('vmem://documents/{documentId}', { list: undefined }),
    documentMeta,
    (uri, { documentId }) => document(uri, String(documentId), undefined),
  );

  server.registerResource(
    'l1',
    L1_URI,
    {
      title: 'L1 (active context)',
      description: 'Text of the pages resident in this session, least recently used first',
      mimeType: 'text/markdown',
    },
    async (uri) => {
      // A page another process just forgot stays resident until this process's next look (within a second).
      const residents = session.l1.list().flatMap((r) => {
        const e = pager.table.get(r.pageId);
        return e ? [{ r, e }] : [];
      });
      const text = residents.length
        ? residents
            .map(({ r, e }) => {
              return `## ${r.pageId} · ${e.source} #${e.ordinal} · ${r.tokens} tokens${r.resolution === 'summary' ? ' · summary' : ''}${r.pinned ? ' · pinned' : ''}\n${r.text}`;
            })
            .join('\n\n')
        : '(L1 is empty)';
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text }] };
    },
  );

  server.registerResource(
    'page',
    new ResourceTemplate('vmem://pages/{pageId}', { list: undefined }),
    { title: 'Page', description: "One page's text, read without loading it into L1", mimeType: 'text/plain' },
    async (uri, { pageId }) => {
      const page = await pager.readPage(String(pageId)).catch((err: unknown) => {
        throw resourceError(err);
      });
      if (!page)
        throw new McpError(
          ErrorCode.InvalidParams,
          `unknown page ${String(pageId)}; take ids from page_fault results or vmem://documents/{id}`,
        );
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: page.text }] };
    },
  );

  server.registerResource(
    'snapshot',
    new ResourceTemplate('vmem://snapshots/{snapshotId}', {
      list: async () => ({
        resources: (await pager.listSnapshots())
          .slice(0, SNAPSHOTS_LISTED)
          .map((id) => ({ uri: `vmem://snapshots/${id}`, name: id, mimeType: 'application/json' })),
      }),
    }),
    { title: 'Snapshot', description: 'A stored context snapshot (pointers and hashes)', mimeType: 'application/json' },
    async (uri, { snapshotId }) => {
      const snap = await pager.getSnapshot(String(snapshotId)).catch((err: unknown) => {
        throw resourceError(err);
      });
      if (!snap) throw new McpError(ErrorCode.InvalidParams, `unknown snapshot ${String(snapshotId)}`);
      return json(uri, snap);
    },
  );

  const subscribed = new Set<string>();
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });

  const updated = (...uris: string[]) => {
    if (!server.isConnected()) return;
    for (const uri of uris) if (subscribed.has(uri)) void server.server.sendResourceUpdated({ uri }).catch(() => {});
  };
  // A document's resource shows residency and access stats: it changes with L1 and the page table.
  const documents = () => [...subscribed].filter((u) => u.startsWith('vmem://documents/'));
  const onL1 = () => updated(L1_URI, PAGE_TABLE_URI, ...documents());
  const onPages = () => updated(PAGE_TABLE_URI, SOURCES_URI, ...documents());
  const onSnapshots = () => {
    if (server.isConnected()) server.sendResourceListChanged();
  };
  session.on('l1', onL1);
  events.on('pages', onPages);
  events.on('snapshots', onSnapshots);
  return () => {
    session.off('l1', onL1);
    events.off('pages', onPages);
    events.off('snapshots', onSnapshots);
  };
}
