# syntax=docker/dockerfile:1
# The operator image (first version). One image serves three roles:
#   - the operator:        entropo operator
#   - the trainer (CPU):   entropo train ...        (GPU: build with --build-arg TFJS_GPU=1 on a CUDA base)
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

FROM ${NODE_IMAGE}
ARG TFJS_GPU=0
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/entropo/app
COPY --from=build /src/node_modules ./node_modules
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
# The GPU trainer variant: tfjs-node-gpu downloads libtensorflow at install time (needs internet
# at build time and a CUDA base image); the runtime picks it up when present.
RUN if [ "$TFJS_GPU" = "1" ]; then npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0; fi
# The agent runtime for sandbox injection: the node binary, and the sandbox bundle with its runner.
COPY --from=build /src/dist-sandbox /opt/entropo/sandbox
COPY operator/grading/runners /opt/entropo/sandbox/runners
RUN mkdir -p /opt/entropo/bin && cp "$(command -v node)" /opt/entropo/bin/node
ENV NODE_ENV=production PATH=/opt/entropo/app/bin:$PATH
USER 65532:65532
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/entropo/app/bin/entropo.js"]
CMD ["operator"]
