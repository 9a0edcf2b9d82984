#!/usr/bin/env bash
# Builds the real servers and controllers ensign's tests and demo run against from the
# Go module proxy, each group from its own nested module under harness/build: Gitea
# (gitea/), etcd (etcd/), kube-apiserver (kube/), helm (helm/, for the chart tests)
# and, on request, the controllers: kube-controller-manager and kube-scheduler (kube/),
# Flagger, Flux's source-controller and kustomize-controller and kwok (controllers/).
# It caches them outside the repository keyed by version and by a hash of the wrapper
# module. A second run with the same inputs only checks the stamps and takes seconds.
#
# Usage: harness/build/build.sh [gitea|kube|etcd|fluxcrds|controllers|helm|all]
# (default: all). `all` builds etcd, kube-apiserver and Gitea and copies Flux's CRDs
# (fluxcrds: a download of three modules, no build); it also builds the controllers
# when ENSIGN_CONTROLLERS is set (their first build takes about 12 minutes on 2 idle
# cores, 40 on a busy one, see README). Prints the cache directory on its last line.
# ENSIGN_HARNESS_CACHE overrides the cache location (default: ~/.cache/ensign-harness).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ENSIGN_HARNESS_CACHE:-$HOME/.cache/ensign-harness}
GITEA_VERSION=v1.26.0
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
FLAGGER_VERSION=v1.44.0
FLUX_VERSION=v1.9.6 # source-controller and kustomize-controller
IMAGE_REFLECTOR_VERSION=v1.2.4 # image-reflector-controller, for its CRDs
KWOK_VERSION=v0.8.0
bin="$cache/bin"
mkdir -p "$bin"

# stamp prints a hash of everything that decides a wrapper module's binaries.
stamp() {
  (cd "$here/$1" && cat go.mod go.sum $(find . -name '*.go' | sort) && go version) | sha256sum | cut -c1-16
}

