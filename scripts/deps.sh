#!/usr/bin/env bash
# Installs tether's Debian packages (bookworm). Sourced by run.sh and test.sh.
# Usage: tether_install_deps [test]
tether_apt() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

tether_install_deps() {
	local build_pkgs=(build-essential cmake pkg-config
		libsodium-dev libseccomp-dev libprotobuf-c-dev protobuf-c-compiler
		libsqlite3-dev libssh2-1-dev libpq-dev librdkafka-dev
		libcurl4-openssl-dev libmariadb-dev freetds-dev libcmocka-dev libjansson-dev libxml2-dev
		postgresql-client)
	local test_pkgs=(openssh-server procps psmisc clang libclang-rt-14-dev postgresql-15 openssl mariadb-server python3)
	local want=("${build_pkgs[@]}")
	[ "${1:-}" = test ] && want+=("${test_pkgs[@]}")
	local missing=()
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}"
		tether_apt apt-get update -qq
		DEBIAN_FRONTEND=noninteractive tether_apt apt-get install -y -qq \
			--no-install-recommends "${missing[@]}"
	fi
}
