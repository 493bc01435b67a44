#!/usr/bin/env bash
# Installs the Debian packages Petrel needs when they are missing (Debian 12).
#   scripts/install-deps.sh build   -dev libraries for compiling (incl. libldap-dev for
#                                   ldap.h and libsasl2-dev for sasl/sasl.h)
#   scripts/install-deps.sh run     build + PostgreSQL server binaries
#   scripts/install-deps.sh test    run + what the test suite uses (incl. the SMTP interop
#                                   clients: swaks, Postfix's smtp-source, openssl; the
#                                   IMAP/POP3 ones: curl, mbsync, offlineimap, mutt, tmux,
#                                   fetchmail; the outbound-delivery peers: dnsmasq, Postfix's
#                                   smtp-sink and private Postfix instances; the directory
#                                   peers: OpenLDAP's slapd and ldap-utils, Cyrus saslauthd
#                                   (sasl2-bin) and the PLAIN/LOGIN plugins (libsasl2-modules);
#                                   the DKIM verifier dkimpy with PyNaCl, from PyPI)
# Runs apt-get as root, or through sudo for a normal user. Installs nothing that is present.
set -euo pipefail
need=()
have_header() { [ -e "/usr/include/$1" ] || [ -e "/usr/include/x86_64-linux-gnu/$1" ] || [ -e "/usr/include/aarch64-linux-gnu/$1" ]; }
have_header argon2.h || need+=(libargon2-dev)
have_header crypt.h || need+=(libcrypt-dev)
have_header ldap.h || need+=(libldap-dev)
have_header sasl/sasl.h || need+=(libsasl2-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
case "${1:-build}" in
  run|test)
    if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
      need+=(postgresql)
    fi
    ;;
esac
if [ "${1:-build}" = test ]; then
  command -v python3 >/dev/null || need+=(python3)
  command -v pkill >/dev/null || need+=(procps)
  command -v psql >/dev/null || need+=(postgresql-client)
  # SMTP interop suite (Tests/interop): openssl makes its certificate, swaks (with Net::SSLeay
  # for STARTTLS/SMTPS) and Postfix's smtp-source are the outside clients.
  command -v openssl >/dev/null || need+=(openssl)
  command -v swaks >/dev/null || need+=(swaks)
  perl -MNet::SSLeay -e 1 >/dev/null 2>&1 || need+=(libnet-ssleay-perl)
  # Postfix for /usr/sbin/smtp-source and /usr/sbin/smtp-sink, and for the private, throwaway
  # instances of Tests/interop/outbound_postfix.py (own config and queue directories, started
  # by the tests as root): the system mail system is never configured or started.
  [ -x /usr/sbin/smtp-source ] || need+=(postfix)
  # Outbound-delivery peers (Tests/interop/outbound_peers.py): dnsmasq as the only DNS server
  # the tests' resolver asks (dnsmasq-base: the binary alone, no system service).
  command -v /usr/sbin/dnsmasq >/dev/null || need+=(dnsmasq-base)
  # Directory peers (Tests/interop/ldap_peer.py, sasl_peer.py): a throwaway slapd with its own
  # slapd.conf and database (the package's system database is never made: see the debconf
  # preseed below; the system service is never started), OpenLDAP's clients for its
  # self-test, and saslauthd/testsaslauthd run in the foreground with their own socket
  # directory (the system saslauthd stays off). libsasl2-modules holds the PLAIN and LOGIN
  # plugins a libsasl2 server needs; it is only a Recommends of libsasl2-2.
  [ -x /usr/sbin/slapd ] || need+=(slapd)
  command -v ldapsearch >/dev/null || need+=(ldap-utils)
  [ -x /usr/sbin/saslauthd ] && [ -x /usr/sbin/testsaslauthd ] || need+=(sasl2-bin)
  ls /usr/lib/*/sasl2/libplain.so* >/dev/null 2>&1 || need+=(libsasl2-modules)
  # IMAP/POP3 interop clients (Tests/interop/imap_pop3_clients.py): curl (imap[s]://,
  # pop3[s]://), isync's mbsync, offlineimap3, mutt (driven inside tmux) and fetchmail (its
  # daemon stays off: START_DAEMON=no in /etc/default/fetchmail).
  command -v curl >/dev/null || need+=(curl)
  command -v mbsync >/dev/null || need+=(isync)
  command -v offlineimap >/dev/null || need+=(offlineimap3)
  command -v mutt >/dev/null || need+=(mutt)
  command -v tmux >/dev/null || need+=(tmux)
  command -v fetchmail >/dev/null || need+=(fetchmail)
fi
install_python_verifier() {
  # The outside DKIM verifier of the interop suite: dkimpy, with PyNaCl for ed25519-sha256,
  # from PyPI (Debian's python3-dkim would serve only Debian's own python3).
  if [ "${1:-build}" = test ] && ! python3 -c 'import dkim, nacl' >/dev/null 2>&1; then
    echo "installing from PyPI: dkimpy PyNaCl"
    python3 -m pip install --quiet --disable-pip-version-check dkimpy PyNaCl \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages dkimpy PyNaCl
  fi
}
if [ ${#need[@]} -eq 0 ]; then
  install_python_verifier "${1:-build}"
  exit 0
fi
echo "installing: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Keep Debian from starting system-wide services (postgresql's default cluster) during install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
if [[ " ${need[*]} " == *" postfix "* ]]; then
  echo 'postfix postfix/main_mailer_type select No configuration' | $sudo debconf-set-selections
fi
if [[ " ${need[*]} " == *" slapd "* ]]; then
  # Otherwise slapd's postinst makes a system database (dc=nodomain, with an admin password)
  # and configures the service; the tests bring their own configuration.
  echo 'slapd slapd/no_configuration boolean true' | $sudo debconf-set-selections
fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
install_python_verifier "${1:-build}"
