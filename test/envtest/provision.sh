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

log() { echo "[provision] $*" >&2; }

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

command -v go >/dev/null || { log "go is required to build the control plane (apt-get install golang or use the machine's Go)"; exit 1; }
mkdir -p "$DEST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
start=$(date +%s)

build_kube() {
  log "building kube-apiserver and kubectl $KUBE_VERSION (first run only; ~10-20 min on 2 cores)"
  local mod="$WORK/kube"
  mkdir -p "$mod"
  cd "$mod"
  go mod init entropo.dev/envtest-kube >/dev/null 2>&1
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  # The main module's replace directives (k8s.io/X => ./staging/src/k8s.io/X) do not apply to
  # a dependency: replace each staging module with its published v0.x release instead.
  local staging_version="v0${KUBE_VERSION#v1}"
  {
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } >>go.mod
  cat >tools.go <<'GO'
//go:build tools
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >/dev/null 2>&1 || go mod download all
  local major=${KUBE_VERSION#v}; major=${major%%.*}
  local minor=${KUBE_VERSION#v*.}; minor=${minor%%.*}
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  go build -trimpath -ldflags "$ld" -o "$DEST/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$DEST/kube-apiserver.tmp" "$DEST/kube-apiserver"
  go build -trimpath -ldflags "$ld" -o "$DEST/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
  mv "$DEST/kubectl.tmp" "$DEST/kubectl"
}

# Builds one main package through a throw-away wrapper module (`go install pkg@version` refuses
# modules whose go.mod has replace directives, as etcd's does).
build_wrapped() { # module version package output [ldflags]
  local mod="$WORK/$(basename "$4")"
  mkdir -p "$mod" && cd "$mod"
  go mod init "entropo.dev/envtest-$(basename "$4")" >/dev/null 2>&1
  echo "require $1 $2" >>go.mod
  printf '//go:build tools\npackage tools\n\nimport _ "%s"\n' "$3" >tools.go
  go mod tidy >/dev/null 2>&1 || go mod download all
  go build -trimpath -ldflags "-s -w ${5:-}" -o "$4.tmp" "$3"
  mv "$4.tmp" "$4"
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
