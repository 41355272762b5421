#!/usr/bin/env python3
"""Generates mappings/routes.yaml, the Ho Chi Minh City route table, from the unit data here.

    python3 mappings/units/make-routes.py            # (re)writes mappings/routes.yaml
    python3 mappings/units/make-routes.py --check    # exits 1 when routes.yaml is not up to date

Inputs (all in this folder, see SOURCES.md):
  hcm-units-2025-mapping.csv  which old units (79, 74, 77; before 1 July 2025) formed each new ward
  hcm-units-2025.csv          the 168 wards of the new city, cross-checked against the mapping
  hcm-units-pre2025.csv       the 22 old HCMC districts, cross-checked against the mapping

The post office codes are ILLUSTRATIVE, derived by rule from the unit data; they are not
Vietnam Post's real table:
  - default (national sorting centre):            100000
  - provinces 79, and the absorbed 74 and 77:      700000 (the city mail centre)
  - each former district, one office:              "70" + NN + "00", NN = the district's place
    (01..38) in the order HCMC (79), Bình Dương (74), Bà Rịa - Vũng Tàu (77), then GSO code.
    Quận 1 (760) is 01 -> 700100.
  - each current ward: the office of the former district most of its old units came from.
    Ties: most old units that merged whole; then the district of the old ward whose code the new
    ward kept; then the lowest district code.
Every route uses the endpoint `postal`. Python 3 standard library only; output is deterministic.
"""

import argparse
import collections
import csv
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "routes.yaml"
UNITS = "units/hcm-units-2025-mapping.csv"  # as routes.yaml names it (relative to routes.yaml)

ENDPOINT = "postal"
DEFAULT_OFFICE = "100000"
CITY_OFFICE = "700000"
PROVINCE_ORDER = ["79", "74", "77"]  # the new city first, then the provinces it absorbed
NEW_PROVINCE = "79"


