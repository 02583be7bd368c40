import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseDockerfile } from '../../e2e/images.ts';

test('the repository Dockerfile: final stage layout, user and entrypoint as the image builder reads them', (t) => {
  const stage = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
  t.is(stage.workdir, '/opt/entropo/app');
  t.is(stage.user, '65532:65532');
  t.deepEqual(stage.entrypoint, ['/usr/bin/tini', '--', 'node', '/opt/entropo/app/bin/entropo.js']);
  t.deepEqual(stage.cmd, ['operator']);
  const copies = stage.copies.map((c) => `${c.from ?? ''}:${c.sources.join(',')}->${c.dest}`);
  // What the image builder (test/e2e/images.ts) maps: the build stage's two outputs, then plain COPYs.
  for (const c of [
    'build:/src/node_modules->/opt/entropo/app/node_modules',
    'build:/src/dist->/opt/entropo/app/dist',
    ':operator/tasks/suite->/opt/entropo/app/operator/tasks/suite',
    ':package.json->/opt/entropo/app',
    ':bin->/opt/entropo/app/bin',
    ':crds->/opt/entropo/app/crds',
    ':manifests->/opt/entropo/app/manifests',
    // The agent runtime that sandbox Pods copy (operator/workloads/sandbox-pod.ts RUNTIME_SOURCES).
    'build:/src/dist-sandbox->/opt/entropo/sandbox',
    ':operator/grading/runners->/opt/entropo/sandbox/runners',
  ]) {
    t.true(copies.includes(c), `${c} in ${copies.join(' ')}`);
  }
  t.deepEqual(stage.copies.filter((c) => c.from).map((c) => c.from), ['build', 'native', 'build', 'build']);
  // The native TensorFlow backend (scripts/install-tfjs-node.sh in the `native` stage) lands next to the project's @tensorflow/tfjs.
  t.true(copies.includes('native:/out/node_modules/@tensorflow->/opt/entropo/app/node_modules/@tensorflow'), copies.join(' '));
  t.regex(stage.env.LD_LIBRARY_PATH, /\/opt\/entropo\/app\/node_modules\/@tensorflow\/tfjs-node-gpu\/deps\/lib\/cuda/);
  t.true(stage.runPaths.includes('/opt/entropo/bin/node'));
  t.is(stage.env.NODE_ENV, 'production');
  t.regex(stage.env.PATH, /^\/opt\/entropo\/app\/bin:\/usr\/local\/sbin:/);
});

test('parseDockerfile: continuation lines, comments, the last stage wins; shell-form ENTRYPOINT is an error naming the line', (t) => {
  const stage = parseDockerfile(['FROM a AS b', 'WORKDIR /x', 'FROM c', '# note', 'WORKDIR /app', 'COPY --from=b /out \\', '  ./out', 'ENV A=1 B="two"', 'USER 1:1', 'CMD ["run"]'].join('\n'));
  t.is(stage.workdir, '/app');
  t.deepEqual(stage.copies, [{ from: 'b', sources: ['/out'], dest: '/app/out' }]);
  t.deepEqual(stage.env, { A: '1', B: 'two' });
  t.deepEqual(stage.cmd, ['run']);
  t.throws(() => parseDockerfile('FROM a\n\nENTRYPOINT node x.js\n'), { message: /line 3: ENTRYPOINT must be in exec form/ });
});

test('the Dockerfile builds the native backend with the scripted install (cpu by default, gpu and none on request), no download step of its own', (t) => {
  const text = readFileSync('Dockerfile', 'utf8');
  const native = text.slice(text.indexOf('AS native'), text.indexOf('FROM', text.indexOf('AS native')));
  t.regex(native, /ARG TFJS_NATIVE=cpu/);
  t.regex(native, /COPY scripts\/install-tfjs-node\.sh /);
  t.regex(native, /cpu\) bash \/src\/scripts\/install-tfjs-node\.sh \/out\/node_modules ;;/);
  t.regex(native, /gpu\) bash \/src\/scripts\/install-tfjs-node\.sh --gpu \/out\/node_modules ;;/);
  t.notRegex(text, /npm install[^\n]*tfjs-node/, 'no npm install of tfjs-node (its install script downloads libtensorflow)');
});
