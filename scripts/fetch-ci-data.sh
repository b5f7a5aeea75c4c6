#!/usr/bin/env bash
# Fetch the three real datasets the test suite reads, from their upstream repositories at the exact
# commits named in ../shared/data/*/SOURCE.txt (a git commit id pins the content), into DEST.
# Used by the GitHub Actions workflow; our own CI machines have the shared copies instead.
set -euo pipefail
dest=${1:?usage: fetch-ci-data.sh DEST}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch URL COMMIT DIR [SPARSE_PATH]
  git init --quiet "$work/$3"
  git -C "$work/$3" remote add origin "$1"
  if [ -n "${4:-}" ]; then
    git -C "$work/$3" sparse-checkout set "$4"
  fi
  git -C "$work/$3" fetch --quiet --depth 1 --filter=blob:none origin "$2"
  git -C "$work/$3" checkout --quiet FETCH_HEAD
  test "$(git -C "$work/$3" rev-parse HEAD)" = "$2"
}

mkdir -p "$dest"
fetch https://github.com/Jakobovski/free-spoken-digit-dataset 26eb9aaf76e81b692f806f9140c2d2777410d7a1 fsdd
mkdir -p "$dest/fsdd" && cp -r "$work/fsdd/recordings" "$dest/fsdd/"

fetch https://github.com/karolpiczak/ESC-10 553c8f1743b9dba6b282e1323c3ca8fa76923448 esc10
mkdir -p "$dest/esc10" && cp -r "$work/esc10/"[0-9][0-9][0-9]\ -\ * "$dest/esc10/"

fetch https://github.com/thegtagamer/PICO-tinyML-benchmark c66f6b0d78fe9218f6de9d07189691cfae077bee sc \
  MLTK_keyworkSpotting/dataset
distrack datasets resplit-speechcommands "$work/sc/MLTK_keyworkSpotting/dataset" "$dest/speech_commands_mini"

# YAMNet's TFLite weights (models root: $dest/../models), pinned by commit and checked by sha256.
models="$dest/../models/yamnet"
fetch https://github.com/Jaskaran197/Speaker-Detector 4ec29b6938f1051fe36b46786f8d486d8b74a38e yamnet
mkdir -p "$models" && find "$work/yamnet" -name 'yamnet*.tflite' -exec cp {} "$models/yamnet.tflite" \;
find "$work/yamnet" -name 'yamnet_class_map.csv' -exec cp {} "$models/" \;
echo "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194  $models/yamnet.tflite" | sha256sum -c -

# Philharmonia samples (music): the archive's layout, at the pinned commit. Our shared copy is a seeded
# 120-per-instrument subset of it; the tests check the layout and split, not that subset's size.
fetch https://github.com/skratchdot/philharmonia-samples 717b7de2bcae05e44aa8a3dde143c8d093b8f6c8 philharmonia
mkdir -p "$dest/philharmonia" && cp -r "$work/philharmonia/audio" "$dest/philharmonia/"
echo "datasets ready under $dest, weights under $dest/../models"
