#!/usr/bin/env python3
"""make-seeds: regenerates tests/fuzz/corpus/payload/ from tests/fixtures/payloads/.

Each fixture's @NOW…@ placeholders (see tests/unit/test_payload.c) are rendered against the
fixed clock of fuzz_payload.c (2026-11-22T12:00:00Z), so a seed parses as its fixture does.
Files are named fx-<valid|invalid>-<case>.json; other seeds in the directory are kept.
The EPCIS seeds (corpus/epcis/) are written by hand: GS1's examples are not ours to copy.
"""
import datetime as dt
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.timezone.utc)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PH = re.compile(rb"@NOW([^@]*)@")
SPEC = re.compile(r"^([+-](?:\d+[smhd])+)?(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)?$")


def render(m):
    spec = m.group(1).decode()
    g = SPEC.match(spec)
    if not g:
        raise SystemExit(f"bad placeholder @NOW{spec}@")
    delta = 0
    if g.group(1):
        sign = -1 if g.group(1)[0] == "-" else 1
        for v, u in re.findall(r"(\d+)([smhd])", g.group(1)):
            delta += int(v) * UNITS[u]
        delta *= sign
    zone = g.group(3) or "Z"
    off = 0
    if zone not in ("Z", "z"):
        off = (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * (-1 if zone[0] == "-" else 1)
    t = NOW + dt.timedelta(seconds=delta + off)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if g.group(2):
        text += "." + g.group(2)
    return (text + zone).encode()


def main():
    out = REPO / "tests/fuzz/corpus/payload"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("fx-*"):
        old.unlink()
    n = 0
    for kind in ("valid", "invalid"):
        for f in sorted((REPO / "tests/fixtures/payloads" / kind).glob("*.json")):
            data = PH.sub(render, f.read_bytes())
            (out / f"fx-{kind}-{f.stem}.json").write_bytes(data)
            n += 1
    print(f"{n} payload seeds in {out}")


if __name__ == "__main__":
    main()
