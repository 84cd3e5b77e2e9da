import type { EventBus, StoreEvents } from '../events.js';

type Name = keyof StoreEvents;
type Listener<K extends Name> = (...args: StoreEvents[K]) => void;
const NAMES: Name[] = ['pages', 'snapshots', 'health'];

/**
 * The store's events (the bus the composition root owns, see openStore), subscribed once by whoever creates
 * MCP sessions (the stdio server, the HTTP server, the demo) and fanned out to each session's callbacks.
 * Sessions never listen on the bus themselves: one listener per session per event would grow its listener
 * lists with every client (Node warns past 10) and tie each session's lifetime to the bus.
 */
export class PagerEvents {
  private readonly subscribers: { [K in Name]: Set<Listener<K>> } = {
    pages: new Set(),
    snapshots: new Set(),
    health: new Set(),
  };
  private readonly relays = new Map<Name, (...args: unknown[]) => void>();
  private readonly bus: EventBus;

  /** `source`: the pager (or anything holding the bus). */
  constructor(source: { events: EventBus }) {
    this.bus = source.events;
    for (const name of NAMES) {
      const subs = this.subscribers[name] as Set<(...args: unknown[]) => void>;
      const relay = (...args: unknown[]) => {
        for (const fn of subs) fn(...args);
      };
      this.relays.set(name, relay);
      this.bus.on(name, relay as never);
    }
  }

  on<K extends Name>(name: K, fn: Listener<K>): void {
    this.subscribers[name].add(fn);
  }

  off<K extends Name>(name: K, fn: Listener<K>): void {
    this.subscribers[name].delete(fn);
  }

  /** Leaves the bus; the sessions' callbacks hear nothing more. */
  close(): void {
    for (const [name, relay] of this.relays) this.bus.off(name, relay as never);
    this.relays.clear();
  }
}
