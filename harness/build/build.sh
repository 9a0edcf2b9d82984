#!/usr/bin/env bash
# Builds the real servers and controllers ensign's tests and demo run against from the
# Go module proxy, each group from its own nested module under harness/build: Gitea
# (gitea/), etcd (etcd/), kube-apiserver (kube/), helm (helm/, for the chart tests)
# and, on request, the controllers: kube-controller-manager and kube-scheduler (kube/),
# Flagger, Flux's source-controller and kustomize-controller and kwok (controllers/).
# It caches them outside the repository keyed by version and by a hash of the wrapper
# module. A second run with the same inputs only checks the stamps and takes seconds.
# Gitea's frontend (CSS and JavaScript) is built with Node.js and pnpm that npm
# fetches from the npm registry, so the machine needs npm too. The git that Gitea
# runs is built from Debian's source of git 2.47 (see build_gitea_git), which needs
# make, xz, zlib's headers and curl or wget.
#
# Usage: harness/build/build.sh [gitea|kube|etcd|fluxcrds|controllers|helm|all]
# (default: all). `all` builds etcd, kube-apiserver and Gitea and copies Flux's CRDs
# (fluxcrds: a download of three modules, no build); it also builds the controllers
# when ENSIGN_CONTROLLERS is set, as `make` sets it unless told otherwise (their
# first build takes about 12 minutes on 2 idle cores, 40 on a busy one, see README). Prints the cache directory on its last line.
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

# need CMD PACKAGE WHY stops the build, naming the Debian package to install,
# when the command CMD is missing; WHY says what it is for.
need() {
  command -v "$1" >/dev/null || {
    echo "harness: $1 is missing (Debian: apt-get install $2); $3" >&2
    exit 1
  }
}

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

# Gitea's frontend (its CSS and JavaScript under public/assets) is built from
# the module's sources by Vite, as Gitea's `make frontend` does, with the Node.js
# and pnpm that its package.json asks for (engines: node >= 22.18, packageManager:
# pnpm@10.33.0). Both come from the npm registry, the one JavaScript source
# besides the Go module proxy that the harness's machines reach: Node.js as the
# binary that the node-linux-<arch> package ships (the machine's own Node.js, 20,
# lacks fs.globSync, which vite.config.ts calls), pnpm as its package.
FRONTEND_NODE_VERSION=22.23.5
FRONTEND_PNPM_VERSION=10.33.0

# Gitea runs its git commands with a git built here, from the source that Debian
# ships (deb.debian.org is the one place besides the Go module proxy and the npm
# registry that the harness's machines reach). Gitea checks whether a pull
# request merges with `git merge-tree` when git is 2.40 or newer, and otherwise
# in a temporary clone, about 20 git processes a check, after every push to the
# pull request's base branch too. Debian 12's git is 2.39: with it, Gitea spent
# most of the 2 cores for seconds after each push (BENCHMARKS.md, the fault
# suite), where Gitea's own image (Alpine 3.23, whose git is newer than 2.40)
# takes the short path. ensign itself and the tests use the machine's git.
GITEA_GIT_VERSION=2.47.3
GITEA_GIT_SHA256=9c2eb1250781b3e5bfef098572d07fdf132d67e6c065e4307332ade9819a1501
GITEA_GIT_URL=https://deb.debian.org/debian/pool/main/g/git/git_$GITEA_GIT_VERSION.orig.tar.xz

# build_gitea_git builds git $GITEA_GIT_VERSION into $bin/gitea-git (bin/git
# finds its helpers relative to itself), unless it is there already. It needs
# make, xz and zlib's headers (Debian: make, xz-utils, zlib1g-dev) and curl or
# wget; the sources and objects live in a scratch directory it removes.
build_gitea_git() {
  local out="$bin/gitea-git" want="git-$GITEA_GIT_VERSION $GITEA_GIT_SHA256"
  if [[ -x "$out/bin/git" && "$(cat "$out/.version" 2>/dev/null || true)" == "$want" ]]; then
    echo "harness: gitea-git $GITEA_GIT_VERSION cached"
    return
  fi
  need make make "it builds the git that Gitea runs"
  need xz xz-utils "it unpacks the source of the git that Gitea runs"
  printf '#include <zlib.h>\n' | "${CC:-gcc}" -E -x c - >/dev/null 2>&1 || {
    echo "harness: zlib's headers are missing (Debian: apt-get install zlib1g-dev); they build the git that Gitea runs" >&2
    exit 1
  }
  echo "harness: building git $GITEA_GIT_VERSION for Gitea (takes about 2 minutes)"
  local start=$SECONDS work
  work=$(mktemp -d "$bin/.build-gitea-git.XXXXXX")
  (
    trap 'rm -rf "$work"' EXIT
    if command -v curl >/dev/null; then
      curl -fsSL --retry 3 --max-time 300 -o "$work/git.tar.xz" "$GITEA_GIT_URL"
    elif command -v wget >/dev/null; then
      wget -q --tries=3 --timeout=60 -O "$work/git.tar.xz" "$GITEA_GIT_URL"
    else
      echo "harness: neither curl nor wget is installed (Debian: apt-get install curl); they fetch $GITEA_GIT_URL" >&2
      exit 1
    fi
    echo "$GITEA_GIT_SHA256  $work/git.tar.xz" | sha256sum --check --quiet ||
      { echo "harness: $GITEA_GIT_URL does not have the expected SHA-256" >&2; exit 1; }
    mkdir "$work/src"
    tar -xJf "$work/git.tar.xz" -C "$work/src" --strip-components=1
    # What a server-side git needs: no HTTP client, translations, Perl, Python
    # or Tcl/Tk. RUNTIME_PREFIX makes the installed tree movable.
    make -C "$work/src" -j"$(nproc)" prefix=/usr RUNTIME_PREFIX=YesPlease NO_CURL=1 NO_EXPAT=1 \
      NO_GETTEXT=1 NO_TCLTK=1 NO_PERL=1 NO_PYTHON=1 NO_OPENSSL=1 INSTALL_SYMLINKS=1 \
      DESTDIR="$work/dest" strip install >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
    [[ "$("$work/dest/usr/bin/git" --version)" == "git version $GITEA_GIT_VERSION" ]] ||
      { echo "harness: the git built says $("$work/dest/usr/bin/git" --version)" >&2; exit 1; }
    echo "$want" >"$work/dest/usr/.version"
    rm -rf "$out.old"
    [[ ! -e "$out" ]] || mv "$out" "$out.old"
    mv "$work/dest/usr" "$out"
    rm -rf "$out.old"
  )
  echo "harness: built git $GITEA_GIT_VERSION for Gitea in $((SECONDS - start))s"
}

