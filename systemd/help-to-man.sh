#!/bin/sh
# Writes a man page from a program's --help text: NAME from the arguments, the help
# text as the body. Usage: help-to-man.sh PROGRAM SECTION "one-line summary" OUT
set -eu
program=$1 section=$2 summary=$3 out=$4
name=$(basename "$program")
{
  printf '.TH %s %s "" "dnsguard" "dnsguard"\n' "$(echo "$name" | tr a-z A-Z)" "$section"
  printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
  printf '.SH DESCRIPTION\n.nf\n'
  # roff: a leading dot or quote would be a request; backslashes must be doubled.
  "$program" --help | sed -e 's/\\/\\\\/g' -e "s/^\([.']\)/\\\\\&\1/"
  printf '.fi\n.SH SEE ALSO\n'
  printf 'dnsguardd(8), dnsguardctl(8); /usr/share/doc/dnsguard/README.md and /usr/share/doc/dnsguard/docs/\n'
} >"$out"
