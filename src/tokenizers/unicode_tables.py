#!/usr/bin/python3
"""Writes src/tokenizers/unicode_tables.inc: the Unicode data the tokenizers need, taken from
Python's unicodedata (Unicode 14.0.0 in Debian 12's Python 3.11), so the library needs no ICU.

    /usr/bin/python3 src/tokenizers/unicode_tables.py > src/tokenizers/unicode_tables.inc

Three tables, each searched by binary search in unicode.cpp:
  kClassRuns      (first code point << 4) | class, one entry where the class changes. The classes
                  are the general categories folded to what the tokenizers ask: letter (\\p{L}),
                  number (\\p{N}), punctuation (\\p{P}), nonspacing mark (Mn, what accent stripping
                  drops), control (Cc), format (Cf), other marks, symbols, separators, and
                  unassigned/private/surrogate.
  kLowerRuns      {first, last, delta, stride}: code points first, first+stride, ..., last lower-case
                  to cp + delta (Python's str.lower() per character; U+0130 İ, the one code point
                  whose lower case is two, is handled in code).
  kDecomp*        canonical decompositions (NFD of one code point, fully applied), Hangul syllables
                  excepted: they are decomposed arithmetically in code.
  kCompat*        compatibility decompositions (NFKD of one code point) where they differ from NFD.
  kCombiningRuns  (first code point << 8) | canonical combining class, one entry where it changes:
                  canonical reordering sorts runs of marks by it.
  kCompose        (first << 21 | second, composite): the pairs canonical composition (NFC, NFKC)
                  joins, Hangul excepted (arithmetic in code), composition exclusions left out.
"""
import sys
import unicodedata

CLASSES = ["Unassigned", "Control", "Format", "Letter", "NonspacingMark", "OtherMark",
           "Number", "Punctuation", "Symbol", "Separator"]


def klass(cp):
    cat = unicodedata.category(chr(cp))
    if cat == "Cc": return 1
    if cat == "Cf": return 2
    if cat[0] == "L": return 3
    if cat == "Mn": return 4
    if cat[0] == "M": return 5
    if cat[0] == "N": return 6
    if cat[0] == "P": return 7
    if cat[0] == "S": return 8
    if cat[0] == "Z": return 9
    return 0  # Cn, Co, Cs


def class_runs():
    runs, prev = [], None
    for cp in range(0x110000):
        k = klass(cp)
        if k != prev:
            runs.append((cp << 4) | k)
            prev = k
    return runs


def lower_runs():
    runs = []  # [first, last, delta, stride]
    for cp in range(0x110000):
        if cp == 0x130:
            continue  # İ → "i̇": two code points, handled in code
        low = chr(cp).lower()
        if low == chr(cp):
            continue
        assert len(low) == 1, hex(cp)
        delta = ord(low) - cp
        if runs:
            first, last, d, stride = runs[-1]
            gap = cp - last
            if d == delta and gap in (1, 2) and (stride == 0 or stride == gap):
                runs[-1] = [first, cp, d, gap]
                continue
        runs.append([cp, cp, delta, 0])
    runs = [[f, l, d, s or 1] for f, l, d, s in runs]
    for a, b in zip(runs, runs[1:]):  # the lookup takes the last run starting at or before cp
        assert a[1] < b[0], (a, b)
    return runs


def decompositions():
    table = []
    for cp in range(0x110000):
        if 0xAC00 <= cp <= 0xD7A3:
            continue
        nfd = unicodedata.normalize("NFD", chr(cp))
        if nfd != chr(cp):
            table.append((cp, [ord(c) for c in nfd]))
    return table


def compat_decompositions():
    table = []
    for cp in range(0x110000):
        if 0xAC00 <= cp <= 0xD7A3:
            continue
        nfkd = unicodedata.normalize("NFKD", chr(cp))
        if nfkd != unicodedata.normalize("NFD", chr(cp)):
            table.append((cp, [ord(c) for c in nfkd]))
    return table


def combining_runs():
    runs, prev = [], None
    for cp in range(0x110000):
        k = unicodedata.combining(chr(cp))
        if k != prev:
            runs.append((cp << 8) | k)
            prev = k
    return runs


def compositions():
    # A primary composite: a two-code-point canonical mapping that NFC joins back (the
    # composition exclusions and singletons do not).
    pairs = []
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(cp):
            pairs.append(((parts[0] << 21) | parts[1], cp))
    pairs.sort()
    return pairs


def emit_table(out, name, table):
    keys, offsets, data = [], [], []
    for cp, seq in table:
        keys.append(cp)
        offsets.append(len(data))
        data.extend(seq)
    offsets.append(len(data))
    out.write(f"static constexpr uint32_t k{name}Keys[{len(keys)}] = {{\n")
    emit_numbers(out, keys, 10, lambda v: f"0x{v:05X}")
    out.write("};\n\n")
    out.write(f"// decomposition of k{name}Keys[i] = k{name}Data[k{name}Offsets[i] .. k{name}Offsets[i + 1])\n")
    out.write(f"static constexpr uint16_t k{name}Offsets[{len(offsets)}] = {{\n")
    emit_numbers(out, offsets, 14, lambda v: f"{v}")
    out.write("};\n\n")
    out.write(f"static constexpr uint32_t k{name}Data[{len(data)}] = {{\n")
    emit_numbers(out, data, 10, lambda v: f"0x{v:05X}")
    out.write("};\n\n")


def emit_numbers(out, values, per_line, fmt):
    for i in range(0, len(values), per_line):
        out.write("    " + " ".join(fmt(v) + "," for v in values[i:i + per_line]) + "\n")


def main():
    out = sys.stdout
    out.write("// unicode_tables.inc — GENERATED by src/tokenizers/unicode_tables.py from Python's unicodedata\n")
    out.write(f"// (Unicode {unicodedata.unidata_version}). Do not edit; regenerate. Included by unicode.cpp only.\n\n")
    out.write(f"static constexpr char kUnicodeVersion[] = \"{unicodedata.unidata_version}\";\n\n")
    out.write("// Class numbers: " + ", ".join(f"{i} {n}" for i, n in enumerate(CLASSES)) + "\n")
    runs = class_runs()
    out.write(f"static constexpr uint32_t kClassRuns[{len(runs)}] = {{\n")
    emit_numbers(out, runs, 8, lambda v: f"0x{v:08X}")
    out.write("};\n\n")
    lows = lower_runs()
    out.write(f"static constexpr int32_t kLowerRuns[{len(lows)}][4] = {{  // first, last, delta, stride\n")
    for f, l, d, s in lows:
        out.write(f"    {{0x{f:05X}, 0x{l:05X}, {d}, {s}}},\n")
    out.write("};\n\n")
    emit_table(out, "Decomp", decompositions())
    emit_table(out, "Compat", compat_decompositions())
    ccc = combining_runs()
    out.write(f"static constexpr uint32_t kCombiningRuns[{len(ccc)}] = {{\n")
    emit_numbers(out, ccc, 8, lambda v: f"0x{v:08X}")
    out.write("};\n\n")
    comp = compositions()
    out.write(f"static constexpr uint64_t kCompose[{len(comp)}][2] = {{  // (first << 21 | second), composite\n")
    for k, c in comp:
        out.write(f"    {{0x{k:011X}, 0x{c:05X}}},\n")
    out.write("};\n")


if __name__ == "__main__":
    main()
