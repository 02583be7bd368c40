/** The saved status reads as `kubectl get -o yaml` prints it: no YAML anchors or aliases, even when
 * the status shares objects (the latest metrics are also the last history entry's). */
import test from 'ava';
import { parse } from 'yaml';
import { toKubeYaml, type AnyObject } from '../../../operator/local/executor.ts';

test('toKubeYaml writes shared status objects out in full (no &anchors / *aliases)', (t) => {
  const evaluation = { pass1: 0.125, bestAtN: 0.25 };
  const training = { loss: 0.51 };
  const obj = {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: 'quickstart', namespace: 'default' },
    spec: {},
    status: { metrics: evaluation, training, history: [{ iteration: 1, phase: 'Succeeded', evaluation, training }] },
  } as unknown as AnyObject;
  const text = toKubeYaml(obj);
  t.notRegex(text, /[&*]a\d/);
  const back = parse(text) as { status: { metrics: unknown; history: { evaluation: unknown }[] } };
  t.deepEqual(back.status.history[0].evaluation, { pass1: 0.125, bestAtN: 0.25 });
  t.deepEqual(back.status.metrics, back.status.history[0].evaluation);
});
