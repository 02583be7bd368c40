#!/usr/bin/env bash
# Provisions the real control-plane binaries the integration tests run against:
# kube-apiserver and kubectl built from the k8s.io/kubernetes Go module, etcd built from
# go.etcd.io/etcd, helm built from helm.sh/helm. Binaries are cached outside the repo, keyed by
# version, so a warm run costs nothing. Prints the asset directory on its last line.
#
#   KUBE_VERSION   (default v1.34.4)   ETCD_VERSION (default v3.5.21)   HELM_VERSION (default v3.19.0)
#   ENTROPO_ASSETS_CACHE (default ~/.cache/entropo/envtest)
#   KUBEBUILDER_ASSETS, when set and holding kube-apiserver + etcd, is used as it is.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.5.21}
HELM_VERSION=${HELM_VERSION:-v3.19.0}
CACHE=${ENTROPO_ASSETS_CACHE:-$HOME/.cache/entropo/envtest}
DEST="$CACHE/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=./gobuild.sh
source "$HERE/gobuild.sh"

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

need=()
for b in kube-apiserver kubectl etcd helm; do [[ -x "$DEST/$b" ]] || need+=("$b"); done
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

build_kube() {
  log "building kube-apiserver and kubectl $KUBE_VERSION (first run only; ~10-20 min on 2 cores)"
  build_kube_cmds "$KUBE_VERSION" "$DEST" kube-apiserver kubectl
}

build_etcd() {
  log "building etcd $ETCD_VERSION"
  build_wrapped go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$DEST/etcd"
}

build_helm() {
  log "building helm $HELM_VERSION"
  build_wrapped helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$DEST/helm" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
}

[[ -x "$DEST/etcd" ]] || build_etcd
[[ -x "$DEST/kube-apiserver" && -x "$DEST/kubectl" ]] || build_kube
[[ -x "$DEST/helm" ]] || build_helm

log "provisioned in $(( $(date +%s) - start ))s: $DEST"
echo "$DEST"
