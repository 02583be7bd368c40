import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChatMessage } from '../../../operator/api/records.ts';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/training');

export interface Expected {
  vocab_size: number;
  conversation: ChatMessage[];
  tools: unknown[];
  rendered: string;
  conversation_ids: number[];
  input_ids: number[][];
  models: Record<string, { dtype: string; logits: number[][][]; conversation_last_logits: number[] }>;
}

export const expected = (): Expected => JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
