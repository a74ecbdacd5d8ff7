// generate/text_stream.cpp — streamed text cut at stop strings (generate/text_stream.hpp).
#include "attend/generate/text_stream.hpp"

#include <algorithm>

namespace attend {

StopStringFilter::StopStringFilter(std::vector<std::string> stops) {
    for (auto& s : stops)
        if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopStringFilter::push(const std::string& piece) {
    if (stopped_) return {};
    held_ += piece;
    // The earliest complete match ends the text there.
    size_t first = std::string::npos;
    for (const auto& s : stops_) first = std::min(first, held_.find(s));
    if (first != std::string::npos) {
        std::string out = held_.substr(0, first);
        held_.clear();
        stopped_ = true;
        return out;
    }
    // No match yet: keep the longest tail that is a proper prefix of some stop string (all
    // earlier bytes can no longer start a match, since a match would have been found above).
    size_t keep = 0;
    for (const auto& s : stops_)
        for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n)
            if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
                keep = n;
                break;
            }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopStringFilter::finish() {
    std::string out;
    if (!stopped_) out.swap(held_);
    held_.clear();
    return out;
}

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::string> stops, bool skip_special)
    : decode_(tokenizer, skip_special), filter_(std::move(stops)) {}

std::string TextStream::prime(const std::vector<int64_t>& prompt) {
    std::string out;
    for (int64_t id : prompt) out += decode_.push(id);
    return out;
}

std::string TextStream::push(int64_t id) { return filter_.push(decode_.push(id)); }

std::string TextStream::finish() { return filter_.push(decode_.finish()) + filter_.finish(); }

}  // namespace attend
