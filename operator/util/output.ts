/**
 * Bounded capture of a command's output: the first `headBytes` and the last `tailBytes` are kept,
 * the middle is counted and dropped. 100 MB of output costs a few KiB of memory.
 */
import { headChars, tailChars, utf8HeadEnd, utf8TailStart } from './text.ts';

export class HeadTail {
  private head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  /** Bytes seen in total. */
  total = 0;

  constructor(
    readonly headBytes: number,
    readonly tailBytes: number,
    /** Verb of the marker that stands where bytes were dropped ("omitted", "dropped"). */
    private readonly markerVerb = 'omitted',
  ) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headLen < this.headBytes) {
      const take = Math.min(this.headBytes - this.headLen, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headLen += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0 || this.tailBytes === 0) return;
    this.tail.push(Buffer.from(rest));
    this.tailLen += rest.length;
    // Compact once the kept tail is twice the limit, so pushes stay amortised O(chunk).
    if (this.tailLen > 2 * this.tailBytes) {
      const all = Buffer.concat(this.tail);
      const kept = all.subarray(all.length - this.tailBytes);
      this.tail = [Buffer.from(kept)];
      this.tailLen = kept.length;
    }
  }

  /** Bytes dropped from the middle. */
  get omitted(): number {
    return this.total - this.headLen - Math.min(this.tailLen, this.tailBytes);
  }

  get truncated(): boolean {
    return this.omitted > 0;
  }

  /**
   * The kept text; a marker stands where bytes were dropped. Cuts fall on character boundaries:
   * a character split by the head or tail limit is dropped whole and counted in the marker.
   */
  text(): string {
    const head = Buffer.concat(this.head);
    const allTail = Buffer.concat(this.tail);
    const tail = allTail.subarray(Math.max(0, allTail.length - this.tailBytes));
    if (!this.truncated) return Buffer.concat([head, tail]).toString('utf8');
    const h = head.subarray(0, utf8HeadEnd(head, head.length));
    const t = tail.subarray(utf8TailStart(tail, 0));
    return `${h.toString('utf8')}\n[... ${this.total - h.length - t.length} bytes of output ${this.markerVerb} ...]\n${t.toString('utf8')}`;
  }
}

/** Shortens a string to at most about `max` characters, keeping its head and tail whole (no split surrogate pairs). */
export function truncateMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = Math.max(0, max - 64);
  const head = headChars(text, Math.ceil(keep / 2));
  const tail = tailChars(text, keep - Math.ceil(keep / 2));
  return `${head}\n[... ${text.length - head.length - tail.length} characters omitted ...]\n${tail}`;
}
