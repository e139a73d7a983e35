#!/usr/bin/env bash
# The user docs hold together: the README stays a short front page (under 250 lines),
# links to every page under docs/, every relative link in the README and docs/ points
# at a file that exists (and a #section at a heading that exists), and their example
# policies load.
source "$(dirname "$0")/integration/lib.sh"
cd "$SOURCE_DIR" || exit 1

lines=$(wc -l <README.md)
check "README.md is under 250 lines ($lines)" test "$lines" -lt 250
for page in docs/*.md; do
  check "README.md links to $page" grep -qF "]($page" README.md
done

# anchor_of HEADING: GitHub's anchor for a heading (lower case, punctuation dropped,
# spaces to hyphens).
anchor_of() { sed -e 's/^#* *//' -e 's/[A-Z]/\L&/g' -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g' <<<"$1"; }
link_resolves() {  # link_resolves FROM_FILE TARGET
  local from=$1 target=$2 file anchor
  file=${target%%#*}
  [[ $target == *#* ]] && anchor=${target#*#} || anchor=
  [[ -z $file ]] && file=$(basename "$from")
  file="$(dirname "$from")/$file"
  [[ -e $file ]] || return 1
  [[ -z $anchor || -d $file ]] && return 0
  while IFS= read -r heading; do
    [[ $(anchor_of "$heading") == "$anchor" ]] && return 0
  done < <(awk '/^```/ { code = !code; next } !code && /^#+ / { print }' "$file")
  return 1
}
for doc in README.md docs/*.md; do
  while IFS= read -r target; do
    check "$doc: the link to $target resolves" link_resolves "$doc" "$target"
  done < <(grep -oE '\]\([^)#][^)]*\)|\]\(#[^)]*\)' "$doc" | sed -E 's/^\]\((.*)\)$/\1/' | grep -vE '^[a-z]+://' | sort -u)
done
# The example policies in the README and docs/policy.md are valid and compile.
for doc in README.md docs/policy.md; do
  awk '/^```toml/ { inside = 1; next } inside && /^```/ { exit } inside { print }' "$doc" >"$TEST_TMP/example.toml"
  check_output "$doc: its first example policy is valid" ': ok \(policy ' "$CTL" validate "$TEST_TMP/example.toml"
  check_output "$doc: ... and compiles to nft text" 'table inet dnsguard' "$CTL" compile "$TEST_TMP/example.toml"
done
finish
