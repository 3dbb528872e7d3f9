#!/usr/bin/env bash
# build_peers.sh — builds the COCO evaluators mrcnn eval is compared with
# (pycocotools, faster-coco-eval, hotcoco) from their public source under
# PEERS (default /work/peers, outside the repository), where missing. The
# recipes are those of ../shared/peers/README.md: Debian packages only, the
# sources from a local git mirror or clone (PEER_SRC_<name> = a git directory
# or URL; default: /work/.mirror/<owner>+<name>/repo when present, else
# github). Idempotent: a peer whose build product exists is left alone.
# Prints one line per peer: built / present / FAILED (reason). A failed peer
# does not stop the others; scripts/bench_eval_peers.sh skips what is missing.
set -uo pipefail
PEERS=${PEERS:-/work/peers}
SHARED=${MRCNN_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}
[ -d "$SHARED/peers" ] || SHARED=/work/shared
PEERDOC=$SHARED/peers
mkdir -p "$PEERS"
LOG=$PEERS/build.log
: > "$LOG"

apt_need() { # install the Debian packages that are missing (root only)
  local miss=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || miss+=("$p"); done
  [ ${#miss[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then echo "build_peers: missing Debian packages: ${miss[*]} (run as root or install them)" >&2; return 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q "${miss[@]}" >>"$LOG" 2>&1
}

src_of() { # src_of OWNER NAME: a git source for the peer
  local var="PEER_SRC_$2"; var=${var//-/_}
  if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
  local m=/work/.mirror/$1+$2/repo
  if [ -d "$m" ]; then echo "$m"; else echo "https://github.com/$1/$2"; fi
}

clone() { # clone OWNER NAME DIR [COMMIT]: a checkout without examples/ and tests/ blobs
  local src; src=$(src_of "$1" "$2")
  [ -d "$3/.git" ] && return 0
  git clone -q --no-checkout "$src" "$3" >>"$LOG" 2>&1 || return 1
  if [ -n "${4:-}" ]; then git -C "$3" reset -q "$4" >>"$LOG" 2>&1 || return 1; fi
  # some mirrors lack blobs under examples/ and tests/: check out the rest
  git -C "$3" checkout HEAD -- $(git -C "$3" ls-tree -r --name-only HEAD | grep -v -e '^examples/' -e '^tests/') >>"$LOG" 2>&1
}

status=0
# ---- pycocotools
d=$PEERS/cocoapi
if ls "$d"/PythonAPI/pycocotools/_mask*.so >/dev/null 2>&1; then echo "pycocotools: present ($d/PythonAPI)"
else
  if apt_need python3-numpy cython3 python3-dev python3-setuptools && clone cocodataset cocoapi "$d" &&
     (cd "$d/PythonAPI" && /usr/bin/python3 setup.py build_ext --inplace) >>"$LOG" 2>&1; then
    echo "pycocotools: built ($d/PythonAPI)"
  else echo "pycocotools: FAILED (see $LOG)"; status=1; fi
fi
# ---- faster-coco-eval
d=$PEERS/faster_coco_eval
if ls "$d"/faster_coco_eval/faster_eval_api_cpp*.so >/dev/null 2>&1 || ls "$d"/faster_coco_eval/*.so >/dev/null 2>&1; then echo "faster-coco-eval: present ($d)"
else
  if apt_need python3-numpy pybind11-dev python3-pybind11 python3-dev python3-setuptools && clone MiXaiLL76 faster_coco_eval "$d" &&
     (cd "$d" && /usr/bin/python3 setup.py build_ext --inplace) >>"$LOG" 2>&1; then
    echo "faster-coco-eval: built ($d)"
  else echo "faster-coco-eval: FAILED (see $LOG)"; status=1; fi
fi
# ---- hotcoco
d=$PEERS/hotcoco
CARGO=${CARGO:-$(command -v cargo || echo "$HOME/.cargo/bin/cargo")}
if [ -x "$d/target/release/examples/hc_eval" ]; then echo "hotcoco: present ($d)"
elif [ ! -x "$CARGO" ]; then echo "hotcoco: FAILED (no cargo)"; status=1
else
  ok=1
  apt_need librust-serde-dev librust-serde-derive-dev librust-serde-json-dev librust-quick-xml-dev librust-rayon-dev \
           librust-rand-dev librust-thiserror-dev || ok=0
  if [ $ok = 1 ] && [ ! -f "$d/.mrcnn_prepared" ]; then
    rm -rf "$d"
    clone derekallman hotcoco "$d" || ok=0
    if [ $ok = 1 ]; then
      (cd "$d" && patch -p1 -s < "$PEERDOC/hotcoco.patch") >>"$LOG" 2>&1 || ok=0
      mkdir -p "$d/.cargo" "$d/crates/hotcoco/examples"
      cp "$PEERDOC/hotcoco-cargo-config.toml" "$d/.cargo/config.toml" || ok=0
      cp "$PEERDOC/hc_eval.rs" "$d/crates/hotcoco/examples/hc_eval.rs" || ok=0
      rm -f "$d/Cargo.lock"
      [ $ok = 1 ] && touch "$d/.mrcnn_prepared"
    fi
  fi
  if [ $ok = 1 ] && (cd "$d" && "$CARGO" build -q --release --example hc_eval) >>"$LOG" 2>&1; then
    echo "hotcoco: built ($d)"
  else echo "hotcoco: FAILED (see $LOG)"; status=1; fi
fi
exit $status
