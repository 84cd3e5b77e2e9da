/** Called once per transition: `up` false when a backend is lost (or never came up), true when it is back. */
export type StatusListener = (up: boolean, err?: Error) => void;

/** A level that may live behind a network: it says whether it is reachable and reports each change once. */
export interface Networked {
  readonly name: string;
  available?(): boolean;
  /** Subscribes to up/down transitions; returns the unsubscribe function. */
  onStatus?(listener: StatusListener): () => void;
}

/** Reachability of one backend: remembers the last state and tells listeners of changes only, not of every retry. */
export class Status {
  private readonly listeners = new Set<StatusListener>();
  /** Undefined until the first attempt has settled. */
  private state: boolean | undefined;

  get up(): boolean {
    return this.state === true;
  }

  get settled(): boolean {
    return this.state !== undefined;
  }

  on(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records the state; listeners hear of it only when it changed. */
  set(up: boolean, err?: Error): void {
    if (this.state === up) return;
    this.state = up;
    for (const cb of this.listeners) {
      try {
        cb(up, up ? undefined : err);
      } catch {
        // a listener's bug must not break the backend's connection handling
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
