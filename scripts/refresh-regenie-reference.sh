#!/usr/bin/env bash
# Regenerate tests/data/regenie/outputs with the real regenie program.
#
# Runs every command of regenie's example COMMANDS.txt (in order: step 1 runs come before the step 2 runs
# that read their predictions) on a copy of tests/data/regenie/inputs, in a temporary folder laid out like
# the shared one (inputs/ beside outputs/, commands run from outputs/), then copies over the files that
# tests/data/regenie/outputs already holds. Other outputs (most logs) are not kept: no test reads them.
#
#   scripts/refresh-regenie-reference.sh
#
# Environment: REGENIE (default ../shared/regenie-bin/regenie beside the clone), COMMANDS (default
# ../shared/data/regenie-example/outputs/COMMANDS.txt). Logs carry timestamps and change on every run;
# .regenie/.loco files should not (see tests/data/regenie/README.md).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
regenie=${REGENIE:-$root/../shared/regenie-bin/regenie}
commands=${COMMANDS:-$root/../shared/data/regenie-example/outputs/COMMANDS.txt}
data=$root/tests/data/regenie

[[ -x $regenie ]] || { echo "error: regenie binary not found at $regenie" >&2; exit 1; }
[[ -f $commands ]] || { echo "error: COMMANDS.txt not found at $commands" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$data/inputs" "$work/inputs"
chmod -R u+w "$work/inputs"
mkdir "$work/outputs"

cd "$work/outputs"
while read -r -a words; do
    [[ ${#words[@]} -eq 0 ]] && continue
    if [[ ${words[0]} != regenie ]]; then
        echo "error: $commands: a line does not start with 'regenie': ${words[*]}" >&2
        exit 1
    fi
    echo "regenie ${words[*]:1}"
    if ! "$regenie" "${words[@]:1}" >"$work/stdout.txt" 2>&1; then
        cat "$work/stdout.txt" >&2
        echo "error: regenie failed" >&2
        exit 1
    fi
done <"$commands"

status=0
for kept in "$data"/outputs/*; do
    name=$(basename "$kept")
    if [[ ! -f $name ]]; then
        echo "error: regenie did not write $name" >&2
        status=1
    elif cmp -s "$name" "$kept"; then
        echo "unchanged  $name"
    else
        cp "$name" "$kept"
        echo "updated    $name"
    fi
done
exit "$status"
