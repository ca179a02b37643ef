#!/bin/sh
# dist/tetherd.service passes `systemd-analyze verify` (with ExecStart
# pointed at the built tetherd) and keeps its hardening directives.
# Usage: test_systemd_unit.sh UNIT TETHERD
set -eu
unit=$1; tetherd=$2
command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/local/bin/tetherd|$tetherd|" "$unit" > "$tmp/tetherd.service"
out=$(systemd-analyze verify "$tmp/tetherd.service" 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "systemd-analyze: $out"; exit 1; }
for d in NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths=/var/lib/tether \
         ProtectHome=yes PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes \
         ProtectKernelModules=yes ProtectKernelLogs=yes \
         "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" RestrictNamespaces=yes \
         LockPersonality=yes MemoryDenyWriteExecute=yes SystemCallArchitectures=native \
         LimitMEMLOCK=64M LimitCORE=0 UMask=0077 CapabilityBoundingSet=; do
  grep -q "^$d" "$unit" || { echo "missing: $d"; exit 1; }
done
echo "ok: $unit verifies"
