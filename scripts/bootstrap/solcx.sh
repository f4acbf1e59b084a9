#!/usr/bin/env bash
# Give py-solc-x (brownie's compiler driver) a "native" solc: a launcher named as py-solc-x expects
# (`solc-v<version>`) inside the project's .solcx folder, which runs the npm compiler through
# solc-shim.js. Brownie finds it through SOLCX_BINARY_PATH (set by scripts/brownie.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version=$(node -e "console.log(require('$root/node_modules/solc/package.json').version)")
mkdir -p "$root/.solcx"
launcher="$root/.solcx/solc-v$version"
cat > "$launcher.tmp" <<LAUNCH
#!/usr/bin/env bash
exec node "$root/scripts/bootstrap/solc-shim.js" "\$@"
LAUNCH
chmod +x "$launcher.tmp"
mv "$launcher.tmp" "$launcher"
