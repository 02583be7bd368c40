// A small event emitter in the spirit of Node's EventEmitter.

export class Emitter {
  #events = new Map();
  #warned = new Set();
  #max = 10;

  constructor({ onWarning = (msg) => console.warn(msg) } = {}) {
    this.onWarning = onWarning;
  }

  setMaxListeners(n) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError('maxListeners must be a non-negative integer');
    this.#max = n;
    return this;
  }

  getMaxListeners() {
    return this.#max;
  }

  #add(event, fn, prepend) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    const list = this.#events.get(event) ?? [];
    if (prepend) list.unshift(fn);
    else list.push(fn);
    this.#events.set(event, list);
    if (this.#max > 0 && list.length > this.#max && !this.#warned.has(event)) {
      this.#warned.add(event);
      this.onWarning(`Possible memory leak: ${list.length} listeners for "${String(event)}" (max ${this.#max})`);
    }
    return this;
  }

  on(event, fn) {
    return this.#add(event, fn, false);
  }

  addListener(event, fn) {
    return this.on(event, fn);
  }

  prependListener(event, fn) {
    return this.#add(event, fn, true);
  }

  #onceWrapper(event, fn) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      return fn.apply(this, args);
    };
    wrapper.listener = fn;
    return wrapper;
  }

  once(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    return this.#add(event, this.#onceWrapper(event, fn), false);
  }

  prependOnceListener(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    return this.#add(event, this.#onceWrapper(event, fn), true);
  }

  /** Removes the most recently added matching listener (the function or a once() of it). */
  off(event, fn) {
    const list = this.#events.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i] === fn || list[i].listener === fn) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this.#events.delete(event);
    return this;
  }

  removeListener(event, fn) {
    return this.off(event, fn);
  }

  removeAllListeners(event) {
    if (event === undefined) this.#events.clear();
    else this.#events.delete(event);
    return this;
  }

  listeners(event) {
    return (this.#events.get(event) ?? []).map((l) => l.listener ?? l);
  }

  listenerCount(event) {
    return this.#events.get(event)?.length ?? 0;
  }

  eventNames() {
    return [...this.#events.keys()];
  }

  /** Calls the listeners of event with args; returns whether there were any. */
  emit(event, ...args) {
    const list = this.#events.get(event);
    const wild = event === '*' ? undefined : this.#events.get('*');
    if (event === 'error' && (!list || list.length === 0)) {
      const err = args[0] instanceof Error ? args[0] : new Error(`Unhandled error: ${String(args[0])}`);
      throw err;
    }
    if (list) for (const fn of [...list]) fn.apply(this, args);
    if (wild) for (const fn of [...wild]) fn.call(this, event, ...args);
    return Boolean(list?.length || wild?.length);
  }
}
