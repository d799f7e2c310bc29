#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks that libjr exports exactly the jr_* symbols listed in capi/jr.map.
set -eu
lib="$1"
map="$2"
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' |
  sed 's/@.*//' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(jr_[a-z0-9_;[:space:]]*\)$/\1/p' "$map" | tr ';' '\n' |
  tr -d ' ' | grep '^jr_' | sort -u)
if [ "$exported" != "$listed" ]; then
  echo "exported symbols differ from $map:"
  printf '%s\n' "$exported" >/tmp/jr-exported.$$
  printf '%s\n' "$listed" >/tmp/jr-listed.$$
  diff /tmp/jr-listed.$$ /tmp/jr-exported.$$ || true
  rm -f /tmp/jr-exported.$$ /tmp/jr-listed.$$
  exit 1
fi
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^jr_' | grep -v '^JR_' || true)
if [ -n "$bad" ]; then
  echo "non-jr symbols exported: $bad"
  exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libjr.so.0" ] || { echo "SONAME is $soname"; exit 1; }
echo "abi: $(printf '%s\n' "$exported" | wc -l) symbols, SONAME $soname: ok"
