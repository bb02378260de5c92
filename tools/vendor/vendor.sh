#!/usr/bin/env bash
# Copy the browser libraries vmdash serves (no CDN) from npm into static/vendor/, at the versions
# pinned by package.json and package-lock.json beside this script. The copies are committed;
# run this again after changing a version:  bash tools/vendor/vendor.sh
#
#   @xterm/xterm, @xterm/addon-fit  the serial console's terminal (MIT)
#   @novnc/novnc                    the VNC console (MPL-2.0; its pako: MIT and zlib)
#   uplot                           the instance page's charts (MIT)
#   axe-core                        accessibility checks, run by the browser tests only (MPL-2.0)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../static/vendor"
cd "$here"
npm ci --no-audit --no-fund --ignore-scripts --silent
m="$here/node_modules"
rm -rf "$out"
mkdir -p "$out/xterm" "$out/novnc" "$out/uplot" "$out/axe"
cp "$m/@xterm/xterm/lib/xterm.js" "$m/@xterm/xterm/css/xterm.css" "$out/xterm/"
cp "$m/@xterm/xterm/LICENSE" "$out/xterm/LICENSE"
cp "$m/@xterm/addon-fit/lib/addon-fit.js" "$out/xterm/"
cp "$m/@xterm/addon-fit/LICENSE" "$out/xterm/LICENSE.addon-fit"
cp -r "$m/@novnc/novnc/core" "$m/@novnc/novnc/vendor" "$out/novnc/"
cp "$m/@novnc/novnc/LICENSE.txt" "$m/@novnc/novnc/AUTHORS" "$out/novnc/"
cp "$m/uplot/dist/uPlot.iife.min.js" "$m/uplot/dist/uPlot.min.css" "$m/uplot/LICENSE" "$out/uplot/"
cp "$m/axe-core/axe.min.js" "$m/axe-core/LICENSE" "$out/axe/"
cp "$m/axe-core/LICENSE-3RD-PARTY.txt" "$out/axe/" 2>/dev/null || true
find "$out" -name '*.map' -delete
{
  echo "Copied by tools/vendor/vendor.sh from npm; do not edit."
  for pkg in @xterm/xterm @xterm/addon-fit @novnc/novnc uplot axe-core; do
    node -e "const p=require('$m/$pkg/package.json'); console.log(p.name + ' ' + p.version + ' (' + p.license + ')')"
  done
} > "$out/VERSIONS"
echo "static/vendor/ refreshed:"
cat "$out/VERSIONS"
