#!/usr/bin/env bash
# Builds the real servers ensign's tests and demo run against (Gitea, kube-apiserver,
# etcd) from the Go module proxy, each from its own nested module under harness/build,
# and caches them outside the repository keyed by version and by a hash of the wrapper
# module. A second run with the same inputs only checks the stamps and takes seconds.
#
# Usage: harness/build/build.sh [gitea|kube|etcd|all]   (default: all)
# Prints the cache directory on its last line. ENSIGN_HARNESS_CACHE overrides the
# cache location (default: ~/.cache/ensign-harness).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ENSIGN_HARNESS_CACHE:-$HOME/.cache/ensign-harness}
GITEA_VERSION=v1.26.0
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
bin="$cache/bin"
mkdir -p "$bin"

# stamp prints a hash of everything that decides a wrapper module's binary.
stamp() {
  (cd "$here/$1" && cat go.mod go.sum $(find . -name '*.go' | sort) && go version) | sha256sum | cut -c1-16
}

# build NAME DIR PKG VERSION [go build args...] builds PKG in DIR into $bin/NAME
# unless $bin/NAME.stamp already records the same inputs.
build() {
  local name=$1 dir=$2 pkg=$3 version=$4
  shift 4
  local want have
  want="$version $(stamp "$dir")"
  have=$(cat "$bin/$name.stamp" 2>/dev/null || true)
  if [[ -x "$bin/$name" && "$have" == "$want" ]]; then
    echo "harness: $name $version is cached"
    return
  fi
  echo "harness: building $name $version (first build takes minutes)"
  local start=$SECONDS
  (cd "$here/$dir" && go build -trimpath "$@" -o "$bin/$name.tmp" "$pkg")
  mv -f "$bin/$name.tmp" "$bin/$name"
  echo "$want" >"$bin/$name.stamp"
  echo "harness: built $name in $((SECONDS - start))s"
}

build_gitea() {
  CGO_ENABLED=1 build gitea gitea . "$GITEA_VERSION" \
    -tags 'sqlite sqlite_unlock_notify' -ldflags "-s -w -X main.version=$GITEA_VERSION"
  # Without the bindata tag Gitea reads its templates and options from disk.
  local static="$bin/gitea-static"
  if [[ ! -f "$static/.version" || "$(cat "$static/.version")" != "$GITEA_VERSION" ]]; then
    local src
    src=$(cd "$here/gitea" && go list -m -f '{{.Dir}}' code.gitea.io/gitea)
    rm -rf "$static" "$static.tmp"
    mkdir -p "$static.tmp"
    cp -R "$src/options" "$src/templates" "$src/public" "$static.tmp/"
    chmod -R u+w "$static.tmp"
    echo "$GITEA_VERSION" >"$static.tmp/.version"
    mv "$static.tmp" "$static"
  fi
}

build_kube() {
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  CGO_ENABLED=0 build kube-apiserver kube ./kube-apiserver "$K8S_VERSION" -ldflags "-s -w \
    -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor \
    -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
}

build_etcd() {
  CGO_ENABLED=0 build etcd etcd . "$ETCD_VERSION" -ldflags "-s -w"
}

# helm renders and lints deploy/chart in the chart tests. Its main package is a
# `tool` of the wrapper module; the ldflags are the ones Helm's Makefile sets
# (version, and the Kubernetes version `helm template` and `helm lint` assume).
HELM_VERSION=v3.22.0
build_helm() {
  local v=helm.sh/helm/v3 minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  CGO_ENABLED=0 build helm helm $v/cmd/helm "$HELM_VERSION" -ldflags "-s -w \
    -X $v/internal/version.version=$HELM_VERSION -X $v/internal/version.metadata= \
    -X $v/pkg/chartutil.k8sVersionMajor=1 -X $v/pkg/chartutil.k8sVersionMinor=$minor \
    -X $v/pkg/lint/rules.k8sVersionMajor=1 -X $v/pkg/lint/rules.k8sVersionMinor=$minor"
}

case "${1:-all}" in
  gitea) build_gitea ;;
  kube) build_kube ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  all) build_etcd; build_kube; build_gitea ;;
  *) echo "usage: $0 [gitea|kube|etcd|all]" >&2; exit 2 ;;
esac
echo "$bin"
