#!/usr/bin/env bash
# Build a real Kubo (IPFS) daemon from its Go module, once, into the shared tool cache.
#
# `go install github.com/ipfs/kubo/cmd/ipfs@VERSION` refuses Kubo because its go.mod carries
# `exclude` directives, so we download the module source and `go build` inside it instead.
# An `ipfs` already on PATH wins (a provider may ship its own, e.g. from a distro package).
set -euo pipefail

KUBO_VERSION="${KUBO_VERSION:-v0.42.0}"
CACHE="${ENCLAVA_CACHE:-$HOME/.cache/enclava}"
dest="$CACHE/kubo/$KUBO_VERSION/ipfs"

if [[ -x "$dest" ]]; then
  echo "$dest"
  exit 0
fi
if command -v ipfs >/dev/null 2>&1 && [[ "${ENCLAVA_BUILD_KUBO:-0}" != "1" ]]; then
  command -v ipfs
  exit 0
fi

mkdir -p "$(dirname "$dest")"
src=$(go mod download -json "github.com/ipfs/kubo@$KUBO_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
echo "building Kubo $KUBO_VERSION from $src (a few minutes, once)" >&2
tmp="$dest.tmp.$$"
( cd "$src" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -o "$tmp" ./cmd/ipfs ) >&2
mv "$tmp" "$dest"
echo "$dest"
