import type { Health, Pager } from '../pager.js';

interface Listeners {
  pages: () => void;
  snapshots: () => void;
  health: (h: Health) => void;
}
type Name = keyof Listeners;
const NAMES: Name[] = ['pages', 'snapshots', 'health'];

/**
 * The pager's events, subscribed once by whoever creates MCP sessions (the stdio server, the HTTP
 * server, the demo) and fanned out to each session's callbacks. Sessions never listen on the shared
 * pager themselves: one listener per session per event would grow its listener lists with every
 * client (Node warns past 10) and tie each session's lifetime to the pager's emitter.
 */
export class PagerEvents {
  private readonly subscribers: { [K in Name]: Set<Listeners[K]> } = {
    pages: new Set(),
    snapshots: new Set(),
    health: new Set(),
  };
  private readonly relays = new Map<Name, (...args: unknown[]) => void>();

  constructor(private readonly pager: Pager) {
    for (const name of NAMES) {
      const subs = this.subscribers[name] as Set<(...args: unknown[]) => void>;
      const relay = (...args: unknown[]) => {
        for (const fn of subs) fn(...args);
      };
      this.relays.set(name, relay);
      pager.on(name, relay);
    }
  }

  on<K extends Name>(name: K, fn: Listeners[K]): void {
    this.subscribers[name].add(fn);
  }

  off<K extends Name>(name: K, fn: Listeners[K]): void {
    this.subscribers[name].delete(fn);
  }

  /** Leaves the pager; the sessions' callbacks hear nothing more. */
  close(): void {
    for (const [name, relay] of this.relays) this.pager.off(name, relay);
    this.relays.clear();
  }
}