# build DIR VERSION "PKG..." [go build args...] builds the main packages PKG of
# the wrapper module in DIR, in one go build so that they share its work and
# link in parallel, into $bin/<last element of PKG>, unless every
# $bin/<name>.stamp already records the same inputs.
build() {
  local dir=$1 version=$2 pkgs=$3
  shift 3
  local want pkg name stale=0
  want="$version $(stamp "$dir")"
  local names=()
  for pkg in $pkgs; do
    name=${pkg##*/}
    [[ "$pkg" != . ]] || name=$dir
    names+=("$name")
    if [[ ! -x "$bin/$name" || "$(cat "$bin/$name.stamp" 2>/dev/null || true)" != "$want" ]]; then
      stale=1
    fi
  done
  if ((stale == 0)); then
    echo "harness: ${names[*]} $version cached"
    return
  fi
  echo "harness: building ${names[*]} $version (first build takes minutes)"
  local start=$SECONDS tmp="$bin/.build-$dir"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # shellcheck disable=SC2086 # pkgs is a list
  (cd "$here/$dir" && go build -trimpath "$@" -o "$tmp/" $pkgs)
  for name in "${names[@]}"; do
    mv -f "$tmp/$name" "$bin/$name"
    echo "$want" >"$bin/$name.stamp"
  done
  rmdir "$tmp"
  echo "harness: built ${names[*]} in $((SECONDS - start))s"
}

build_gitea() {
  CGO_ENABLED=1 build gitea "$GITEA_VERSION" . \
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

# kube_ldflags prints the ldflags that stamp KubernetesVersion into the kube
# binaries, as Kubernetes' own build does.
kube_ldflags() {
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  echo "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor \
    -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
}

build_kube() {
  CGO_ENABLED=0 build kube "$K8S_VERSION" ./kube-apiserver -ldflags "$(kube_ldflags)"
}

# build_fluxcrds copies the CRDs of Flux's source-controller and
# kustomize-controller $FLUX_VERSION (config/crd/bases) to $bin/flux-crds, where
# StartKube installs them from. It downloads the two modules and builds nothing.
build_fluxcrds() {
  local out="$bin/flux-crds"
  if [[ -f "$out/.version" && "$(cat "$out/.version")" == "$FLUX_VERSION" ]]; then
    echo "harness: flux CRDs $FLUX_VERSION cached"
    build_imagecrds
    return
  fi
  rm -rf "$out" "$out.tmp"
  mkdir -p "$out.tmp"
  local m dir
  for m in source-controller kustomize-controller; do
    # Outside any module, so that only these two modules are downloaded.
    dir=$(cd / && go mod download -json "github.com/fluxcd/$m@$FLUX_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -n "$dir" ]] || { echo "harness: cannot download github.com/fluxcd/$m@$FLUX_VERSION" >&2; exit 1; }
    cp "$dir"/config/crd/bases/*.yaml "$out.tmp/"
  done
  chmod -R u+w "$out.tmp"
  echo "$FLUX_VERSION" >"$out.tmp/.version"
  mv "$out.tmp" "$out"
  echo "harness: copied flux CRDs $FLUX_VERSION"
  build_imagecrds
}

# build_imagecrds copies the ImagePolicy and ImageRepository CRDs of Flux's
# image-reflector-controller $IMAGE_REFLECTOR_VERSION to $bin/image-crds (a
# directory of its own, so that its version moves independently).
build_imagecrds() {
  local out="$bin/image-crds" m=github.com/fluxcd/image-reflector-controller dir
  if [[ -f "$out/.version" && "$(cat "$out/.version")" == "$IMAGE_REFLECTOR_VERSION" ]]; then
    echo "harness: image-reflector CRDs $IMAGE_REFLECTOR_VERSION cached"
    return
  fi
  rm -rf "$out" "$out.tmp"
  mkdir -p "$out.tmp"
  dir=$(cd / && go mod download -json "$m@$IMAGE_REFLECTOR_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" ]] || { echo "harness: cannot download $m@$IMAGE_REFLECTOR_VERSION" >&2; exit 1; }
  cp "$dir"/config/crd/bases/*.yaml "$out.tmp/"
  chmod -R u+w "$out.tmp"
  echo "$IMAGE_REFLECTOR_VERSION" >"$out.tmp/.version"
  mv "$out.tmp" "$out"
  echo "harness: copied image-reflector CRDs $IMAGE_REFLECTOR_VERSION"
}

# build_controllers builds kube-controller-manager and kube-scheduler (from the
# kube module, sharing kube-apiserver's compiled packages), then Flagger, Flux's
# source-controller and kustomize-controller and kwok from one wrapper module
# (they share most dependencies), and copies kwok's "fast" node and pod stages
# next to them.
build_controllers() {
  CGO_ENABLED=0 build kube "$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler" -ldflags "$(kube_ldflags)"
  local version="flagger-$FLAGGER_VERSION flux-$FLUX_VERSION kwok-$KWOK_VERSION"
  CGO_ENABLED=0 build controllers "$version" "github.com/fluxcd/flagger/cmd/flagger \
    github.com/fluxcd/source-controller github.com/fluxcd/kustomize-controller sigs.k8s.io/kwok/cmd/kwok" \
    -ldflags "-s -w"
  local data="$bin/controllers-data"
  if [[ -f "$data/.version" && "$(cat "$data/.version")" == "kwok-$KWOK_VERSION" ]]; then
    return
  fi
  local kwok
  kwok=$(cd "$here/controllers" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  rm -rf "$data" "$data.tmp"
  mkdir -p "$data.tmp/kwok-stages"
  local f
  for f in "$kwok"/kustomize/stage/node/fast/*.yaml "$kwok"/kustomize/stage/pod/fast/*.yaml; do
    [[ "${f##*/}" == kustomization.yaml ]] || cp "$f" "$data.tmp/kwok-stages/"
  done
  chmod -R u+w "$data.tmp"
  echo "kwok-$KWOK_VERSION" >"$data.tmp/.version"
  mv "$data.tmp" "$data"
}

build_etcd() {
  CGO_ENABLED=0 build etcd "$ETCD_VERSION" . -ldflags "-s -w"
}

# helm renders and lints deploy/chart in the chart tests. Its main package is a
# `tool` of the wrapper module; the ldflags are the ones Helm's Makefile sets
# (version, and the Kubernetes version `helm template` and `helm lint` assume).
HELM_VERSION=v3.22.0
build_helm() {
  local v=helm.sh/helm/v3 minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  CGO_ENABLED=0 build helm "$HELM_VERSION" $v/cmd/helm -ldflags "-s -w \
    -X $v/internal/version.version=$HELM_VERSION -X $v/internal/version.metadata= \
    -X $v/pkg/chartutil.k8sVersionMajor=1 -X $v/pkg/chartutil.k8sVersionMinor=$minor \
    -X $v/pkg/lint/rules.k8sVersionMajor=1 -X $v/pkg/lint/rules.k8sVersionMinor=$minor"
}

case "${1:-all}" in
  gitea) build_gitea ;;
  kube) build_kube ;;
  etcd) build_etcd ;;
  fluxcrds) build_fluxcrds ;;
  controllers) build_controllers ;;
  helm) build_helm ;;
  all)
    build_etcd
    build_kube
    build_fluxcrds
    if [[ -n "${ENSIGN_CONTROLLERS:-}" ]]; then
      build_controllers
    else
      echo "harness: controllers not built (set ENSIGN_CONTROLLERS=1 to build and test them)"
    fi
    build_gitea
    ;;
  *) echo "usage: $0 [gitea|kube|etcd|fluxcrds|controllers|helm|all]" >&2; exit 2 ;;
esac
echo "$bin"
