#!/bin/bash
# pgchroot-mirrors-test.sh - check how test/pgchroot.sh finds the host's Debian mirror, for
# every apt sources layout a Debian 12 host can have: deb822 only (cloud images), the
# one-line /etc/apt/sources.list only (the installer's default), both, and neither.
#
#   test/pgchroot-mirrors-test.sh      (no root needed, nothing is downloaded)
#
# Each case is a temporary apt directory given to `pgchroot.sh --mirrors` through
# PGCHROOT_APT_DIR, with a fixed os-release (codename bookworm).  The last line is
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mg-mirrors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo 'VERSION_CODENAME=bookworm' >"$tmp/os-release"
passed=0 failed=0

# check NAME EXPECTED_MIRROR EXPECTED_SECURITY: runs pgchroot.sh on $tmp/NAME
check() {
    local name=$1 want="mirror $2
security $3" got rc=0
    got=$(PGCHROOT_APT_DIR="$tmp/$name" PGCHROOT_OS_RELEASE="$tmp/os-release" \
          test/pgchroot.sh --mirrors 2>&1) || rc=$?
    if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "not ok - $name (status $rc)"
        printf '  expected:\n%s\n  got:\n%s\n' "$want" "$got" | sed 's/^/    /'
    fi
}
# mk NAME FILE: creates $tmp/NAME/FILE from stdin
mk() { mkdir -p "$tmp/$1/sources.list.d"; cat >"$tmp/$1/$2"; }

mk deb822-only sources.list.d/debian.sources <<'EOF'
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
check deb822-only http://deb.debian.org/debian http://deb.debian.org/debian-security

mk deb822-mirror sources.list.d/debian.sources <<'EOF'
Types: deb deb-src
URIs: http://ftp.de.debian.org/debian/
Suites: bookworm bookworm-updates
Components: main contrib

Types: deb
URIs: http://security.debian.org/debian-security
Suites: bookworm-security
Components: main
EOF
check deb822-mirror http://ftp.de.debian.org/debian http://security.debian.org/debian-security

# What the Debian 12 installer writes (netinst, with a network mirror chosen).
mk classic-installer sources.list <<'EOF'
#deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 NETINST with firmware 20240210-11:27]/ bookworm contrib main non-free-firmware

deb http://ftp.fr.debian.org/debian/ bookworm main non-free-firmware
deb-src http://ftp.fr.debian.org/debian/ bookworm main non-free-firmware

deb http://security.debian.org/debian-security bookworm-security main non-free-firmware
deb-src http://security.debian.org/debian-security bookworm-security main non-free-firmware

# bookworm-updates, to get updates before a point release is made;
deb http://ftp.fr.debian.org/debian/ bookworm-updates main non-free-firmware
EOF
check classic-installer http://ftp.fr.debian.org/debian http://security.debian.org/debian-security

# The line from the bug report: one line, no security entry.
mk classic-one-line sources.list <<'EOF'
deb http://deb.debian.org/debian bookworm main
EOF
check classic-one-line http://deb.debian.org/debian http://deb.debian.org/debian-security

# Installed from DVD: an active cdrom: line first, options in brackets, a proxy mirror.
mk classic-cdrom-options sources.list <<'EOF'
deb cdrom:[Debian GNU/Linux 12.0.0 _Bookworm_ - Official amd64 DVD Binary-1 20230610-10:23]/ bookworm contrib main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://proxy.example:3142/debian bookworm main # local cache
EOF
check classic-cdrom-options http://proxy.example:3142/debian http://proxy.example:3142/debian-security

# Both formats; a third-party repository sorts first and must not be taken for Debian.
mk both sources.list <<'EOF'
deb http://ftp.nl.debian.org/debian bookworm main
EOF
mk both sources.list.d/apt.postgresql.org.list <<'EOF'
deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main
EOF
mk both sources.list.d/debian.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
EOF
check both http://ftp.nl.debian.org/debian http://deb.debian.org/debian-security

mk third-party-first sources.list.d/a-nodesource.sources <<'EOF'
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
EOF
mk third-party-first sources.list.d/debian.sources <<'EOF'
Types: deb
URIs: http://ftp.se.debian.org/debian
Suites: bookworm
Components: main
EOF
check third-party-first http://ftp.se.debian.org/debian http://ftp.se.debian.org/debian-security

mk disabled-stanza sources.list.d/debian.sources <<'EOF'
Enabled: no
Types: deb
URIs: http://old.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://ftp.at.debian.org/debian
Suites: bookworm
Components: main
EOF
check disabled-stanza http://ftp.at.debian.org/debian http://ftp.at.debian.org/debian-security

mkdir -p "$tmp/neither/sources.list.d"
check neither http://deb.debian.org/debian http://deb.debian.org/debian-security
check no-apt-dir-at-all http://deb.debian.org/debian http://deb.debian.org/debian-security

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
