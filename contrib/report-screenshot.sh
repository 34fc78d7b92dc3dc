#!/usr/bin/env bash
# report-screenshot: renders an XHTML report in headless Chromium to a PNG, or checks that a
# PNG is not blank.
#
#   contrib/report-screenshot.sh REPORT.xhtml OUT.png [WIDTHxHEIGHT]   (default 1280x2400)
#   contrib/report-screenshot.sh --check OUT.png     prints "ok", or what is wrong (exit 1)
#
# Chromium runs with a throwaway profile, no network (the report needs none: it is
# self-contained) and --no-sandbox (needed as root). CHROMIUM overrides /usr/bin/chromium.
set -uo pipefail

check() {
	python3 - "$1" <<'PY'
import struct, sys, zlib
path = sys.argv[1]
try:
    data = open(path, "rb").read()
except OSError as e:
    print("cannot read %s: %s" % (path, e)); sys.exit(1)
if len(data) < 100 or data[:8] != b"\x89PNG\r\n\x1a\n":
    print("not a PNG (%d bytes)" % len(data)); sys.exit(1)
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
if depth != 8 or ctype not in (2, 6) or interlace:
    print("unexpected PNG format (depth %d, colour type %d)" % (depth, ctype)); sys.exit(1)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, inked = set(), 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 4):
            px = bytes(line[x * bpp:x * bpp + 3])
            colours.add(px)
            if px != b"\xff\xff\xff":
                inked += 1
samples = ((h + 3) // 4) * ((w + 3) // 4)
if len(colours) < 8 or inked < samples * 0.02:
    print("blank: %d colours, %.2f%% non-white" % (len(colours), 100.0 * inked / samples)); sys.exit(1)
print("ok")
PY
}

if [ "${1:-}" = --check ]; then
	check "${2:?--check PNG}"
	exit
fi
in=${1:?REPORT.xhtml} out=${2:?OUT.png} size=${3:-1280x2400}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "report-screenshot: $chromium not found" >&2; exit 2; }
[ -f "$in" ] || { echo "report-screenshot: $in not found" >&2; exit 2; }
profile=$(mktemp -d "${TMPDIR:-/tmp}/report-shot.XXXXXX") || exit 1
trap 'rm -rf -- "$profile"' EXIT
abs=$(cd "$(dirname "$in")" && pwd)/$(basename "$in")
case $out in /*) ;; *) out=$PWD/$out ;; esac
rm -f "$out"
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--user-data-dir="$profile" --no-first-run --disable-extensions --disable-background-networking \
	--window-size="${size/x/,}" --screenshot="$out" "file://$abs" 2>&1 | grep -v -E 'dbus|Fontconfig|sandbox' >&2
[ -s "$out" ] || { echo "report-screenshot: chromium wrote no $out" >&2; exit 1; }
echo "$out"
