import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Pager } from '../pager.js';
import type { Session } from '../session.js';
import type { PagerEvents } from './pager-events.js';
import type { IngestRoots } from './roots.js';

/** What every tool and resource of one MCP session works with. */
export interface ToolContext {
  server: McpServer;
  pager: Pager;
  session: Session;
  roots: IngestRoots;
  /** The pager's events, fanned out to this session (see PagerEvents). */
  events: PagerEvents;
}
