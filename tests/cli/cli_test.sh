#!/usr/bin/env bash
# The dossier-hub command line as its users run it: exit codes, stdout, stderr.
set -uo pipefail
hub=$1
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() {  # expect NAME CODE -- command...
  local name=$1 want=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -ne $want ]]; then
    echo "FAIL $name: exit $got, expected $want"; sed 's/^/  | /' "$tmp/out" "$tmp/err" | head -20
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}
contains() {  # contains NAME FILE TEXT
  if ! grep -qF -- "$3" "$tmp/$2"; then
    echo "FAIL $1: $2 lacks '$3'"; sed 's/^/  | /' "$tmp/$2" | head -20
    failures=$((failures + 1))
  fi
}

expect "an unknown command is a usage error (exit 2, not a crash)" 2 -- "$hub" frobnicate
contains "it lists the commands" err "Commands:"

valid=samples/hcm-justice/valid/01-ket-qua-phieu-so-1.xml
expect "translate a valid message" 0 -- "$hub" translate --mapping mappings/hcm-justice.yaml "$valid"
contains "translate prints the dossier" out '"schema": "dossier/v1"'
contains "translate omits hub fields" out '"format": "xml"'
if grep -q '"hub_id"\|"received_at"\|"sha256"' "$tmp/out"; then echo "FAIL translate printed hub-assigned fields"; failures=$((failures + 1)); fi

expect "translate is deterministic" 0 -- bash -c "diff <('$hub' translate -m mappings/hcm-justice.yaml $valid) <('$hub' translate -m mappings/hcm-justice.yaml $valid)"
expect "translate reads standard input" 0 -- bash -c "'$hub' translate --compact -m mappings/hcm-justice.yaml - < $valid"
contains "compact output is one line" out '{"schema":"dossier/v1"'

expect "a batch prints an array" 0 -- "$hub" translate -m mappings/hcm-social-insurance.yaml samples/hcm-social-insurance/valid/02-three-cards-soap12.xml
if [[ $(head -c1 "$tmp/out") != "[" ]]; then echo "FAIL batch output is not an array"; failures=$((failures + 1)); fi

expect "a refused message exits 1" 1 -- "$hub" translate -m mappings/hcm-justice.yaml samples/hcm-justice/invalid/04-so-dien-thoai-thieu-so.xml
contains "the problem names the field" out '"path": "/applicant/phone"'
contains "the problem is RFC 9457" out '"type": "urn:dossier-hub:problem:invalid-message"'

expect "a missing message file exits 2" 2 -- "$hub" translate -m mappings/hcm-justice.yaml /nonexistent.xml
expect "a missing --mapping exits 2" 2 -- "$hub" translate "$valid"
contains "usage errors go to stderr" err "--mapping"
expect "too large a message is refused" 1 -- "$hub" translate --max-bytes 100 -m mappings/hcm-justice.yaml "$valid"
contains "the size problem says so" out "larger than 100 bytes"

# A broken mapping: the error names file, line and column, and the exit code is 2.
cp mappings/hcm-justice.xsd "$tmp/"
sed 's/^    kind: result_delivery/    kind: result_delivery\n    colour: blue/' mappings/hcm-justice.yaml >"$tmp/hcm-justice.yaml"
expect "a mapping with an unknown key exits 2" 2 -- "$hub" translate -m "$tmp/hcm-justice.yaml" "$valid"
contains "the load error names file:line:column" err "hcm-justice.yaml:"
contains "the load error names the key" err "unknown key 'colour'"

# check: a wrong golden file fails with a diff, and exit 1.
mkdir -p "$tmp/m" "$tmp/samples/hcm-justice/valid"
cp mappings/hcm-justice.yaml mappings/hcm-justice.xsd "$tmp/m/"
cp "$valid" "$tmp/samples/hcm-justice/valid/"
sed 's/"cod_amount": 0/"cod_amount": 1/' "${valid%.xml}.expected.json" >"$tmp/samples/hcm-justice/valid/01-ket-qua-phieu-so-1.expected.json"
expect "check fails on a wrong golden file" 1 -- "$hub" check "$tmp/m"
contains "check shows where it differs" out "/fees/cod_amount: expected 1, got 0"
contains "check prints the summary" out "checks: 0 passed, 1 failed"
expect "check on an empty folder is a usage error" 2 -- "$hub" check "$tmp/samples"
expect "check of an unknown agency is a usage error" 2 -- "$hub" check --agency hcm-nowhere
contains "it names the missing mapping" err "no mapping mappings/hcm-nowhere.yaml"

