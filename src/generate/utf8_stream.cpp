// generate/utf8_stream.cpp — whole characters out of a byte stream (see generate/utf8_stream.hpp).
//
// Well-formed UTF-8 (Unicode §3.9, table 3-7), by lead byte:
//   00..7F                    1 byte
//   C2..DF  80..BF            2 bytes
//   E0      A0..BF  80..BF    3 bytes (A0: no overlong forms)
//   E1..EC  80..BF  80..BF
//   ED      80..9F  80..BF    (9F: no surrogates D800..DFFF)
//   EE..EF  80..BF  80..BF
//   F0      90..BF  80..BF  80..BF    4 bytes (90: no overlong forms)
//   F1..F3  80..BF  80..BF  80..BF
//   F4      80..8F  80..BF  80..BF    (8F: nothing past U+10FFFF)
// Anything else (80..C1, F5..FF as a lead) is invalid on its own.
#include "attend/generate/utf8_stream.hpp"

namespace attend {
namespace {

const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

struct Lead {
    int length;                // total bytes, 0: invalid lead
    unsigned char lo, hi;      // the range of the second byte
};

Lead lead_of(unsigned char b) {
    if (b < 0x80) return {1, 0, 0};
    if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

// Decode `in` into `out`. Returns where an incomplete (but so far valid) character starts,
// or in.size() when everything was consumed.
size_t decode(const std::string& in, std::string& out) {
    size_t i = 0;
    while (i < in.size()) {
        const Lead lead = lead_of((unsigned char)in[i]);
        if (lead.length == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        int j = 1;
        for (; j < lead.length && i + j < in.size(); ++j) {
            const unsigned char c = (unsigned char)in[i + j];
            const unsigned char lo = j == 1 ? lead.lo : 0x80, hi = j == 1 ? lead.hi : 0xBF;
            if (c < lo || c > hi) break;
        }
        if (j == lead.length) {
            out.append(in, i, size_t(j));
            i += size_t(j);
        } else if (i + j == in.size()) {
            return i;  // a valid prefix, cut by the end of the bytes so far
        } else {
            out += kReplacement;  // the maximal subpart i .. i+j-1 is one replacement
            i += size_t(j);
        }
    }
    return i;
}

}  // namespace

std::string Utf8StreamDecoder::push(const std::string& bytes) {
    pending_ += bytes;
    std::string out;
    const size_t done = decode(pending_, out);
    pending_.erase(0, done);
    return out;
}

std::string Utf8StreamDecoder::finish() {
    std::string out = pending_.empty() ? "" : kReplacement;  // an incomplete tail is one maximal subpart
    pending_.clear();
    return out;
}

std::string utf8_sanitize(const std::string& bytes) {
    Utf8StreamDecoder decoder;
    std::string out = decoder.push(bytes);
    return out + decoder.finish();
}

}  // namespace attend
