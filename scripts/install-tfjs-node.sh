#!/usr/bin/env bash
# Installs the native TensorFlow backend of tfjs, @tensorflow/tfjs-node 4.22.0 (or, with --gpu,
# @tensorflow/tfjs-node-gpu 4.22.0), WITHOUT the package's own download step, from registry
# packages only (docs/native-backend.md):
#   - the TensorFlow C library: TensorFlow Java's native jar on Maven Central
#     (org.tensorflow:tensorflow-core-api:0.5.0, classifier linux-x86_64, or linux-x86_64-gpu for
#     the CUDA build; TensorFlow 2.10.1): libtensorflow_cc.so.2 (the whole TF_* / TFE_* C API, no
#     Python symbols) and libtensorflow_framework.so.2;
#   - the C headers: the TensorFlow 2.9.3 CPU wheel on PyPI (tensorflow/include/tensorflow/c,
#     core/platform/ctstring*.h), the version tfjs-node 4.22 is written against;
#   - with --gpu, the CUDA 11 / cuDNN 8 runtime: the nvidia-*-cu11 wheels on PyPI, their shared
#     libraries copied to deps/lib/cuda (put that directory on LD_LIBRARY_PATH; the GPU driver,
#     libcuda.so.1, comes from the machine);
#   - the addon (tfjs_binding.node) built from the npm package's own sources (binding.gyp,
#     binding/*.cc) with node-gyp against the local Node headers (--nodedir: no header download).
#
#   bash scripts/install-tfjs-node.sh [--gpu] [NODE_MODULES_DIR]     (default ./node_modules)
#
# The package is built once into ENTROPO_NATIVE_CACHE (default ~/.cache/entropo/tfjs-node),
# keyed by this script's contents, and then copied (hard links where possible) to
# NODE_MODULES_DIR/@tensorflow/tfjs-node[-gpu] with its small runtime dependencies nested in its
# own node_modules; @tensorflow/tfjs itself is the project's copy (one tfjs-core). A warm run is
# a copy; `npm ci` / `npm install` remove the package again (it is not in package-lock.json): run
# this script after them. Once it resolves, the trainer and the policy server pick it first
# (operator/training/backend.ts; ENTROPO_TFJS_BACKEND or spec.training.backend override that).
#
# Needs: mvn, pip (or python3 -m pip), npm, g++, make, python3, unzip, Node headers (NODE_DIR,
# default the prefix of `node` whose include/node/node_api.h exists, else /usr).
set -euo pipefail
VARIANT=cpu
DEST=
for arg in "$@"; do
  case "$arg" in
    --gpu) VARIANT=gpu ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install-tfjs-node.sh: unknown option $arg (usage: install-tfjs-node.sh [--gpu] [NODE_MODULES_DIR])" >&2; exit 2 ;;
    *) if [ -n "$DEST" ]; then echo "install-tfjs-node.sh: one NODE_MODULES_DIR only (got $DEST and $arg)" >&2; exit 2; fi; DEST=$arg ;;
  esac
done
NM=$(realpath -m "${DEST:-node_modules}")
TFJS_VERSION=4.22.0
TFJAVA_VERSION=0.5.0
HEADERS_VERSION=2.9.3
if [ "$VARIANT" = gpu ]; then PKG=tfjs-node-gpu CLASSIFIER=linux-x86_64-gpu; else PKG=tfjs-node CLASSIFIER=linux-x86_64; fi
CACHE=${ENTROPO_NATIVE_CACHE:-$HOME/.cache/entropo/tfjs-node}
KEY=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
BUILD=$CACHE/$PKG-$TFJS_VERSION-$KEY
NODE_DIR=${NODE_DIR:-$(dirname "$(dirname "$(command -v node)")")}
[ -f "$NODE_DIR/include/node/node_api.h" ] || NODE_DIR=/usr
say() { echo "install-tfjs-node: $*" >&2; }
PIP=(pip); command -v pip >/dev/null || PIP=(python3 -m pip)