build_gitea() {
  build_gitea_git
  CGO_ENABLED=1 build gitea "$GITEA_VERSION" . \
    -tags 'sqlite sqlite_unlock_notify' -ldflags "-s -w -X main.version=$GITEA_VERSION"
  # Without the bindata tag Gitea reads its templates, options and public files
  # (with the built frontend) from disk.
  local static="$bin/gitea-static"
  local want="$GITEA_VERSION frontend node-$FRONTEND_NODE_VERSION pnpm-$FRONTEND_PNPM_VERSION"
  if [[ -f "$static/.version" && "$(cat "$static/.version")" == "$want" ]]; then
    echo "harness: gitea-static $GITEA_VERSION with its frontend cached"
    return
  fi
  local src
  src=$(cd "$here/gitea" && go list -m -f '{{.Dir}}' code.gitea.io/gitea)
  rm -rf "$static.tmp"
  mkdir -p "$static.tmp"
  cp -R "$src/options" "$src/templates" "$static.tmp/"
  build_gitea_frontend "$src" "$static.tmp"
  chmod -R u+w "$static.tmp"
  echo "$want" >"$static.tmp/.version"
  # Moved aside rather than removed first, so that a Gitea already running from
  # the old copy misses its files only between the two renames.
  rm -rf "$static.old"
  [[ ! -e "$static" ]] || mv "$static" "$static.old"
  mv "$static.tmp" "$static"
  rm -rf "$static.old"
}

# build_gitea_frontend SRC OUT runs Gitea's frontend build on a writable copy of
# the module at SRC (the module cache is read-only) and leaves the module's
# public/ directory, with the built assets in public/assets, in OUT/public.
# Everything it downloads (Node.js, pnpm, the packages) lives in a scratch
# directory that it removes: once built, only the assets are kept.
build_gitea_frontend() {
  local src=$1 out=$2 arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "harness: no Node.js package for $(uname -m) to build Gitea's frontend" >&2; exit 1 ;;
  esac
  need npm npm "it fetches Node.js $FRONTEND_NODE_VERSION and pnpm to build Gitea's frontend"
  echo "harness: building Gitea $GITEA_VERSION's frontend (Node.js $FRONTEND_NODE_VERSION, pnpm $FRONTEND_PNPM_VERSION; takes a minute or so)"
  local start=$SECONDS work
  work=$(mktemp -d "${TMPDIR:-/tmp}/ensign-gitea-frontend.XXXXXX")
  # A subshell, so that its PATH and trap stay inside; the trap removes the
  # scratch directory (hundreds of MB) on failure too.
  (
    trap 'rm -rf "$work"' EXIT
    npm install --prefix "$work/tools" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@$FRONTEND_NODE_VERSION" "pnpm@$FRONTEND_PNPM_VERSION" >/dev/null
    export PATH="$work/tools/node_modules/.bin:$PATH"
    [[ "$(node --version)" == "v$FRONTEND_NODE_VERSION" ]] || { echo "harness: node from $work/tools is $(node --version)" >&2; exit 1; }
    # What `make frontend` reads: the package files, the Vite and Tailwind
    # configs, web_src, and what these import from assets/ and public/.
    mkdir -p "$work/gitea"
    cp -R "$src/package.json" "$src/pnpm-lock.yaml" "$src/.npmrc" "$src/vite.config.ts" \
      "$src/tailwind.config.ts" "$src/tsconfig.json" "$src/types.d.ts" \
      "$src/web_src" "$src/assets" "$src/public" "$work/gitea/"
    chmod -R u+w "$work/gitea"
    cd "$work/gitea"
    # --prod: Vite and every package it bundles are dependencies; the
    # devDependencies are linters, type checkers and test runners (the assets
    # came out byte for byte the same without them, from two thirds of the
    # download: 380 MB of packages instead of 570). The store in $work keeps
    # ~/.local/share/pnpm clean.
    pnpm install --frozen-lockfile --prod --store-dir "$work/store" --reporter=append-only >"$work/install.log" 2>&1 ||
      { tail -40 "$work/install.log" >&2; exit 1; }
    # The Makefile's $(FRONTEND_DEST) recipe, as a release builds it: these two
    # variables would make it a development build or change its source maps.
    unset NODE_ENV ENABLE_SOURCEMAP
    pnpm exec vite build >"$work/vite.log" 2>&1 || { tail -40 "$work/vite.log" >&2; exit 1; }
    [[ -s public/assets/.vite/manifest.json ]] || { echo "harness: vite wrote no manifest" >&2; exit 1; }
    mv "$work/gitea/public" "$out/public"
  )
  echo "harness: built Gitea's frontend in $((SECONDS - start))s ($(du -sh "$out/public/assets" | cut -f1) in public/assets)"
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
