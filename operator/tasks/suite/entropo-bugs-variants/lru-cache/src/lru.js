// Part of the EntroPO task suite: a variant of the original library.
// Identifiers are renamed and lines shifted on purpose; behaviour is unchanged.
// See operator/policy/variants.yaml.
// A least-recently-used cache. The Map keeps insertion order, so its first entry is the least
// recently used one; touching an entry re-inserts it at the end.

export class LRUCache {
  #map = new Map();
  #bytesUsed = 0;

  constructor({ max = Infinity, maxSize = Infinity, sizeCalculation, ttl = 0, onEvict, now = Date.now } = {}) {
    if (!(max > 0)) throw new RangeError('max must be a positive number');
    if (!(maxSize > 0)) throw new RangeError('maxSize must be a positive number');
    if (maxSize !== Infinity && typeof sizeCalculation !== 'function') {
      throw new TypeError('maxSize requires a sizeCalculation function');
    }
    this.max = max;
    this.maxSize = maxSize;
    this.sizeCalculation = sizeCalculation;
    this.ttl = ttl;
    this.onEvict = onEvict;
    this.now = now;
  }

  get size() {
    return this.#map.size;
  }

  get totalSize() {
    return this.#bytesUsed;
  }

  #expired(entry) {
    return entry.expires !== 0 && this.now() >= entry.expires;
  }

  #remove(key, entry, reason) {
    this.#map.delete(key);
    this.#bytesUsed -= entry.size;
    if (this.onEvict) this.onEvict(entry.value, key, reason);
  }

  /** The value for key (refreshing its recency), or undefined when absent or expired. */
  get(key) {
    const entry = this.#map.get(key);
    if (!entry) return undefined;
    if (this.#expired(entry)) {
      this.#remove(key, entry, 'expire');
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry.value;
  }

  /** The value for key without refreshing its recency. */
  peek(key) {
    const entry = this.#map.get(key);
    return entry && !this.#expired(entry) ? entry.value : undefined;
  }

  /** Whether key is present and not expired (does not refresh recency). */
  has(key) {
    const entry = this.#map.get(key);
    return entry !== undefined && !this.#expired(entry);
  }

  set(key, value, { ttl = this.ttl } = {}) {
    const size = this.sizeCalculation ? this.sizeCalculation(value, key) : 0;
    if (!Number.isFinite(size) || size < 0) throw new TypeError('sizeCalculation must return a non-negative number');
    if (size > this.maxSize) {
      this.delete(key);
      return this;
    }
    const prior = this.#map.get(key);
    if (prior) {
      this.#map.delete(key);
      this.#bytesUsed -= prior.size;
      if (this.onEvict && prior.value !== value) this.onEvict(prior.value, key, 'set');
    }
    this.#map.set(key, { value, size, expires: ttl > 0 ? this.now() + ttl : 0 });
    this.#bytesUsed += size;
    this.#evict();
    return this;
  }

  #evict() {
    while (this.#map.size > this.max || this.#bytesUsed > this.maxSize) {
      const [key, entry] = this.#map.entries().next().value;
      this.#remove(key, entry, 'evict');
    }
  }

  delete(key) {
    const entry = this.#map.get(key);
    if (!entry) return false;
    this.#remove(key, entry, 'delete');
    return true;
  }

  clear() {
    for (const [key, entry] of [...this.#map]) this.#remove(key, entry, 'delete');
  }

  /** Removes the least recently used entry and returns its value. */
  pop() {
    const first = this.#map.entries().next();
    if (first.done) return undefined;
    const [key, entry] = first.value;
    this.#remove(key, entry, 'evict');
    return entry.value;
  }

  /** Removes every expired entry; returns how many were removed. */
  purgeStale() {
    let n = 0;
    for (const [key, entry] of [...this.#map]) {
      if (this.#expired(entry)) {
        this.#remove(key, entry, 'expire');
        n++;
      }
    }
    return n;
  }

  /** Live entries, most recently used first. */
  *entries() {
    const live = [...this.#map].filter(([, e]) => !this.#expired(e));
    for (const [k, e] of live.reverse()) yield [k, e.value];
  }

  *keys() {
    for (const [k] of this.entries()) yield k;
  }

  *values() {
    for (const [, v] of this.entries()) yield v;
  }

  /** Remaining time to live of key in ms (Infinity: no ttl; 0: absent or expired). */
  getRemainingTTL(key) {
    const entry = this.#map.get(key);
    if (!entry || this.#expired(entry)) return 0;
    return entry.expires === 0 ? Infinity : entry.expires - this.now();
  }
}
