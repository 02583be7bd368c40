# Shared Go build helpers for the provisioning scripts (sourced, not run):
#   test/envtest/provision.sh   control plane: kube-apiserver, kubectl, etcd, helm
#   test/e2e/provision-node.sh  the real node: kubelet, scheduler, controller-manager, kube-proxy,
#                               CoreDNS, kwok, the pause image binary
# Every binary is built from its Go module (module proxy only, no git clone) through a throw-away
# wrapper module, statically (CGO_ENABLED=0) and reproducibly (-trimpath). The caller sets WORK
# (a scratch directory it removes) before calling a build function.

log() { echo "[provision] $*" >&2; }

gobuild_env() {
  command -v go >/dev/null || { log "go is required to build the test binaries (apt-get install golang or use the machine's Go)"; exit 1; }
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
}

# -ldflags stamping the version the way the Kubernetes release build does, so `--version` and
# the API server's /version report it.
kube_ldflags() { # version
  local v=$1 major minor ld="-s -w"
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ld"
}

# Builds cmd/<name> of k8s.io/kubernetes for each name into DEST. k8s.io/kubernetes is not meant
# to be a dependency: its go.mod replaces every staging module (k8s.io/X => ./staging/src/k8s.io/X),
# which does not apply to a dependency, so the wrapper replaces each with its published v0.x
# release. One wrapper module per version is shared by every caller (same module graph, so the
# Go build cache is shared between the control plane and the node).
build_kube_cmds() { # version dest cmd...
  local version=$1 dest=$2; shift 2
  local mod="$WORK/kube-$version" gomod staging_version="v0${version#v1}" ld cmd
  if [[ ! -f "$mod/go.sum" ]]; then
    mkdir -p "$mod"
    (
      cd "$mod"
      go mod init entropo.dev/build-kube >/dev/null 2>&1
      gomod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      {
        echo "require k8s.io/kubernetes $version"
        grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
      } >>go.mod
      {
        printf '//go:build tools\npackage tools\n\nimport (\n'
        for c in kube-apiserver kubectl kubelet kube-scheduler kube-controller-manager kube-proxy; do
          printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"
        done
        printf ')\n'
      } >tools.go
      go mod tidy >/dev/null 2>&1 || go mod download all
    )
  fi
  ld=$(kube_ldflags "$version")
  for cmd in "$@"; do
    log "building $cmd $version"
    (cd "$mod" && go build -trimpath -ldflags "$ld" -o "$dest/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$dest/$cmd.tmp" "$dest/$cmd"
  done
}

# Builds one main package through a throw-away wrapper module (`go install pkg@version` refuses
# modules whose go.mod has replace directives, as etcd's does).
build_wrapped() { # module version package output [ldflags]
  local mod="$WORK/$(basename "$4")"
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init "entropo.dev/build-$(basename "$4")" >/dev/null 2>&1
    echo "require $1 $2" >>go.mod
    printf '//go:build tools\npackage tools\n\nimport _ "%s"\n' "$3" >tools.go
    go mod tidy >/dev/null 2>&1 || go mod download all
    go build -trimpath -ldflags "-s -w ${5:-}" -o "$4.tmp" "$3"
  )
  mv "$4.tmp" "$4"
}
