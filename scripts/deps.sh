#!/usr/bin/env bash
# Installs every Debian package the build, the tests and `make run` need, and fetches the nanopb
# runtime sources (Debian's source package) that the ARM builds compile. Idempotent and quiet when
# everything is already there. Run as root on Debian 12.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libnanopb-dev nanopb protobuf-compiler libserialport-dev libsqlite3-dev sqlite3
  libcmocka-dev libjansson-dev libcurl4-openssl-dev libstb-dev zlib1g-dev
  gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi qemu-system-arm stm32flash
  chromium chromium-driver python3-selenium python3-protobuf python3-numpy python3-sklearn
  python3-flatbuffers flatbuffers-compiler dataset-fashion-mnist libjs-chart.js python3-yaml
  valgrind dpkg-dev xz-utils xxd
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# deb-src for bookworm so `apt-get source nanopb` works (libnanopb-dev ships a host library only).
SRC_LIST=/etc/apt/sources.list.d/microt-src.sources
need_update=0
if [ ! -f "$SRC_LIST" ]; then
  cat >"$SRC_LIST" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi

if [ ${#missing[@]} -gt 0 ] || [ $need_update -eq 1 ]; then
  echo "deps: installing ${missing[*]:-(source lists)}"
  apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# nanopb runtime sources for the ARM builds, unpacked once under third_party/ (git-ignored).
NANOPB_DIR="$(dirname "$0")/../third_party/nanopb"
if [ ! -f "$NANOPB_DIR/pb_decode.c" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get source -qq --download-only nanopb >/dev/null 2>&1)
  mkdir -p "$NANOPB_DIR"
  tar -xzf "$tmp"/nanopb_*.orig.tar.gz -C "$NANOPB_DIR" --strip-components=1 \
    --wildcards '*/pb_common.c' '*/pb_encode.c' '*/pb_decode.c' '*/pb.h' '*/pb_common.h' \
    '*/pb_encode.h' '*/pb_decode.h'
  rm -rf "$tmp"
  echo "deps: nanopb runtime sources in third_party/nanopb"
fi
