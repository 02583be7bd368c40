#!/usr/bin/env bash
# Install @tensorflow/tfjs-node 4.22.0 WITHOUT its download step (docs/native-backend.md):
#   - the TensorFlow C library from a registry package: the Linux x86-64 native jar of TensorFlow
#     Java (Maven Central org.tensorflow:tensorflow-core-api:0.5.0, TensorFlow 2.10.1):
#     libtensorflow_cc.so.2 (the whole TF_* / TFE_* C API, no Python symbols) and
#     libtensorflow_framework.so.2;
#   - the C headers from the TensorFlow 2.9.3 CPU wheel on PyPI (tensorflow/include/tensorflow/c,
#     core/platform/ctstring*.h), the version tfjs-node 4.22 is written against;
#   - the addon (tfjs_binding.node) built from the npm package's own sources (binding.gyp,
#     binding/*.cc) with node-gyp against the local Node headers (--nodedir, no header download).
#
#   bash bench/native/install-tfjs-node.sh DEST_DIR
#
# DEST_DIR receives node_modules/@tensorflow/tfjs-node (the package with deps/lib, deps/include
# and lib/napi-v8/tfjs_binding.node) and the package's small runtime dependencies. Link or copy it
# next to the project's node_modules/@tensorflow (the trainer then picks the `tensorflow` backend
# first, see operator/training/backend.ts). Needs: mvn, pip, npm, g++, make, python3, Node headers
# (NODE_DIR, default the prefix whose include/node/node_api.h exists: /usr for Debian's nodejs).
set -euo pipefail
DEST=$(realpath -m "${1:?usage: install-tfjs-node.sh DEST_DIR}")
WORK=${ENTROPO_NATIVE_CACHE:-$HOME/.cache/entropo/tfjs-node}
NODE_DIR=${NODE_DIR:-$(dirname "$(dirname "$(command -v node)")")}
[ -f "$NODE_DIR/include/node/node_api.h" ] || NODE_DIR=/usr
[ -f "$NODE_DIR/include/node/node_api.h" ] || { echo "install-tfjs-node: no Node headers at $NODE_DIR/include/node (set NODE_DIR)" >&2; exit 1; }
mkdir -p "$WORK" "$DEST/node_modules/@tensorflow"
cd "$WORK"

# 1. the C library (Maven Central, through Maven)
JAR=$HOME/.m2/repository/org/tensorflow/tensorflow-core-api/0.5.0/tensorflow-core-api-0.5.0-linux-x86_64.jar
[ -f "$JAR" ] || mvn -q dependency:get -Dartifact=org.tensorflow:tensorflow-core-api:0.5.0:jar:linux-x86_64 -Dtransitive=false
rm -rf jar && mkdir jar && (cd jar && unzip -q "$JAR" 'org/tensorflow/internal/c_api/linux-x86_64/libtensorflow*')

# 2. the C headers (PyPI, through pip; only the headers are taken from the wheel)
ls tensorflow_cpu-2.9.3-*.whl >/dev/null 2>&1 || pip download --no-deps --only-binary=:all: --python-version 3.10 -d . tensorflow-cpu==2.9.3
rm -rf inc && mkdir inc && (cd inc && unzip -q ../tensorflow_cpu-2.9.3-*.whl 'tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/ctstring*')

# 3. the npm package without its install script, and its runtime dependencies
# (dependencies first: npm install prunes a package it did not install itself)
(cd "$DEST" && [ -f package.json ] || echo '{"private":true}' > package.json)
(cd "$DEST" && npm install --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
  adm-zip@0.5 google-protobuf@3 https-proxy-agent@2 progress@2 rimraf@2 tar@6 @mapbox/node-pre-gyp@1.0.9 >/dev/null)
PKG=$DEST/node_modules/@tensorflow/tfjs-node
rm -rf "$PKG" && mkdir -p "$PKG"
npm pack --silent @tensorflow/tfjs-node@4.22.0 >/dev/null
tar xzf tensorflow-tfjs-node-4.22.0.tgz -C "$PKG" --strip-components 1

# 4. the addon, built from the package's sources against that library and those headers
mkdir -p "$PKG/deps/lib"
cp jar/org/tensorflow/internal/c_api/linux-x86_64/libtensorflow_cc.so.2 jar/org/tensorflow/internal/c_api/linux-x86_64/libtensorflow_framework.so.2 "$PKG/deps/lib/"
ln -sf libtensorflow_cc.so.2 "$PKG/deps/lib/libtensorflow.so"
ln -sf libtensorflow_framework.so.2 "$PKG/deps/lib/libtensorflow_framework.so"
cp -r inc/tensorflow/include "$PKG/deps/include"
GYP=$(dirname "$(realpath "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
(cd "$PKG" && node "$GYP" rebuild --nodedir="$NODE_DIR" --module_name=tfjs_binding --module_path=lib/napi-v8 --napi_build_version=8 >/dev/null)
mkdir -p "$PKG/lib/napi-v8" && cp "$PKG/build/Release/tfjs_binding.node" "$PKG/lib/napi-v8/"
node -e "const b=require('$PKG/lib/napi-v8/tfjs_binding.node'); console.log('tfjs-node addon built; TensorFlow C library', b.TF_Version)" 2>&1 | grep -v '^20[0-9][0-9]-\|oneDNN\|To enable'
