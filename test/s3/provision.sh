#!/usr/bin/env bash
# Provisions the real S3-compatible server the store tests and `npm run bench:store` run against:
# versitygw (Versity S3 Gateway, Apache-2.0) built from its Go module github.com/versity/versitygw
# through the Go module proxy, statically (test/envtest/gobuild.sh). Its posix backend serves
# buckets as directories of a data dir the harness (test/s3/server.ts) makes per test run.
# The binary is cached outside the repo, keyed by version, so a warm run costs nothing.
# Prints the binary's path on its last line.
#
#   VERSITYGW_VERSION  (default v1.8.0)
#   ENTROPO_S3_CACHE   (default ~/.cache/entropo/s3)
set -euo pipefail

VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
CACHE=${ENTROPO_S3_CACHE:-$HOME/.cache/entropo/s3}
DEST="$CACHE/$VERSITYGW_VERSION"
BIN="$DEST/versitygw"

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../envtest/gobuild.sh
source "$HERE/../envtest/gobuild.sh"

if [[ -x "$BIN" ]]; then
  log "cached: $BIN"
  echo "$BIN"
  exit 0
fi

gobuild_env
mkdir -p "$DEST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)
log "building versitygw $VERSITYGW_VERSION (first run only; a few minutes on 2 cores)"
build_wrapped github.com/versity/versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw "$BIN" \
  "-X main.Version=$VERSITYGW_VERSION"
log "provisioned in $(( $(date +%s) - start ))s: $BIN"
echo "$BIN"
