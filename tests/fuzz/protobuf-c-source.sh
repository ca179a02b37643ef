#!/usr/bin/env bash
# Unpacks the Debian source of the installed protobuf-c (same version as
# libprotobuf-c-dev, so it matches the code protoc-c generates) into DEST,
# for the fuzz build to compile with the same instrumentation as tether
# (tests/fuzz/CMakeLists.txt, TETHER_PROTOBUF_C_SOURCE). Only Debian's own
# mirror is used, through `apt-get source`, with a private deb-src list and
# list directory, so the system's apt configuration is left as it is.
# Usage: protobuf-c-source.sh DEST   -> prints DEST/src on success.
set -euo pipefail
dest=${1:?usage: $0 DEST}
src=$dest/src
if [ -f "$src/protobuf-c/protobuf-c.c" ]; then
	echo "$src"
	exit 0
fi
version=$(dpkg-query -W -f='${source:Version}' libprotobuf-c-dev)
package=$(dpkg-query -W -f='${source:Package}' libprotobuf-c-dev)
mkdir -p "$dest/lists/partial"
# The deb-src twin of every bookworm "deb" entry already configured.
list=$dest/deb-src.sources
: >"$list"
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	grep -q 'URIs: http://deb.debian.org/' "$f" || continue
	sed 's/^Types: deb$/Types: deb-src/' "$f" >>"$list"
	echo >>"$list"
done
if [ -f /etc/apt/sources.list ]; then
	sed -n 's/^deb \(http:\/\/deb\.debian\.org\/.*\)$/deb-src \1/p' /etc/apt/sources.list >"$dest/deb-src.list"
fi
[ -s "$list" ] || rm -f "$list"
opts=(-o "Dir::Etc::SourceParts=$dest" -o "Dir::Etc::SourceList=/dev/null"
      -o "Dir::State::Lists=$dest/lists" -o APT::Sandbox::User=root)
apt-get "${opts[@]}" -qq update >&2
(cd "$dest" && apt-get "${opts[@]}" -qq source --download-only "$package=$version" >&2)
rm -rf "$src"
dpkg-source -x "$dest/${package}_${version#*:}.dsc" "$src" >&2
echo "$src"
