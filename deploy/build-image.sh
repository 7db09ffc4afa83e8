#!/usr/bin/env bash
# Builds the stowage image from a binary built on this machine: no compiling inside Docker, no
# image pulled. The base (the loader, the shared libraries the binary needs, a passwd entry for
# the nodes' user) is made from this machine's own files and cached by their digest, so a build
# with nothing changed takes seconds.
#
#   deploy/build-image.sh            # stowage:local
#   deploy/build-image.sh --unsafe   # stowage-unsafe:local, which also holds the chaos
#                                    # self-checks' deliberately wrong agent
#
# With internet access, any glibc base works instead of the local one:
#   BASE=debian:bookworm-slim deploy/build-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tag=stowage:local
bins=(stowage)
# A binary already built (a test's own) instead of building one: `--binary PATH`.
binary=""
usage="usage: $0 [--unsafe] [--tag name:tag] [--binary path/to/stowage]"
while [ $# -gt 0 ]; do
  case "$1" in
    --unsafe) tag=stowage-unsafe:local; bins+=(stowage-unsafe-agent) ;;
    --tag) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; tag="$2"; shift ;;
    --binary) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; binary="$2"; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
# The image is read by uid 10001: whatever the caller's umask, what it copies must be readable.
umask 022

# The same build as `cargo xtask run`'s, in the same shared cache unless CARGO_TARGET_DIR says
# otherwise.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stowage/target}"
target="$CARGO_TARGET_DIR"
if [ -z "$binary" ]; then
  cargo build -q -j2 -p stowage-server --bin stowage
  binary="$target/debug/stowage"
fi
if [[ " ${bins[*]} " == *" stowage-unsafe-agent "* ]]; then
  cargo build -q -j2 -p stowage-chaos-selfcheck --bin stowage-unsafe-agent
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/empty"
for b in "${bins[@]}"; do
  if [ "$b" = stowage ]; then src="$binary"; else src="$target/debug/$b"; fi
  cp "$src" "$ctx/bin/$b"
  # Debug info is most of a debug build's size, and nobody debugs inside the container.
  if command -v strip >/dev/null; then strip --strip-debug "$ctx/bin/$b"; fi
done

if [ -z "${BASE:-}" ]; then
  # Every file the binaries load at start: what ldd resolves, and the loader itself (with several
  # binaries ldd heads each list with the binary's own path and a colon, which is no library).
  # A library ldd cannot find would make an image that cannot start: stop here instead.
  if ldd "$ctx"/bin/* | grep -q "not found"; then
    ldd "$ctx"/bin/* | grep "not found" >&2
    exit 1
  fi
  mapfile -t libs < <(ldd "$ctx"/bin/* | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u)
  digest="$( (for l in "${libs[@]}"; do echo "$l"; sha256sum < "$l"; done; sha256sum < "$0") | sha256sum | cut -c1-12)"
  BASE="stowage-base:$digest"
  if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    root="$ctx/rootfs"
    mkdir -p "$root/etc" "$root/tmp" "$root/secrets"
    chmod 1777 "$root/tmp"
    for l in "${libs[@]}"; do
      mkdir -p "$root$(dirname "$l")"
      cp -L "$l" "$root$l"
    done
    printf 'root:x:0:0:root:/root:/sbin/nologin\nstowage:x:10001:10001:stowage:/data:/sbin/nologin\n' > "$root/etc/passwd"
    printf 'root:x:0:\nstowage:x:10001:\n' > "$root/etc/group"
    tar -C "$root" --numeric-owner --owner=0 --group=0 -c . | docker import - "$BASE" >/dev/null
    echo "built base $BASE ($(du -sh "$root" | cut -f1))"
  fi
  docker tag "$BASE" stowage-base:local
fi

# The legacy builder warns that it is deprecated on every build; show its output only on failure.
if ! out="$(docker build -q -f deploy/Dockerfile --build-arg BASE="$BASE" -t "$tag" "$ctx" 2>&1)"; then
  echo "$out" >&2
  exit 1
fi
# What earlier builds left behind: untagged images, and bases made from other libraries.
docker image prune -f --filter label=org.stowage.image=node >/dev/null
for old in $(docker images stowage-base --format '{{.Repository}}:{{.Tag}}'); do
  case "$old" in "$BASE" | stowage-base:local) ;; *) docker rmi "$old" >/dev/null 2>&1 || true ;; esac
done
echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}'))"