# Two mappings claiming the same certificate: both fail, naming each other.
sed 's/subject_cn: hcm-justice/subject_cn: hcm-other/; s/partner:hcm-justice/partner:hcm-other/' mappings/hcm-justice.yaml >"$tmp/m/hcm-other.yaml"
sed -i 's/subject_cn: hcm-other/subject_cn: hcm-justice/; s/partner:hcm-other/partner:hcm-justice/' "$tmp/m/hcm-other.yaml"
expect "check refuses two mappings with one identity" 1 -- "$hub" check "$tmp/m" --samples "$tmp/samples"
contains "the identity clash names both" out "could belong to both hcm-justice and hcm-other"

# A stray file in a samples folder is reported, not skipped.
touch "$tmp/samples/hcm-justice/valid/notes.txt"
rm "$tmp/m/hcm-other.yaml"
expect "check reports a file that is not a sample" 1 -- "$hub" check "$tmp/m" --samples "$tmp/samples"
contains "it says what a sample is" out "not a sample: samples are <name>.xml or <name>.json"

# check reads callback reports strictly: a misspelt status, a wrong type or an unknown key fails
# with file:line:column and the field, and --write-missing writes nothing for such a report.
mkdir -p "$tmp/cb/m" "$tmp/cb/s/hcm-binh-thanh"
cp mappings/hcm-binh-thanh.* "$tmp/cb/m/"
cp -r samples/hcm-binh-thanh/valid samples/hcm-binh-thanh/invalid samples/hcm-binh-thanh/callbacks "$tmp/cb/s/hcm-binh-thanh/"
cbs=$tmp/cb/s/hcm-binh-thanh/callbacks
sed 's/"status": "ordered"/"status": "orderd"/; s/"item_code": "EB123456789VN"/"item_code": 12, "colour": "red"/' \
  "$cbs/01-ordered.report.json" >"$cbs/09-typos.report.json"
expect "check refuses a report with typos" 1 -- "$hub" check "$tmp/cb/m" --samples "$tmp/cb/s" --write-missing
contains "a misspelt status names its place and the statuses" out "09-typos.report.json:6:13: status 'orderd' is not a hub status (expected one of: accepted, ordered,"
contains "a wrong type names the field" out "09-typos.report.json:9:16: item_code must be a string, not a number"
contains "an unknown key is named" out "09-typos.report.json:9:20: unknown key 'colour'"
if [[ -e "$cbs/09-typos.expected.xml" ]]; then echo "FAIL --write-missing wrote the body of a bad report"; failures=$((failures + 1)); fi
rm "$cbs/09-typos.report.json"
echo '{"status": "delivered", "hub_id": "01JHMZ4V7Q8K2R5T9W3X6Y0ABC"}' >"$cbs/09-thin.report.json"
expect "check refuses a report without what the hub always knows" 1 -- "$hub" check "$tmp/cb/m" --samples "$tmp/cb/s"
contains "it lists what is missing" out "missing dossier_code, message_id, organ_id, event_id, event_time"
rm "$cbs/09-thin.report.json"

# A callback body that differs is shown as a diff: lines for XML, JSON Pointers for JSON.
sed -i 's|<MaBuuCuc>700000</MaBuuCuc>|<MaBuuCuc>700001</MaBuuCuc>|' "$cbs/01-ordered.expected.xml"
expect "check fails on a wrong callback body" 1 -- "$hub" check "$tmp/cb/m" --samples "$tmp/cb/s"
contains "the XML diff shows the expected line" out "expected line 8:   <MaBuuCuc>700001</MaBuuCuc>"
contains "the XML diff shows the rendered line" out "rendered line 8:   <MaBuuCuc>700000</MaBuuCuc>"
mkdir -p "$tmp/cj/m" "$tmp/cj/s/hcm-immigration"
cp mappings/hcm-immigration.* "$tmp/cj/m/"
cp -r samples/hcm-immigration/valid samples/hcm-immigration/invalid samples/hcm-immigration/callbacks "$tmp/cj/s/hcm-immigration/"
sed -i 's/"trangThai":"DA_TIEP_NHAN"/"trangThai":"DA_NHAN"/' "$tmp/cj/s/hcm-immigration/callbacks/01-ordered.expected.json"
expect "check fails on a wrong JSON callback body" 1 -- "$hub" check "$tmp/cj/m" --samples "$tmp/cj/s"
contains "the JSON diff names the pointer" out '/trangThai: expected "DA_NHAN", got "DA_TIEP_NHAN"'

echo "cli_test: $failures failure(s)"
exit $((failures > 0))
