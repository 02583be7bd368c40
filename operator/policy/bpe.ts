/**
 * A small byte-level BPE trainer (GPT-2 / Qwen style) that writes a Hugging Face tokenizer.json
 * which @huggingface/tokenizers (and the Python `tokenizers`) load as is.
 *
 * Why our own: @huggingface/tokenizers for JavaScript only encodes and decodes (it has no
 * trainer), and the npm BPE packages we looked at either train a different format (GPT
 * byte-pair files without HF's pre-tokenizer) or are unmaintained. The algorithm is small:
 *
 * - text is split into words by the same ByteLevel pre-tokenizer regex the library applies at
 *   encode time, and each word's UTF-8 bytes are mapped to the 256 printable "byte characters"
 *   (GPT-2's bytes_to_unicode); every byte is a base token, so no input is ever unknown (this is
 *   the byte-level form of byte fallback);
 * - the most frequent adjacent pair (ties: the lexicographically smallest pair) is merged until
 *   the vocabulary reaches its size; the result is deterministic for a given corpus.
 *
 * Special tokens (e.g. <|im_start|>) are added tokens after the merges; the corpus is split on
 * them before counting, as the library does at encode time.
 */

/** The ByteLevel pre-tokenizer's split (the library's pattern, use_regex true). */
const WORD = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's bytes_to_unicode: byte -> printable character. */
export function byteCharacters(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCharCode(cs[i])));
  return out;
}

export interface BpeOptions {
  /** Total vocabulary size, special tokens included. */
  vocabSize: number;
  /** Added special tokens, given ids after the merges in this order. */
  specialTokens: string[];
  /** Added tokens that are not special (kept when decoding with skip_special_tokens). */
  addedTokens?: string[];
  /**
   * Pre-tokenization. `words` (GPT-2): merges stay inside words. `lines` (default): text is split
   * at newlines only, so merges may cross spaces and a frequent phrase (the scaffold's fixed
   * prompts, JSON around tool calls) becomes a few tokens: ~25% shorter conversations, which
   * is what lets a whole rollout fit a ~1k-token context.
   */
  split?: 'words' | 'lines';
}

export interface TrainedBpe {
  /** The tokenizer.json object. */
  json: Record<string, unknown>;
  merges: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Trains a byte-level BPE on the texts (pure). Throws when vocabSize cannot hold the 256 byte
 * tokens and the added tokens.
 */
export function trainByteLevelBpe(texts: Iterable<string>, o: BpeOptions): TrainedBpe {
  const added = [...o.specialTokens, ...(o.addedTokens ?? [])];
  const room = o.vocabSize - 256 - added.length;
  if (room < 0) throw new Error(`vocabSize ${o.vocabSize} is smaller than the 256 byte tokens plus ${added.length} added tokens`);
  const chars = byteCharacters();
  const enc = new TextEncoder();
  const lines = (o.split ?? 'lines') === 'lines';
  const pieces = (t: string): string[] => (lines ? t.split(/(\n)/).filter(Boolean) : (t.match(WORD) ?? []));
  const splitter = added.length ? new RegExp(added.map(escapeRegExp).join('|'), 'g') : undefined;

  // word (as byte characters) -> count
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of splitter ? text.split(splitter) : [text]) {
      for (const m of pieces(piece)) {
        const w = Array.from(enc.encode(m), (b) => chars[b]).join('');
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
    }
  }
  const words = [...counts.keys()].sort();
  const symbols: string[][] = words.map((w) => Array.from(w));
  const freq = words.map((w) => counts.get(w)!);

  const vocab = new Map<string, number>();
  for (let b = 0; b < 256; b++) vocab.set(chars[b], vocab.size);
  const merges: [string, string][] = [];
  const SEP = '\u0000';
  while (merges.length < room) {
    const pairs = new Map<string, number>();
    symbols.forEach((s, wi) => {
      for (let i = 0; i + 1 < s.length; i++) {
        const k = s[i] + SEP + s[i + 1];
        pairs.set(k, (pairs.get(k) ?? 0) + freq[wi]);
      }
    });
    let best: string | undefined;
    let bestCount = 1; // a pair seen once is not worth a token
    for (const [k, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== undefined && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split(SEP);
    const ab = a + b;
    merges.push([a, b]);
    if (!vocab.has(ab)) vocab.set(ab, vocab.size);
    for (const s of symbols) {
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, ab);
      }
    }
  }
  const addedTokens = added.map((content, i) => ({
    id: vocab.size + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: i < o.specialTokens.length,
  }));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: lines
      ? {
          type: 'Sequence',
          pretokenizers: [
            { type: 'Split', pattern: { String: '\n' }, behavior: 'Isolated', invert: false },
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
          ],
        }
      : { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: !lines },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: !lines },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
  return { json, merges: merges.length };
}
