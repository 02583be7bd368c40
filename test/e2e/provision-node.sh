#!/usr/bin/env bash
# Provisions the binaries of the real single-node cluster the end-to-end tier runs
# (test/e2e/cluster.ts), on top of the control plane of test/envtest/provision.sh:
#   kubelet, kube-scheduler, kube-controller-manager, kube-proxy  (k8s.io/kubernetes)
#   coredns  (github.com/coredns/coredns, with only the plugins the cluster DNS uses)
#   kwok     (sigs.k8s.io/kwok: simulated nodes for scale tests)
#   pause    (test/e2e/pause.c, static; the Pod sandbox image)
# containerd, runc and the CNI plugins come from Debian packages (.ci/apt-packages.txt).
# Cached outside the repository, keyed by version; a warm run costs nothing. Prints the asset
# directory on its last line.
#   KUBE_VERSION (default v1.34.4)  COREDNS_VERSION (default v1.13.2)  KWOK_VERSION (default v0.8.0)
#   ENTROPO_NODE_CACHE (default ~/.cache/entropo/node)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../envtest/gobuild.sh
source "$HERE/../envtest/gobuild.sh"

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
COREDNS_VERSION=${COREDNS_VERSION:-v1.13.2}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${ENTROPO_NODE_CACHE:-$HOME/.cache/entropo/node}
PAUSE_KEY=$(sha256sum "$HERE/pause.c" | cut -c1-12)
DEST="$CACHE/k8s-$KUBE_VERSION-coredns-$COREDNS_VERSION-kwok-$KWOK_VERSION-pause-$PAUSE_KEY"

need=()
for b in kubelet kube-scheduler kube-controller-manager kube-proxy coredns kwok pause; do [[ -x "$DEST/$b" ]] || need+=("$b"); done
[[ -f "$DEST/kwok-stages/pod/general/pod-complete.yaml" ]] || need+=(kwok-stages)
if [[ ${#need[@]} -eq 0 ]]; then
  log "cached: $DEST"
  echo "$DEST"
  exit 0
fi

gobuild_env
mkdir -p "$DEST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)
step=$start
timed() { local now; now=$(date +%s); log "$1 in $((now - step))s"; step=$now; }

if [[ ! -x "$DEST/pause" ]]; then
  command -v cc >/dev/null || { log "a C compiler is required for the pause binary (apt-get install gcc libc6-dev)"; exit 1; }
  cc -static -Os -s -o "$DEST/pause.tmp" "$HERE/pause.c"
  mv "$DEST/pause.tmp" "$DEST/pause"
  timed "pause"
fi

if [[ ! -x "$DEST/coredns" ]]; then
  log "building coredns $COREDNS_VERSION"
  mod="$WORK/coredns"
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init entropo.dev/build-coredns >/dev/null 2>&1
    echo "require github.com/coredns/coredns $COREDNS_VERSION" >>go.mod
    # CoreDNS's own main imports every plugin (core/plugin); the cluster DNS needs a handful.
    cat >main.go <<'GO'
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
GO
    go mod tidy >/dev/null 2>&1 || go mod download all
    go build -trimpath -ldflags "-s -w" -o "$DEST/coredns.tmp" .
  )
  mv "$DEST/coredns.tmp" "$DEST/coredns"
  timed "coredns"
fi

if [[ ! -x "$DEST/kwok" ]]; then
  log "building kwok $KWOK_VERSION"
  build_wrapped sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok "$DEST/kwok" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  timed "kwok"
fi

if [[ ! -f "$DEST/kwok-stages/pod/general/pod-complete.yaml" ]]; then
  # kwok's Stage definitions (node heartbeat, Pod lifecycle) from the same module version.
  src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$DEST/kwok-stages.tmp" && mkdir -p "$DEST/kwok-stages.tmp"
  cp -r "$src/kustomize/stage/node" "$src/kustomize/stage/pod" "$DEST/kwok-stages.tmp/"
  chmod -R u+w "$DEST/kwok-stages.tmp"
  rm -rf "$DEST/kwok-stages" && mv "$DEST/kwok-stages.tmp" "$DEST/kwok-stages"
fi

kube=()
for b in kubelet kube-scheduler kube-controller-manager kube-proxy; do [[ -x "$DEST/$b" ]] || kube+=("$b"); done
if [[ ${#kube[@]} -gt 0 ]]; then
  build_kube_cmds "$KUBE_VERSION" "$DEST" "${kube[@]}"
  timed "${kube[*]}"
fi

log "provisioned in $(( $(date +%s) - start ))s: $DEST"
echo "$DEST"
