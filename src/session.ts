import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { L1 } from './core/l1.js';

/** One agent: its own L1 and LRU order. Emits 'l1' whenever residency changes. */
export class Session extends EventEmitter {
  readonly l1: L1;

  constructor(
    budget: number,
    readonly id: string = randomUUID(),
  ) {
    super();
    this.l1 = new L1(budget);
  }

  changed(): void {
    this.emit('l1');
  }
}
