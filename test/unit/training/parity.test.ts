import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { selectBackend } from '../../../operator/training/backend.ts';
import { presentBackends } from '../../helpers/backends.ts';
import { loadModel } from '../../../operator/training/model-io.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { FIXTURES, expected, maxAbsDiff } from './helpers.ts';
import { Registry } from 'prom-client';

const exp = expected();

for (const backend of presentBackends()) {
  for (const kind of ['qwen3', 'llama', 'qwen2']) {
    test.serial(`${backend}: ${kind} (${exp.models[kind].dtype} weights) logits match transformers within 1e-4`, async (t) => {
      await selectBackend(backend, new Registry());
      const model = loadModel(path.join(FIXTURES, kind));
      const { logits } = model.forward(exp.input_ids);
      const got = await logits.data();
      const want = exp.models[kind].logits.flat(2);
      const d = maxAbsDiff(got, want);
      t.true(d < 1e-4, `max |diff| = ${d}`);
      // and the logits are not trivially small (the check would be vacuous)
      t.true(Math.max(...want.map(Math.abs)) > 0.5);
      const conv = model.forward([exp.conversation_ids]).logits;
      const last = tf.slice(conv, [0, exp.conversation_ids.length - 1, 0], [1, 1, -1]);
      const d2 = maxAbsDiff(await last.data(), exp.models[kind].conversation_last_logits);
      t.true(d2 < 1e-4, `conversation last-token max |diff| = ${d2}`);
      model.dispose();
      tf.dispose([logits, conv, last]);
    });
  }
}

test('chat template + tokenizer render the conversation exactly as transformers does', (t) => {
  const tok = loadChatTokenizer(path.join(FIXTURES, 'qwen3'));
  const text = tok.render(exp.conversation, { tools: exp.tools });
  t.is(text, exp.rendered);
  t.deepEqual(tok.encode(text), exp.conversation_ids);
});
