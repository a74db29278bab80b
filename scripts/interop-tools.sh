#!/usr/bin/env bash
# Installs the TFTP peers the interop tests, the loss test and bench/tftp talk to, the IRC
# server bench/chat measures, and nginx and wrk for bench/http.
# Idempotent: does nothing when everything is already there.
#  - clients, as ordinary Debian packages: tftp-hpa (`tftp`), atftp (`atftp`), curl (its
#    tftp:// support) and BusyBox (`busybox tftp`); tftp-hpa's client negotiates no options,
#    the other three ask for blksize
#  - servers, NOT installed as services (tftpd-hpa and atftpd conflict with each other, and
#    installing either would start a daemon on port 69): their .deb files are fetched with
#    `apt-get download` into .tools/interop/debs and unpacked with `dpkg-deb -x` into
#    .tools/interop/tftpd-hpa and .tools/interop/atftpd
#  - ngircd, the IRC server bench/chat measures, the same way (installed as a service it would
#    start a daemon on 6667, the chat's IRC port): unpacked into .tools/interop/ngircd
#  - nginx, the web server bench/http measures, the same way (as a service it
#    would start on port 80): unpacked into .tools/interop/nginx; and wrk, its load tool
#  - openssh-server, the peer bench/exec measures, the same way (as a service it would start on
#    port 22); the bench starts its own sshd on a loopback port with a generated key. Run as
#    root, sshd needs its privilege separation user and folder, made here as its package would,
#    and the bench logs in as the system user sockit-bench (made here, shell /bin/sh);
#    openssh-sftp-server too, the server side of scp (SFTP since OpenSSH 9.0), for bench/files
#  - socat, rsync and scp, the other contenders of bench/files
#  - nftables and iproute2 (`nft`, `ip`) for test/interop/tftp-loss.test.ts
#  - irssi, the IRC client test/interop/irc-irssi.test.ts drives in tmux
# Prints the paths of the programs at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/interop"

missing=()
command -v tftp >/dev/null || missing+=(tftp-hpa)
command -v atftp >/dev/null || missing+=(atftp)
curl --version 2>/dev/null | grep -q '^Protocols:.* tftp' || missing+=(curl)
command -v busybox >/dev/null || missing+=(busybox)
command -v nft >/dev/null || missing+=(nftables)
command -v ip >/dev/null || missing+=(iproute2)
command -v irssi >/dev/null || missing+=(irssi)
command -v tmux >/dev/null || missing+=(tmux)
command -v wrk >/dev/null || missing+=(wrk)
command -v socat >/dev/null || missing+=(socat)
command -v rsync >/dev/null || missing+=(rsync)
command -v scp >/dev/null || missing+=(openssh-client)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "interop-tools: need ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "interop-tools: installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Server packages: fetched and unpacked only. Their runtime libraries (libc, libwrap0 for
# tftpd-hpa, libwrap0/libpcre2 for atftpd, GnuTLS/libident/PAM/zlib for ngircd) are checked
# with ldd below.
unpack() { # PACKAGE PROGRAM (its path inside the package)
  local pkg="$1" bin="$2"
  if [ -x "$DIR/$pkg/$bin" ]; then return; fi
  mkdir -p "$DIR/debs"
  if ! ls "$DIR/debs/${pkg}_"*.deb >/dev/null 2>&1; then
    echo "interop-tools: downloading $pkg" >&2
    (cd "$DIR/debs" && apt-get download -qq "$pkg" >&2) || {
      apt-get update -qq >&2
      (cd "$DIR/debs" && apt-get download -qq "$pkg" >&2)
    }
  fi
  rm -rf "$DIR/$pkg"
  mkdir -p "$DIR/$pkg"
  dpkg-deb -x "$(ls "$DIR/debs/${pkg}_"*.deb | head -n 1)" "$DIR/$pkg"
  [ -x "$DIR/$pkg/$bin" ] || {
    echo "interop-tools: $pkg has no $bin" >&2
    exit 1
  }
}
unpack tftpd-hpa usr/sbin/in.tftpd
unpack atftpd usr/sbin/atftpd
unpack ngircd usr/sbin/ngircd
unpack nginx usr/sbin/nginx
unpack openssh-server usr/sbin/sshd
unpack openssh-sftp-server usr/lib/openssh/sftp-server

# Libraries the unpacked servers need (their Depends, minus debconf/adduser, which only the
# service scripts use) and that dpkg did not install because the servers are not installed.
libs=()
for dep in libc6 libwrap0 libpcre2-8-0 libgnutls30 libident libpam0g zlib1g libcrypt1 libssl3; do
  dpkg -s "$dep" 2>/dev/null | grep -q '^Status: install ok installed' || libs+=("$dep")
done
if [ ${#libs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "interop-tools: the servers need ${libs[*]}; run: sudo apt-get install -y ${libs[*]}" >&2
    exit 1
  fi
  echo "interop-tools: installing libraries ${libs[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${libs[@]}" >&2
fi
for bin in "$DIR/tftpd-hpa/usr/sbin/in.tftpd" "$DIR/atftpd/usr/sbin/atftpd" "$DIR/ngircd/usr/sbin/ngircd" \
  "$DIR/nginx/usr/sbin/nginx" "$DIR/openssh-server/usr/sbin/sshd" "$DIR/openssh-sftp-server/usr/lib/openssh/sftp-server"; do
  if ldd "$bin" | grep 'not found' >&2; then
    echo "interop-tools: $bin is missing libraries" >&2
    exit 1
  fi
done

# sshd run as root checks for its privilege separation user and an empty root-owned folder.
if [ "$(id -u)" = 0 ]; then
  getent passwd sshd >/dev/null || useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  # bench/exec logs in to it over ssh: /bin/sh reads no start-up files for a command, as
  # sockit exec runs none, so the bench measures ssh rather than a login shell's ~/.bashrc.
  # Its password is '*' (none can match) rather than locked ('!'): sshd refuses a locked
  # account even a key log-in.
  getent passwd sockit-bench >/dev/null ||
    useradd --system --no-create-home --home-dir /tmp --shell /bin/sh --password '*' sockit-bench
fi

echo "tftp     $(command -v tftp)"
echo "atftp    $(command -v atftp)"
echo "curl     $(command -v curl)"
echo "busybox  $(command -v busybox)"
echo "in.tftpd $DIR/tftpd-hpa/usr/sbin/in.tftpd"
echo "atftpd   $DIR/atftpd/usr/sbin/atftpd"
echo "ngircd   $DIR/ngircd/usr/sbin/ngircd"
echo "nft      $(command -v nft)"
echo "ip       $(command -v ip)"
echo "irssi    $(command -v irssi)"
echo "tmux     $(command -v tmux)"
echo "wrk      $(command -v wrk)"
echo "nginx    $DIR/nginx/usr/sbin/nginx"
echo "sshd     $DIR/openssh-server/usr/sbin/sshd"
