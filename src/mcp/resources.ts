import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from './context.js';

export const PAGE_TABLE_URI = 'vmem://page-table';
export const L1_URI = 'vmem://l1';

/**
 * Resources: a second window onto virtual memory for hosts that read them. Subscribed URIs get
 * `resources/updated` when L1 or the page table change; new snapshots send `list_changed`.
 * Returns a function that detaches the listeners.
 */
export function registerResources({ server, pager, session, events }: ToolContext): () => void {
  server.registerResource('page-table', PAGE_TABLE_URI, { title: 'Page table', description: 'Every page: source, size, hash, levels holding it, access stats, pin, summary', mimeType: 'application/json' }, async (uri) => {
    const entries = pager.table.listPages();
    const levels = await pager.levels(session, entries.map((e) => e.id));
    const pages = entries.map((e, i) => ({
        id: e.id,
        document_id: e.documentId,
        source: e.source,
        ordinal: e.ordinal,
        tokens: e.tokens,
        sha256: e.sha256,
        levels: levels[i],
        pinned: session.l1.get(e.id)?.pinned ?? false,
        access_count: e.accessCount,
        fault_count: e.faultCount,
        last_access: e.lastAccess ? new Date(e.lastAccess).toISOString() : null,
        gist: e.gist,
        summary: e.summary ? { text: e.summary.text, tokens: e.summary.tokens, by: e.summary.by } : null,
      }));
    const documents = pager.table.listDocuments().map((d) => ({ id: d.id, source: d.source, tokens: d.tokens, pages: d.pageIds }));
    const body = { l1: { used_tokens: session.l1.usedTokens, budget_tokens: session.l1.budget }, documents, pages };
    return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body, null, 1) }] };
  });

  server.registerResource('l1', L1_URI, { title: 'L1 (active context)', description: 'Text of the pages resident in this session, least recently used first', mimeType: 'text/markdown' }, async (uri) => {
    const residents = session.l1.list();
    const text = residents.length
      ? residents
          .map((r) => {
            const e = pager.table.get(r.pageId)!;
            return `## ${r.pageId} · ${e.source} #${e.ordinal} · ${r.tokens} tokens${r.resolution === 'summary' ? ' · summary' : ''}${r.pinned ? ' · pinned' : ''}\n${r.text}`;
          })
          .join('\n\n')
      : '(L1 is empty)';
    return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text }] };
  });

  server.registerResource(
    'page',
    new ResourceTemplate('vmem://pages/{pageId}', { list: undefined }),
    { title: 'Page', description: 'One page\'s text, read without loading it into L1', mimeType: 'text/plain' },
    async (uri, { pageId }) => {
      const page = await pager.readPage(String(pageId));
      if (!page) throw new Error(`unknown page ${String(pageId)}; take ids from vmem://page-table`);
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: page.text }] };
    },
  );

  server.registerResource(
    'snapshot',
    new ResourceTemplate('vmem://snapshots/{snapshotId}', {
      list: async () => ({ resources: (await pager.listSnapshots()).map((id) => ({ uri: `vmem://snapshots/${id}`, name: id, mimeType: 'application/json' })) }),
    }),
    { title: 'Snapshot', description: 'A stored context snapshot (pointers and hashes)', mimeType: 'application/json' },
    async (uri, { snapshotId }) => {
      const snap = await pager.getSnapshot(String(snapshotId));
      if (!snap) throw new Error(`unknown snapshot ${String(snapshotId)}`);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(snap, null, 1) }] };
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
  const onL1 = () => updated(L1_URI, PAGE_TABLE_URI);
  const onPages = () => updated(PAGE_TABLE_URI);
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