def read_csv(name, header):
    with open(HERE / name, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if rows[0] != header:
        sys.exit(f"{name}: unexpected header {rows[0]}")
    return [dict(zip(header, r)) for r in rows[1:]]


def fail(msg):
    sys.exit(f"make-routes.py: {msg}")


def build():
    mapping = read_csv(
        "hcm-units-2025-mapping.csv",
        ["province_code", "province_name", "ward_code", "ward_name", "ward_level", "old_province_code",
         "old_province_name", "old_district_code", "old_district_name", "old_ward_code", "old_ward_name",
         "merge_type"])
    wards2025 = read_csv("hcm-units-2025.csv",
                         ["province_code", "province_name", "ward_code", "ward_name", "formed_from_ward_codes"])
    pre2025 = read_csv("hcm-units-pre2025.csv", ["province_code", "province_name", "district_code", "district_name",
                                                 "ward_code", "ward_name", "ward_level"])

    # The current wards, and the cross-check of the two new-ward files.
    new_names = {}
    formed = collections.defaultdict(set)
    for r in mapping:
        if r["province_code"] != NEW_PROVINCE:
            fail(f"new ward {r['ward_code']} is not in province {NEW_PROVINCE}")
        if new_names.setdefault(r["ward_code"], r["ward_name"]) != r["ward_name"]:
            fail(f"new ward {r['ward_code']} has two names")
        formed[r["ward_code"]].add(r["old_ward_code"] or r["old_district_code"])
    if len(new_names) != 168:
        fail(f"expected 168 current wards, the mapping has {len(new_names)}")
    listed = {r["ward_code"]: r for r in wards2025}
    if set(listed) != set(new_names):
        fail("hcm-units-2025.csv and the mapping list different wards")
    for code, r in listed.items():
        if r["ward_name"] != new_names[code] or set(r["formed_from_ward_codes"].split(";")) != formed[code]:
            fail(f"hcm-units-2025.csv and the mapping disagree on ward {code}")

    # Old units: merge types must be consistent (full: one new ward; partial: several).
    targets = collections.defaultdict(set)
    types = collections.defaultdict(set)
    for r in mapping:
        key = r["old_ward_code"] or "district " + r["old_district_code"]
        targets[key].add(r["ward_code"])
        types[key].add(r["merge_type"])
    for key, t in types.items():
        if t == {"full"} and len(targets[key]) == 1:
            continue
        if t == {"partial"} and len(targets[key]) >= 2:
            continue
        fail(f"old unit {key}: merge types {sorted(t)} over {len(targets[key])} new wards")

    # Former districts, numbered for their offices.
    districts = {}
    for r in mapping:
        d = (r["old_province_code"], r["old_district_code"])
        districts.setdefault(d, (r["old_province_name"], r["old_district_name"]))
    hcm_pre = {r["district_code"]: r["district_name"] for r in pre2025}
    hcm_map = {d: n[1] for (p, d), n in districts.items() if p == NEW_PROVINCE}
    if hcm_pre != hcm_map or len(hcm_pre) != 22:
        fail("the 22 HCMC districts of hcm-units-pre2025.csv and the mapping differ")
    order = sorted(districts, key=lambda pd: (PROVINCE_ORDER.index(pd[0]), pd[1]))
    if len(order) > 99:
        fail("too many districts for two-digit office numbers")
    district_office = {d: f"70{i:02d}00" for i, (_, d) in enumerate(order, start=1)}

    # Each current ward goes to the office of the former district most of its old units came from.
    rows_of = collections.defaultdict(list)
    for r in mapping:
        rows_of[r["ward_code"]].append(r)
    ward_route = {}
    for code, rows in rows_of.items():
        count = collections.Counter(r["old_district_code"] for r in rows)
        whole = collections.Counter(r["old_district_code"] for r in rows if r["merge_type"] == "full")
        kept = {r["old_district_code"] for r in rows if r["old_ward_code"] == code}
        best = min(count, key=lambda d: (-count[d], -whole[d], d not in kept, d))
        name = next(r["old_district_name"] for r in rows if r["old_district_code"] == best)
        ward_route[code] = (district_office[best], best, name, count[best], len(rows))

    provinces = {}
    for (p, _), (pname, _) in districts.items():
        provinces.setdefault(p, pname)
    return new_names, ward_route, order, districts, district_office, provinces, targets, types


def route(office):
    return f'{{ post_office: "{office}", endpoint: {ENDPOINT} }}'


def render():
    new_names, ward_route, order, districts, district_office, provinces, targets, types = build()
    whole = sum(1 for k, t in types.items() if t == {"full"} and not k.startswith("district"))
    split = sum(1 for t in types.values() if t == {"partial"})
    out = []
    w = out.append
    w("# Route table for Thành phố Hồ Chí Minh: ward, former district or province -> post office.")
    w("# GENERATED by mappings/units/make-routes.py from mappings/units/*.csv; do not edit by hand:")
    w("# change the script and run `python3 mappings/units/make-routes.py`. docs/routing.md explains it.")
    w("#")
    w("# THE POST OFFICE CODES ARE ILLUSTRATIVE. They are derived by rule from the unit data and are not")
    w("# Vietnam Post's real table: 100000 national sorting centre (default), 700000 city mail centre")
    w("# (provinces 79, 74, 77), one office per former district \"70\" + NN + \"00\" (NN = 01..38: HCMC,")
    w("# then Bình Dương, then Bà Rịa - Vũng Tàu districts, in GSO code order; Quận 1 = 700100), and each")
    w("# current ward goes to the office of the former district most of its old units came from.")
    w("#")
    w(f"# {len(ward_route)} current wards (from 1 July 2025), {len(order)} former districts, {len(provinces)} provinces.")
    w(f"# The unit catalogue below has {whole} old wards that merged whole into one new ward (normalised)")
    w(f"# and {split} that were split between new wards (flagged split_ward for a person).")
    w("routes: dossier-hub/routes/v1")
    w(f"units: {UNITS}")
    w(f"default: {route(DEFAULT_OFFICE)}  # national sorting centre")
    w("")
    w("provinces:")
    for p in PROVINCE_ORDER:
        note = "" if p == NEW_PROVINCE else " (until 30 June 2025)"
        w(f'  "{p}": {route(CITY_OFFICE)}  # {provinces[p]}{note} -> city mail centre')
    w("")
    w("# Former districts (until 30 June 2025), for addresses that still carry a district code.")
    w("districts:")
    last_p = None
    for p, d in order:
        if p != last_p:
            w(f"  # {provinces[p]} ({p})")
            last_p = p
        w(f'  "{d}": {route(district_office[d])}  # {districts[(p, d)][1]}')
    w("")
    w("# Current wards (from 1 July 2025): the office of the former district most of their old units")
    w("# came from (\"n/m\": n of the m old units that formed the ward came from that district).")
    w("wards:")
    for code in sorted(ward_route):
        office, _, dname, n, m = ward_route[code]
        w(f'  "{code}": {route(office)}  # {new_names[code]} <- {dname} {n}/{m}')
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Generate mappings/routes.yaml from mappings/units/*.csv")
    ap.add_argument("--check", action="store_true", help="exit 1 when routes.yaml is not up to date")
    ap.add_argument("--output", type=pathlib.Path, default=OUT, help="where to write (default: mappings/routes.yaml)")
    args = ap.parse_args()
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is not up to date: run python3 mappings/units/make-routes.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
