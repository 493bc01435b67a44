#!/usr/bin/env bash
# Makes password-fixtures.tsv: hashes of known passwords made by tools Petrel did not write.
# Run once on Debian 12 with: apt-get install dovecot-core openssl whois apache2-utils slapd argon2
# The output is committed; tests only read it. Columns: the scheme Petrel must report, the command
# that made the hash, the password, the hash. Bare crypt strings are named by their $id$ prefix.
set -euo pipefail
cd "$(dirname "$0")"
out=password-fixtures.tsv
p1='correct horse battery staple'
p2='pässwörd✓ 密码'
emit() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$out"; }
: > "$out"
for pw in "$p1" "$p2"; do
  for s in ARGON2ID ARGON2I BLF-CRYPT SHA512-CRYPT SHA256-CRYPT MD5-CRYPT SSHA512 SSHA256 SSHA SHA512 SHA256 SHA PLAIN-MD5 PLAIN CRYPT; do
    emit "$s" "doveadm pw -s $s" "$pw" "$(doveadm pw -s "$s" -p "$pw")"
  done
  emit SHA512-CRYPT "openssl passwd -6" "$pw" "$(openssl passwd -6 "$pw")"
  emit SHA256-CRYPT "openssl passwd -5" "$pw" "$(openssl passwd -5 "$pw")"
  emit MD5-CRYPT "openssl passwd -1" "$pw" "$(openssl passwd -1 "$pw")"
  emit CRYPT "mkpasswd -m yescrypt" "$pw" "$(mkpasswd -m yescrypt "$pw")"
  emit SHA512-CRYPT "mkpasswd -m sha-512" "$pw" "$(mkpasswd -m sha-512 "$pw")"
  emit BLF-CRYPT "mkpasswd -m bcrypt" "$pw" "$(mkpasswd -m bcrypt "$pw")"
  emit CRYPT "mkpasswd -m descrypt" "$pw" "$(mkpasswd -m descrypt "$pw")"
  emit BLF-CRYPT "htpasswd -nbB" "$pw" "$(htpasswd -nbB user "$pw" | cut -d: -f2-)"
  emit SSHA "slappasswd -h {SSHA}" "$pw" "$(slappasswd -h '{SSHA}' -s "$pw")"
  emit SHA "slappasswd -h {SHA}" "$pw" "$(slappasswd -h '{SHA}' -s "$pw")"
  emit ARGON2ID "argon2 -id -e" "$pw" "$(printf '%s' "$pw" | argon2 "$(openssl rand -hex 8)" -id -m 12 -t 2 -e)"
  emit ARGON2I "argon2 -i -e" "$pw" "{ARGON2I}$(printf '%s' "$pw" | argon2 "$(openssl rand -hex 8)" -i -m 12 -t 2 -e)"
  emit SSHA512 "doveadm pw -s SSHA512.HEX" "$pw" "$(doveadm pw -s SSHA512.HEX -p "$pw")"
done
echo "wrote $(wc -l < "$out") fixtures to $out"