build() {
  [ -f "$NODE_DIR/include/node/node_api.h" ] || { say "no Node headers at $NODE_DIR/include/node (set NODE_DIR)"; exit 1; }
  local tmp=$BUILD.tmp.$$
  rm -rf "$tmp" && mkdir -p "$tmp" "$CACHE/downloads"
  trap 'rm -rf "$tmp"' EXIT
  cd "$CACHE/downloads"

  # 1. the C library (Maven Central, through Maven; Maven keeps the jar in ~/.m2)
  local m2=${ENTROPO_M2_REPO:-$HOME/.m2/repository}
  local jar=$m2/org/tensorflow/tensorflow-core-api/$TFJAVA_VERSION/tensorflow-core-api-$TFJAVA_VERSION-$CLASSIFIER.jar
  [ -f "$jar" ] || { say "mvn dependency:get tensorflow-core-api:$TFJAVA_VERSION:$CLASSIFIER"; mvn -q -Dmaven.repo.local="$m2" dependency:get -Dartifact="org.tensorflow:tensorflow-core-api:$TFJAVA_VERSION:jar:$CLASSIFIER" -Dtransitive=false; }
  mkdir -p "$tmp/jar" && (cd "$tmp/jar" && unzip -q "$jar" "org/tensorflow/internal/c_api/$CLASSIFIER/libtensorflow*")

  # 2. the C headers (PyPI, through pip; only the headers are taken from the wheel)
  ls tensorflow_cpu-$HEADERS_VERSION-*.whl >/dev/null 2>&1 || { say "pip download tensorflow-cpu==$HEADERS_VERSION (headers)";
    "${PIP[@]}" download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.10 -d . "tensorflow-cpu==$HEADERS_VERSION"; }
  mkdir -p "$tmp/inc" && (cd "$tmp/inc" && unzip -q "$CACHE"/downloads/tensorflow_cpu-$HEADERS_VERSION-*.whl 'tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/ctstring*')

  # 3. the npm package without its install script; its runtime dependencies nested in it
  # (not @tensorflow/tfjs: the project's copy is used, so there is one tfjs-core)
  local pkg=$tmp/package
  [ -f "tensorflow-$PKG-$TFJS_VERSION.tgz" ] || npm pack --silent "@tensorflow/$PKG@$TFJS_VERSION" >/dev/null
  mkdir -p "$pkg" && tar xzf "tensorflow-$PKG-$TFJS_VERSION.tgz" -C "$pkg" --strip-components 1
  mkdir -p "$tmp/deps" && echo '{"private":true}' > "$tmp/deps/package.json"
  (cd "$tmp/deps" && npm install --no-save --no-package-lock --ignore-scripts --no-audit --no-fund --loglevel=error \
    adm-zip@0.5 google-protobuf@3 https-proxy-agent@2 progress@2 rimraf@2 tar@6 @mapbox/node-pre-gyp@1.0.9 >/dev/null)
  mv "$tmp/deps/node_modules" "$pkg/node_modules"

  # 4. the libraries and headers where binding.gyp expects them (deps/), the addon built from source
  mkdir -p "$pkg/deps/lib"
  cp "$tmp"/jar/org/tensorflow/internal/c_api/$CLASSIFIER/libtensorflow_cc.so.2 "$tmp"/jar/org/tensorflow/internal/c_api/$CLASSIFIER/libtensorflow_framework.so.2 "$pkg/deps/lib/"
  ln -sf libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so"
  ln -sf libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so"
  cp -r "$tmp/inc/tensorflow/include" "$pkg/deps/include"
  local gyp
  gyp=$(dirname "$(realpath "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  say "building the addon (node-gyp, Node headers from $NODE_DIR)"
  (cd "$pkg" && node "$gyp" rebuild --nodedir="$NODE_DIR" --module_name=tfjs_binding --module_path=lib/napi-v8 --napi_build_version=8 >"$tmp/gyp.log" 2>&1) || { cat "$tmp/gyp.log" >&2; say "node-gyp failed"; exit 1; }
  mkdir -p "$pkg/lib/napi-v8" && cp "$pkg/build/Release/tfjs_binding.node" "$pkg/lib/napi-v8/"
  rm -rf "$pkg/build"

  # 5. GPU: the CUDA 11 / cuDNN 8 runtime libraries from NVIDIA's wheels on PyPI
  if [ "$VARIANT" = gpu ]; then
    local wheels=(nvidia-cuda-runtime-cu11==11.8.89 nvidia-cublas-cu11==11.11.3.6 nvidia-cufft-cu11==10.9.0.58
      nvidia-curand-cu11==10.3.0.86 nvidia-cusolver-cu11==11.4.1.48 nvidia-cusparse-cu11==11.7.5.86 nvidia-cudnn-cu11==8.6.0.163)
    mkdir -p "$CACHE/downloads/cuda11" "$pkg/deps/lib/cuda"
    say "pip download ${wheels[*]}"
    (cd "$CACHE/downloads/cuda11" && "${PIP[@]}" download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.10 -d . "${wheels[@]}")
    for w in "$CACHE"/downloads/cuda11/nvidia_*.whl; do
      (cd "$tmp" && rm -rf whl && mkdir whl && cd whl && unzip -q "$w" 'nvidia/*/lib/*.so*' && cp -a nvidia/*/lib/*.so* "$pkg/deps/lib/cuda/")
    done
    rm -rf "$tmp/whl"
  fi
  rm -rf "$tmp/jar" "$tmp/inc" "$tmp/deps"
  rm -rf "$BUILD" && mv "$pkg" "$BUILD" && rm -rf "$tmp"
  trap - EXIT
}

if [ ! -f "$BUILD/lib/napi-v8/tfjs_binding.node" ]; then
  start=$(date +%s)
  (build)
  say "built $PKG into $BUILD in $(( $(date +%s) - start ))s"
fi

# Install: a copy of the cached build (hard links when on the same file system).
DEST=$NM/@tensorflow/$PKG
mkdir -p "$NM/@tensorflow"
rm -rf "$DEST"
cp -al "$BUILD" "$DEST" 2>/dev/null || { rm -rf "$DEST"; cp -a "$BUILD" "$DEST"; }
LD=""; [ "$VARIANT" = gpu ] && LD="$DEST/deps/lib/cuda"
LD_LIBRARY_PATH="$LD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" TF_CPP_MIN_LOG_LEVEL=2 \
  node -e "const b=require(process.argv[1]); console.log('install-tfjs-node: $PKG $TFJS_VERSION in ' + process.argv[2] + '; TensorFlow C library ' + b.TF_Version)" "$DEST/lib/napi-v8/tfjs_binding.node" "$DEST"
