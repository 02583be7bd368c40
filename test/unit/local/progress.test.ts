import test from 'ava';
import type { ObservedUnit } from '../../../operator/controllers/decision.ts';
import { finishedTrainerLine, lineText, trainerLine } from '../../../operator/local/progress.ts';

const trainer = (o: Partial<ObservedUnit>): ObservedUnit => ({ name: 'qs-it1-train-a1', role: 'Trainer', iteration: 1, attempt: 1, phase: 'Running', ...o });

test('the training line says what the trainer is doing before it reports its steps, never "0/0"', (t) => {
  const pending = lineText(trainerLine(trainer({ phase: 'Pending' })));
  t.is(pending, 'it1 training - starting');
  const loading = lineText(trainerLine(trainer({})));
  t.is(loading, 'it1 training - loading the model and data');
  t.notRegex(pending + loading, /0\/0/);
  t.is(lineText(trainerLine(trainer({ progress: { step: 0, totalSteps: 20 } }))), 'it1 training 0/20 first step');
  t.is(lineText(trainerLine(trainer({ progress: { step: 5, totalSteps: 20, loss: 0.69312 } }))), 'it1 training 5/20 loss 0.6931');
});

test('a finished update keeps its step count (6/6 while it ran stays 6/6, not 1/1)', (t) => {
  t.is(lineText(finishedTrainerLine({ iteration: 1, training: { loss: 0.41234, steps: 6, backend: 'wasm' } })), 'it1 training 6/6 loss 0.4123 (done, wasm)');
  t.is(lineText(finishedTrainerLine({ iteration: 2, training: {} })), 'it2 training - loss - (done)');
});
