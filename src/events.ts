import { EventEmitter } from 'node:events';
import type { Health } from './health.js';

/** What the store tells the sessions: pages or documents were added, a snapshot was stored, a level's reachability changed. */
export interface StoreEvents {
  pages: [];
  snapshots: [];
  health: [health: Health];
}

/**
 * The store's events, one bus per process, made by the composition root (openStore) and handed to what emits
 * them. Sessions do not listen on it one by one: whoever creates MCP sessions subscribes once and fans the
 * events out to each session (PagerEvents).
 */
export class EventBus extends EventEmitter<StoreEvents> {}
