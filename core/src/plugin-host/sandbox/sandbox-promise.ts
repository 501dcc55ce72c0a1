/*
 * The sandbox's own promises, as JavaScript source spliced into the runtime (sandbox-runtime.ts),
 * which declares the captured built-ins it uses (apply, freeze, TypeErrorCtor, AggregateErrorCtor).
 *
 * Why: the VM runs with vm2's `allowAsync: false`, so native promise reactions never run in the
 * sandbox. This implementation queues its reactions as jobs in an array instead of V8's microtask
 * queue, and the runtime drains that queue (`drain()`) at the end of every call the host makes
 * into the sandbox — inside the watchdog. Plugin code sees it as `Promise` (a parameter of the
 * module function shadows the global) and async/await is compiled down to generators driven by it.
 * It follows the Promises/A+ resolution procedure; there is no unhandled-rejection reporting.
 */
export const PROMISE_SOURCE = String.raw`

  const jobs = [];
  let jobHead = 0;

  function enqueue(job) {
    jobs[jobs.length] = job;
  }

  /**
   * Run queued promise jobs until none is left. Called at the end of every host call, inside the
   * watchdog. Re-entrant and safe to resume after a stop: the head moves past a job before it runs.
   */
  function drain() {
    while (jobHead < jobs.length) {
      const job = jobs[jobHead];
      jobs[jobHead] = undefined;
      jobHead++;
      job();
    }
    jobs.length = 0;
    jobHead = 0;
  }

  function isThenable(value) {
    return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
  }

  class SandboxPromise {
    #state = 0; // 0 pending, 1 fulfilled, 2 rejected
    #value = undefined;
    #reactions = [];

    constructor(executor) {
      if (typeof executor !== 'function') throw new TypeErrorCtor('Promise resolver ' + typeof executor + ' is not a function');
      const fns = SandboxPromise.#resolvers(this);
      try {
        executor(fns.resolve, fns.reject);
      } catch (e) {
        fns.reject(e);
      }
    }

    static #resolvers(promise) {
      let done = false;
      return {
        resolve(value) {
          if (done) return;
          done = true;
          SandboxPromise.#resolve(promise, value);
        },
        reject(reason) {
          if (done) return;
          done = true;
          SandboxPromise.#settle(promise, 2, reason);
        },
      };
    }

    static #resolve(promise, value) {
      if (value === promise) return SandboxPromise.#settle(promise, 2, new TypeErrorCtor('Chaining cycle detected for promise'));
      if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
        let then;
        try {
          then = value.then;
        } catch (e) {
          return SandboxPromise.#settle(promise, 2, e);
        }
        if (typeof then === 'function') {
          enqueue(() => {
            const fns = SandboxPromise.#resolvers(promise);
            try {
              apply(then, value, [fns.resolve, fns.reject]);
            } catch (e) {
              fns.reject(e);
            }
          });
          return;
        }
      }
      SandboxPromise.#settle(promise, 1, value);
    }

    static #settle(promise, state, value) {
      if (promise.#state !== 0) return;
      promise.#state = state;
      promise.#value = value;
      const reactions = promise.#reactions;
      promise.#reactions = undefined;
      for (let i = 0; i < reactions.length; i++) SandboxPromise.#schedule(reactions[i], state, value);
    }

    static #schedule(reaction, state, value) {
      enqueue(() => {
        const handler = state === 1 ? reaction.onFulfilled : reaction.onRejected;
        if (handler === undefined) {
          if (state === 1) reaction.resolve(value);
          else reaction.reject(value);
          return;
        }
        let result;
        try {
          result = handler(value);
        } catch (e) {
          reaction.reject(e);
          return;
        }
        reaction.resolve(result);
      });
    }

    then(onFulfilled, onRejected) {
      const state = this.#state; // also the brand check: throws for a non-promise receiver
      let resolve, reject;
      const next = new SandboxPromise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const reaction = {
        onFulfilled: typeof onFulfilled === 'function' ? onFulfilled : undefined,
        onRejected: typeof onRejected === 'function' ? onRejected : undefined,
        resolve,
        reject,
      };
      if (state === 0) this.#reactions[this.#reactions.length] = reaction;
      else SandboxPromise.#schedule(reaction, state, this.#value);
      return next;
    }

    catch(onRejected) {
      return this.then(undefined, onRejected);
    }

    finally(onFinally) {
      if (typeof onFinally !== 'function') return this.then(onFinally, onFinally);
      return this.then(
        (value) => SandboxPromise.resolve(onFinally()).then(() => value),
        (reason) => SandboxPromise.resolve(onFinally()).then(() => { throw reason; }),
      );
    }

    get [Symbol.toStringTag]() {
      return 'Promise';
    }

    static resolve(value) {
      if (value instanceof SandboxPromise) return value;
      return new SandboxPromise((resolve) => resolve(value));
    }

    static reject(reason) {
      return new SandboxPromise((_, reject) => reject(reason));
    }

    static withResolvers() {
      let resolve, reject;
      const promise = new SandboxPromise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    }

    static all(iterable) {
      return SandboxPromise.#combine(iterable, (values, index, value, ctl) => {
        values[index] = value;
        ctl.done();
      }, (values, index, reason, ctl) => ctl.reject(reason), (values, ctl) => ctl.resolve(values));
    }

    static allSettled(iterable) {
      return SandboxPromise.#combine(iterable, (values, index, value, ctl) => {
        values[index] = { status: 'fulfilled', value };
        ctl.done();
      }, (values, index, reason, ctl) => {
        values[index] = { status: 'rejected', reason };
        ctl.done();
      }, (values, ctl) => ctl.resolve(values));
    }

    static any(iterable) {
      return SandboxPromise.#combine(iterable, (values, index, value, ctl) => ctl.resolve(value), (values, index, reason, ctl) => {
        values[index] = reason;
        ctl.done();
      }, (values, ctl) => ctl.reject(new AggregateErrorCtor(values, 'All promises were rejected')));
    }

    static race(iterable) {
      return new SandboxPromise((resolve, reject) => {
        for (const item of iterable) SandboxPromise.resolve(item).then(resolve, reject);
      });
    }

    /** all / allSettled / any: whenAll runs once every item has called ctl.done(). */
    static #combine(iterable, onValue, onReason, whenAll) {
      return new SandboxPromise((resolve, reject) => {
        const values = [];
        let remaining = 1;
        const ctl = {
          resolve,
          reject,
          done() {
            remaining--;
            if (remaining === 0) whenAll(values, ctl);
          },
        };
        let index = 0;
        for (const item of iterable) {
          const at = index++;
          values[at] = undefined;
          remaining++;
          SandboxPromise.resolve(item).then((v) => onValue(values, at, v, ctl), (r) => onReason(values, at, r, ctl));
        }
        ctl.done();
      });
    }
  }
  freeze(SandboxPromise);
  freeze(SandboxPromise.prototype);
`;
