#!/usr/bin/env bash
# Mapping reloads on a running hub. A reload that meets a broken mapping refuses that file alone:
# its agency goes on being served by the version it had, the other files' changes are taken, and
# the reload answer, GET /admin/mappings, the admin CLI and /metrics say which file and why. Under
# load, reloads one after another drop no request.
source "$(dirname "$0")/lib.sh"
copy_mappings
e2e_start
admin_cli() { "$HUB_BIN" admin --url "http://127.0.0.1:$ADMIN_PORT" "$@"; }
reload() { admin -X POST "$(admin_url /admin/mappings/reload)"; }
refused_gauge() { admin "$(admin_url /metrics)" | sed -n 's/^dossier_hub_mappings_refused \([0-9]*\).*/\1/p'; }
justice=("$E2E_ROOT"/samples/hcm-justice/valid/0[1-3]*.xml)
transport=()
for f in "$E2E_ROOT"/samples/hcm-transport/valid/0[1-4]*.json; do [[ $f == *.expected.json ]] || transport+=("$f"); done

check "hcm-justice is served" test "$(code_of "$(post hcm-justice "${justice[0]}")")" = 202

# One broken file, one good change in another.
cp "$E2E_MAPPINGS/hcm-justice.yaml" "$E2E_DIR/hcm-justice.yaml.good"
sed -i 's/^    kind: result_delivery/    kind: result_delivery\n    colour: blue/' "$E2E_MAPPINGS/hcm-justice.yaml"
echo 'limits: { rate: 0.2, burst: 1 }' >>"$E2E_MAPPINGS/hcm-transport.yaml"
r=$(reload)
check "a reload with one broken file answers 200: the others are in" test "$(code_of "$r")" = 200
check "it names the refused file, where and why, and that its earlier version is kept" holds \
  '.refused | length == 1 and .[0].file == "hcm-justice.yaml" and .[0].kept == true
   and (.[0].reason | test("hcm-justice.yaml:[0-9]+:[0-9]+: unknown key .colour."))' <<<"$(body_of "$r")"
check "the agency of the broken file is still served, by its earlier version" \
  test "$(code_of "$(post hcm-justice "${justice[1]}")")" = 202
first=$(code_of "$(post hcm-transport "${transport[0]}")")
second=$(code_of "$(post hcm-transport "${transport[1]}")")
check "the good change in another file is in force (hcm-transport's new limit: $first $second)" \
  test "$first $second" = "202 429"
check "GET /admin/mappings shows the refusal" holds '.refused[0].file == "hcm-justice.yaml" and
  ([.mappings[].agency] | index("hcm-justice") != null)' <<<"$(body_of "$(admin "$(admin_url /admin/mappings)")")"
check "the gauge counts it" test "$(refused_gauge)" = 1
admin_cli mappings reload >/dev/null 2>&1
check "the admin CLI's reload exits 1 while a file is refused" test $? = 1

# Fixed, it is taken at the next reload.
cp "$E2E_DIR/hcm-justice.yaml.good" "$E2E_MAPPINGS/hcm-justice.yaml"
r=$(reload)
check "once fixed, the next reload refuses nothing" holds '.refused == []' <<<"$(body_of "$r")"
check "and the gauge is back to 0" test "$(refused_gauge)" = 0
admin_cli mappings reload >/dev/null 2>&1
check "the admin CLI's reload exits 0" test $? = 0

# Reloads under load: 1,800 messages from two agencies, 4 at a time each, while the mappings are
# reloaded every 50 ms (each reload compiles every file and swaps the set): every message is answered 202.
sed -i '/^limits:/d' "$E2E_MAPPINGS/hcm-transport.yaml"
reload >/dev/null
make_messages 1500 "$E2E_DIR/load"
mkdir -p "$E2E_DIR/load-justice"
for i in $(seq 1 300); do
  n=$(printf %04d "$i")
  sed -e "s|<MaHoSo>[^<]*</MaHoSo>|<MaHoSo>000.00.12.H29-251130-$n</MaHoSo>|" \
      -e "s|<MaThongDiep>[^<]*</MaThongDiep>|<MaThongDiep>5f0c2a7e-3b1d-4c8e-9a61-00000000$n</MaThongDiep>|" \
      "${justice[0]}" >"$E2E_DIR/load-justice/j$i.xml"
done
post_many hcm-immigration "$E2E_DIR/load" 4 >"$E2E_DIR/codes-immigration" &
sender1=$!
post_many hcm-justice "$E2E_DIR/load-justice" 4 >"$E2E_DIR/codes-justice" &
sender2=$!
reloads=0 bad_reloads=0
while kill -0 "$sender1" 2>/dev/null || kill -0 "$sender2" 2>/dev/null; do
  [[ $(code_of "$(reload)") == 200 ]] && reloads=$((reloads + 1)) || bad_reloads=$((bad_reloads + 1))
  sleep 0.05
done
wait "$sender1" "$sender2"
answers=$(cat "$E2E_DIR/codes-immigration" "$E2E_DIR/codes-justice")
check "$reloads reloads under load, none failed ($bad_reloads)" test "$reloads" -ge 10 -a "$bad_reloads" -eq 0
check "every one of 1800 messages was answered 202 across them ($(sort <<<"$answers" | uniq -c | xargs))" \
  test "$(grep -c '^202$' <<<"$answers")" -eq 1800
e2e_finish
