#!/usr/bin/env bash
# Runs every test suite with Node's test runner (TypeScript through tsx).
#
#   npm test                 (builds first, then runs this script)
#   bash test/run-tests.sh   (builds only if core/dist is missing)
#
# When run as root, first installs the Debian tools the tests need, only those missing
# (apt-get update once, then apt-get install --no-install-recommends). The end-to-end tests start
# their own Postern processes on free loopback ports and stop them (by pid) when they finish;
# so do the test services (dnsmasq, smtp-sink, a private Postfix). Nothing listens on a standard
# port: the install starts no system daemon. Exits with the test runner's exit code.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ---- Debian tools the tests use: command -> package
declare -A TOOLS=(
  [python3]=python3 # test/smtp-*.test.ts send mail with python3's smtplib
  [swaks]=swaks
  [dnsmasq]=dnsmasq     # test/support/dnsmasq.ts: the test DNS (MX, A, TXT, PTR, null MX)
  [dig]=dnsutils        # to query that DNS by hand
  [smtp-sink]=postfix   # test/support/smtp-sink.ts: the remote SMTP server that keeps messages
  [postfix]=postfix     # test/support/postfix.ts: the private Postfix of the relay benchmark
  [dovecot]=dovecot-imapd                # test/support/dovecot.ts: a private Dovecot (IMAP yardstick, remote mailbox)
  [doveadm]=dovecot-core                 # ... and `doveadm save` to fill its mailboxes
  [/usr/lib/dovecot/pop3]=dovecot-pop3d  # ... and its POP3 service
  [clamd]=clamav-daemon  # test/support/clamd.ts: a private clamd (own EICAR signatures, no freshclam download)
  [/usr/share/clamav-testfiles/clam.exe]=clamav-testfiles  # the 44 ClamAV test samples (zip, 7z, upx, pdf, mail...)
  [spamd]=spamd             # test/support/spamd.ts: a private spamd (Debian's rules, no sa-update)
  [spamassassin]=spamassassin
  [/usr/share/perl5/Mail/DKIM/Verifier.pm]=libmail-dkim-perl  # a second DKIM verifier for what Postern signs
  [opendkim-testmsg]=opendkim-tools                           # ... and a third
)
# smtp-sink and postfix live in /usr/sbin, which a non-root PATH may lack.
have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]] || [[ $1 == /* && -e $1 ]]; }
# The pid files of the system daemons these packages bring; none may be left running.
DAEMON_PIDFILES=(/run/dnsmasq/dnsmasq.pid /var/spool/postfix/pid/master.pid /run/dovecot/master.pid
  /run/clamav/clamd.pid /run/clamav/freshclam.pid /run/spamd.pid) # spamd brings spamd (:783) # clamav-daemon brings clamd (:3310 or a socket) and freshclam
daemon_pid() {
  local pid=""
  if [[ -r $1 ]]; then pid=$(head -n1 "$1" | tr -d ' '); fi
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
  return 0
}
missing=()
for cmd in "${!TOOLS[@]}"; do
  have "$cmd" || missing+=("${TOOLS[$cmd]}")
done
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $(id -u) -eq 0 ]]; then
    echo "== apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # postfix asks what kind of mail system this is; the tests run their own instances.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Package scripts must not start system daemons (dnsmasq on :53, postfix on :25, dovecot on
    # :143 and :110, clamd and freshclam). Debian's container images ship a policy-rc.d that forbids it; bring one for
    # the install if absent.
    added_policy=""
    declare -A daemons_before=()
    for pidfile in "${DAEMON_PIDFILES[@]}"; do daemons_before[$pidfile]=$(daemon_pid "$pidfile"); done
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      added_policy=1
    fi
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    if [[ -n $added_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
    # Belt and braces: a system daemon that was not running before the install and is now is
    # stopped by the pid in its pid file.
    for pidfile in "${DAEMON_PIDFILES[@]}"; do
      pid=$(daemon_pid "$pidfile")
      if [[ -n $pid && $pid != "${daemons_before[$pidfile]:-}" ]]; then
        echo "== stopping the system daemon the install started ($pidfile: $pid)"
        kill "$pid"
      fi
    done
  else
    echo "warning: missing ${missing[*]} and not root, so not installing them; tests that need them will fail" >&2
  fi
fi

# ---- the build the end-to-end tests run (`npm test` has just done it)
if [[ ! -f core/dist/cli/main.js ]]; then
  echo "== core/dist missing: npx tsc -b"
  npx tsc -b
fi

# ---- test files (Node 20's --test does not expand globs itself)
shopt -s nullglob
files=(test/*.test.ts sdk/test/*.test.ts plugins/*/test/*.test.ts)
shopt -u nullglob
if ((${#files[@]} == 0)); then
  echo "no test files found" >&2
  exit 1
fi

echo "== node --test: ${#files[@]} files"
status=0
node --import tsx --test --test-concurrency=2 "${files[@]}" || status=$?
exit "$status"
