/**
 * Bounds on outgoing connections: at most `total` open at once, and at most `perDestination` to
 * any one destination (an address:port). Waiters are served first come, first served.
 */
export class ConnectionLimits {
  readonly #total: Slots;
  readonly #perDestination = new Map<string, Slots>();
  readonly #perDestinationLimit: number;

  constructor(total: number, perDestination: number) {
    this.#total = new Slots(total);
    this.#perDestinationLimit = perDestination;
  }

  /** Wait for a slot to `destination`; call the returned function exactly once when the connection is closed. */
  async acquire(destination: string): Promise<() => void> {
    let slots = this.#perDestination.get(destination);
    if (!slots) {
      slots = new Slots(this.#perDestinationLimit);
      this.#perDestination.set(destination, slots);
    }
    const mine = slots;
    await mine.take();
    await this.#total.take();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total.give();
      mine.give();
      if (mine.idle()) this.#perDestination.delete(destination);
    };
  }

  /** Connections open now (for tests and stats). */
  get open(): number {
    return this.#total.used;
  }
}

/** A counting semaphore. */
class Slots {
  used = 0;
  readonly #limit: number;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  take(): Promise<void> {
    if (this.used < this.#limit) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  give(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.used--;
  }

  idle(): boolean {
    return this.used === 0 && this.#waiting.length === 0;
  }
}
