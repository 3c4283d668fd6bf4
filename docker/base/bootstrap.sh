#!/bin/sh
# Builds debian:bookworm-slim locally when no registry answers: debootstrap a
# minimal Debian, trim it the way the official slim image is trimmed, and
# `docker import` it under the same tag, so nothing downstream knows the difference.
# Usage: bootstrap.sh TAG [MIRROR]   (root, debootstrap installed)
set -eu
tag=${1:?usage: bootstrap.sh TAG [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
root=$(mktemp -d /var/tmp/gotraps-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
# Release files are checked against Debian's archive keyring, and every package against them.
keyring=${GOTRAPS_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
[ -r "$keyring" ] || { echo "bootstrap.sh: no Debian archive keyring at $keyring (apt-get install debian-archive-keyring)" >&2; exit 2; }
debootstrap --variant=minbase --keyring="$keyring" --components=main bookworm "$root" "$mirror"
# What the official slim image leaves out of every later install.
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CFG
echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
       "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/tmp/*
tar --numeric-owner -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$tag"
