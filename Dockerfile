# syntax=docker/dockerfile:1
# The operator image (first version). One image serves three roles:
#   - the operator:        entropo operator
#   - the trainer:         entropo train ...        on the native TensorFlow backend, tfjs-node
#                          (docs/native-backend.md); GPU: --build-arg TFJS_NATIVE=gpu gives
#                          tfjs-node-gpu with the CUDA 11 / cuDNN 8 runtime inside (the node's
#                          NVIDIA driver provides libcuda); TFJS_NATIVE=none: wasm only
#   - the agent runtime:   an init container copies /opt/entropo/bin (Node) and /opt/entropo/sandbox
#                          (`entropo sandbox` bundled into one file, with its grading runner) into
#                          an emptyDir of each sandbox Pod, whose task image then runs
#                          /entropo/bin/node /entropo/sandbox/entropo-sandbox.mjs sandbox ...
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator ./operator
RUN npm run build && npm run build:sandbox && npm prune --omit=dev

# The native TensorFlow backend, built from registry packages only (Maven Central: TensorFlow Java's
# native jar with the C library; PyPI: the C headers, and for gpu NVIDIA's CUDA 11 / cuDNN 8
# wheels; npm: the package's sources, compiled with node-gyp against this Node's headers).
FROM ${NODE_IMAGE} AS native
ARG TFJS_NATIVE=cpu
RUN apt-get update && apt-get install -y --no-install-recommends maven python3-pip g++ make unzip ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/install-tfjs-node.sh /src/scripts/
RUN mkdir -p /out/node_modules/@tensorflow && case "$TFJS_NATIVE" in \
      cpu) bash /src/scripts/install-tfjs-node.sh /out/node_modules ;; \
      gpu) bash /src/scripts/install-tfjs-node.sh --gpu /out/node_modules ;; \
      none) ;; \
      *) echo "TFJS_NATIVE must be cpu, gpu or none" >&2; exit 1 ;; \
    esac && rm -rf /root/.cache /root/.m2 /root/.npm

FROM ${NODE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/entropo/app
COPY --from=build /src/node_modules ./node_modules
# tfjs-node (or tfjs-node-gpu) next to the project's @tensorflow/tfjs: Auto picks it first.
COPY --from=native /out/node_modules/@tensorflow ./node_modules/@tensorflow
COPY --from=build /src/dist ./dist
# The built-in task suite (library sources, bug patches, manifest) is data, read at run time.
COPY operator/tasks/suite ./operator/tasks/suite
# The grading runner that keeps the work tree from standing in for pytest/unittest (operator/grading/integrity.ts).
COPY operator/grading/runners ./operator/grading/runners
# The built-in checkpoints (builtin:tiny-coder, builtin:tiny-verifier; operator/policy/builtin.ts).
COPY operator/policy/builtin ./operator/policy/builtin
COPY package.json ./
COPY bin ./bin
COPY crds ./crds
COPY manifests ./manifests
# The agent runtime for sandbox injection: the node binary, and the sandbox bundle with its runner.
COPY --from=build /src/dist-sandbox /opt/entropo/sandbox
COPY operator/grading/runners /opt/entropo/sandbox/runners
RUN mkdir -p /opt/entropo/bin && cp "$(command -v node)" /opt/entropo/bin/node
# LD_LIBRARY_PATH: the CUDA 11 / cuDNN 8 libraries of the gpu variant (absent, and harmless, otherwise).
ENV NODE_ENV=production PATH=/opt/entropo/app/bin:$PATH LD_LIBRARY_PATH=/opt/entropo/app/node_modules/@tensorflow/tfjs-node-gpu/deps/lib/cuda
USER 65532:65532
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/entropo/app/bin/entropo.js"]
CMD ["operator"]
