// tokenizers/utf8_stream.cpp — whole characters out of a byte stream (see
// attend/tokenizers/utf8_stream.hpp). Which bytes make a character is unicode::utf8_lead's table.
#include "attend/tokenizers/utf8_stream.hpp"

#include "tokenizers/unicode.hpp"

namespace attend {
namespace {

const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Decode `in` into `out`. Returns where an incomplete (but so far valid) character starts,
// or in.size() when everything was consumed.
size_t decode(const std::string& in, std::string& out) {
    size_t i = 0;
    while (i < in.size()) {
        const unicode::Utf8Lead lead = unicode::utf8_lead(uint8_t(in[i]));
        if (lead.length == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        size_t j = 1;
        for (; j < lead.length && i + j < in.size(); ++j) {
            const uint8_t c = uint8_t(in[i + j]);
            const uint8_t lo = j == 1 ? lead.second_lo : 0x80, hi = j == 1 ? lead.second_hi : 0xBF;
            if (c < lo || c > hi) break;
        }
        if (j == lead.length) {
            out.append(in, i, j);
            i += j;
        } else if (i + j == in.size()) {
            return i;  // a valid prefix, cut by the end of the bytes so far
        } else {
            out += kReplacement;  // the maximal subpart i .. i+j-1 is one replacement
            i += j;
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
