/**
 * Builds (or finds cached) the images of the end-to-end tier and prints one line per image:
 * `<name> <docker-archive path> <seconds>`. Used by .ci/run to build them before the tests and
 * to report cold and warm build times.
 *   tsx test/e2e/build-images.ts [operator] [task-base] [pause]
 * Default: operator and task-base (pause needs the node's binaries: test/e2e/provision-node.sh).
 */
import { operatorImage, taskBaseImage, pauseImage } from './images.ts';
import { provisionNode } from './cluster.ts';

const wanted = process.argv.slice(2);
const all = wanted.length === 0;
const defaults = ['operator', 'task-base'];
const builders: Record<string, () => { name: string; archive: string }> = {
  operator: operatorImage,
  'task-base': taskBaseImage,
  pause: () => pauseImage(provisionNode().pause),
};
for (const [id, build] of Object.entries(builders)) {
  if (all ? !defaults.includes(id) : !wanted.includes(id)) continue;
  const t0 = Date.now();
  const img = build();
  console.log(`${img.name} ${img.archive} ${((Date.now() - t0) / 1000).toFixed(1)}`);
}
