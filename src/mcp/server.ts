import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import pkg from '../../package.json' with { type: 'json' };
import type { Health } from '../health.js';
import type { Pager } from '../pager.js';
import type { Session } from '../session.js';
import { guardToolCalls } from './boundary.js';
import type { ToolContext } from './context.js';
import type { PagerEvents } from './pager-events.js';
import { registerResources } from './resources.js';
import { ingestRoots } from './roots.js';
import { listToolsSafely } from './tool-list.js';
import { registerEvict } from './tools/evict.js';
import { registerForget } from './tools/forget.js';
import { registerIngest } from './tools/ingest.js';
import { registerLoadPage } from './tools/load-page.js';
import { registerPageFault } from './tools/page-fault.js';
import { registerRestoreContext } from './tools/restore-context.js';
import { registerSerializeContext } from './tools/serialize-context.js';

/** vmem's version: package.json's, read once (the bundle inlines it). */
export const VERSION: string = pkg.version;

/** Kept short: hosts put instructions in the model's context on every turn. */
export function instructions(resendAfterSeconds: number): string {
  const window =
    resendAfterSeconds >= 120 ? `${Math.round(resendAfterSeconds / 60)} minutes` : `${resendAfterSeconds} seconds`;
  return `vmem is your virtual memory: documents too large for your context are stored as pages.
- ingest a document (text or path) once; then page_fault with what you are missing to bring relevant pages in. It also lists the next best pages by id (candidates): if the pages it brought do not answer, load_page a candidate rather than faulting again.
- Your context (L1) has a token budget; new pages evict the least recently used ones, which leave handles. load_page brings a page back by id; pin what you must keep.
- vmem cannot see your context. ${
    resendAfterSeconds
      ? `It does not repeat a page whose text it sent you in the last ${window}, unless your L1 budget of other text came after it; that entry says so. If you do not see the text (a new conversation, a compacted history), call the load_page it names, or page_fault with resend: true.`
      : 'It sends the text of every page you fault, even one it sent before.'
  }
- evict pages you are done with; every result shows L1 used/budget tokens. Evicted pages get a summary (about a tenth of their tokens) that later handles carry; load_page with resolution "summary" keeps many pages' gist in little room.
- serialize_context saves your working set as a small snapshot id; another agent can restore_context it.`;
}

export interface ServerOptions {
  /** The pager's events as fanned out by whoever creates the sessions, so no session listens on the pager. */
  events: PagerEvents;
  /** This session's own L1 (default: a new one). */
  session?: Session;
  /**
   * Whether the client's MCP roots may open files to `ingest {path}`: true when the client runs on this
   * machine (stdio), false over HTTP, where only VMEM_INGEST_ROOTS count.
   */
  clientRoots: boolean;
}

/** One MCP server for one agent session: its own L1, sharing the pager's L2–L4. */
export function createServer(
  pager: Pager,
  { events, session = pager.newSession(), clientRoots }: ServerOptions,
): {
  server: McpServer;
  session: Session;
  connect: (transport: Transport) => Promise<void>;
  close: () => Promise<void>;
} {
  const guide = instructions(pager.config.resendAfterSeconds);
  const server = new McpServer(
    { name: 'vmem', version: VERSION },
    { instructions: guide, capabilities: { logging: {} } },
  );
  const roots = ingestRoots(server, pager.config.ingestRoots, clientRoots);
  const ctx: ToolContext = { server, pager, session, roots, events };
  const tools = {
    ingest: registerIngest(ctx),
    page_fault: registerPageFault(ctx),
    load_page: registerLoadPage(ctx),
    evict: registerEvict(ctx),
    serialize_context: registerSerializeContext(ctx),
    restore_context: registerRestoreContext(ctx),
    forget: registerForget(ctx),
  };
  listToolsSafely(server, tools);
  const detachResources = registerResources(ctx);
  // Outages of a networked level reach the host once, as a logging notification; tool calls keep working.
  const onHealth = (h: Health) => {
    if (server.isConnected())
      void server
        .sendLoggingMessage({ level: h.up ? 'info' : 'warning', logger: 'vmem', data: h.message })
        .catch(() => {});
  };
  events.on('health', onHealth);
  server.server.oninitialized = () => {
    roots.start();
    // A level that was already down when this session began is reported once, too.
    for (const h of pager.outages()) onHealth(h);
  };
  // With VMEM_COMPRESSOR=sampling, this session's client may summarize pages with the host's model.
  const detachSampling = pager.sampling?.attach(server.server);
  const detach = () => {
    detachResources();
    detachSampling?.();
    events.off('health', onHealth);
  };
  server.registerPrompt(
    'use-virtual-memory',
    { title: 'Work with virtual memory', description: 'How to read a large corpus through vmem' },
    () => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text: `${guide}\nWork in small steps: page_fault for one question at a time, read the pages, evict what you no longer need, and cite page ids. Before handing off, call serialize_context and pass the snapshot id.`,
          },
        },
      ],
    }),
  );
  return {
    server,
    session,
    /** Connects a transport, with tool-call arguments normalized at the boundary. */
    connect: async (transport) => {
      await server.connect(transport);
      guardToolCalls(transport);
    },
    close: async () => {
      detach();
      await server.close();
    },
  };
}
