#!/usr/bin/env bash
# Create (once) a virtualenv for a lock file and expose it in the project.
#
#   pyenv.sh LOCK LINK            LINK becomes a symlink to the cached environment (tool envs)
#   pyenv.sh LOCK LINK --project  LINK becomes a small per-clone venv layered on the cached
#                                 environment (a .pth file adds its site-packages) with this
#                                 checkout installed editable, so console scripts run this clone
#
# Environments live in the shared tool cache under a name derived from the lock file's hash, so a
# fresh clone reuses a warm machine's environment at once and a changed lock builds a new one.
# Installs go through uv (pinned) for speed; torch's CUDA wheels are several GB and are cached too.
set -euo pipefail

lock="$1"; link="$2"; mode="${3:-}"
CACHE="${ENCLAVA_CACHE:-$HOME/.cache/enclava}"
UV_VERSION="0.13.9"
export UV_CACHE_DIR="$CACHE/uv-cache"
export UV_LINK_MODE=copy

uv_env="$CACHE/uv-$UV_VERSION"
if [[ ! -x "$uv_env/bin/uv" ]]; then
  python3 -m venv "$uv_env.tmp.$$"
  "$uv_env.tmp.$$/bin/pip" install -q "uv==$UV_VERSION"
  mv -T "$uv_env.tmp.$$" "$uv_env" 2>/dev/null || rm -rf "$uv_env.tmp.$$"
fi
uv="$uv_env/bin/uv"

hash=$(cat "$lock" | sha256sum | cut -c1-16)
name=$(basename "$lock" .lock)
base="$CACHE/venvs/$name-$hash"
if [[ ! -f "$base/.complete" ]]; then
  echo "installing the $name environment into $base (once per lock file)" >&2
  rm -rf "$base"
  "$uv" venv -q --python python3.11 "$base"
  "$uv" pip install -q --python "$base/bin/python" -r "$lock"
  touch "$base/.complete"
fi

if [[ "$mode" != "--project" ]]; then
  ln -sfn "$base" "$link"
  exit 0
fi

stamp="$link/.enclava-base"
want="$base $(sha256sum pyproject.toml | cut -c1-16)"
if [[ -L "$link" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  rm -rf "$link"
  "$uv" venv -q --python "$base/bin/python" "$link"
  site=$("$link/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  base_site=$("$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "import site; site.addsitedir('$base_site')" > "$site/_enclava_base.pth"
  # compat mode: a plain path entry, so packages added to the checkout later import without a reinstall
  "$uv" pip install -q --python "$link/bin/python" --no-deps -C editable_mode=compat -e .
  echo "$want" > "$stamp"
fi
