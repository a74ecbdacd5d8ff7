// generate/text_stream.hpp — the text of a generated sequence as it streams, cut at stop
// strings. Shared by `attend generate --stop` and the server's completions, so both emit the
// same bytes.
//
//   prime(prompt ids)  the prompt goes through the tokenizer's DecodeStream first (a
//                      SentencePiece tokenizer drops the leading space of the first word
//                      only), and its text is returned (the CLI prints it, the server not)
//   push(id)           the new final text, in whole UTF-8 characters, minus any tail that
//                      could still begin a stop string (held back until the next piece tells)
//   finish()           what was held back, once no stop string matched
//
// A stop string is matched anywhere in the generated text, across token boundaries; the text
// from its first byte on is never emitted, and stopped() turns true (the caller then ends the
// sequence: FinishReason::stop_string). Matching starts after the prompt.
//
// Implemented in src/generate/text_stream.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attend/tokenizers/tokenizer.hpp"

namespace attend {

// Text in, text out: holds back a tail that could be the start of a stop string.
class StopStringFilter {
public:
    explicit StopStringFilter(std::vector<std::string> stops);  // empty strings are ignored
    std::string push(const std::string& piece);
    std::string finish();  // the held tail ("" after a stop)
    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    std::string held_;
    bool stopped_ = false;
};

class TextStream {
public:
    TextStream(const Tokenizer& tokenizer, std::vector<std::string> stops, bool skip_special = true);
    std::string prime(const std::vector<int64_t>& prompt);
    std::string push(int64_t id);
    std::string finish();
    bool stopped() const { return filter_.stopped(); }

private:
    DecodeStream decode_;
    StopStringFilter filter_;
};

}  // namespace attend
