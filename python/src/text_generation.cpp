// python/src/text_generation.cpp — see text_generation.hpp.
#include "text_generation.hpp"

#include <chrono>

#include "attend/error.hpp"
#include "attend/generate/text_stream.hpp"

namespace attend::python {

void check_language_model(const TextModel& lm, const char* what) {
    const TransformerConfig& c = lm.loaded.config;
    if (c.shape != ModelShape::decoder || c.head != HeadType::lm)
        throw Error(lm.loaded.path + ": " + what + " needs a language model (a decoder with an lm head), this one is " +
                    name_of(c.shape) + " with a " + name_of(c.head) + " head");
}

void run_generation(const TextModel& lm, const GenerationRequest& r, const PieceSink& sink) {
    check_language_model(lm, "generate");
    ATTEND_CHECK(!r.prompts.empty(), "generate: no prompts given");
    ATTEND_CHECK(r.max_tokens >= 0, "generate: max_tokens must be >= 0, got ", r.max_tokens);
    ATTEND_CHECK(r.temperature >= 0 && r.temperature <= 1e6, "generate: temperature must be in [0, 1e6], got ",
                 r.temperature);
    ATTEND_CHECK(r.top_p > 0 && r.top_p <= 1, "generate: top_p must be in (0, 1], got ", r.top_p);
    ATTEND_CHECK(r.top_k >= 0, "generate: top_k must be >= 0, got ", r.top_k);
    ATTEND_CHECK(r.kv_cache == "f32" || r.kv_cache == "bf16", "generate: kv_cache must be \"f32\" or \"bf16\", got \"",
                 r.kv_cache, "\"");

    std::vector<std::vector<int64_t>> prompts;
    for (const std::string& p : r.prompts) prompts.push_back(lm.prompt_ids(p));

    GenerateOptions g;
    g.max_new_tokens = r.max_tokens;
    g.temperature = r.temperature;
    g.top_k = r.top_k;
    g.top_p = r.top_p;
    g.seed = r.seed ? *r.seed : uint64_t(std::chrono::system_clock::now().time_since_epoch().count());
    g.stop_tokens = lm.stop_tokens();
    g.vocab_limit = lm.vocab_limit();
    g.kv_cache = parse_weight_type(r.kv_cache);

    std::vector<TextStream> texts;
    texts.reserve(prompts.size());
    std::vector<bool> cancelled(prompts.size(), false);
    for (size_t b = 0; b < prompts.size(); ++b) {
        texts.emplace_back(*lm.tokenizer, r.stop, /*skip_special=*/true);
        const std::string primed = texts.back().prime(prompts[b]);  // the stream needs the prompt either way
        if (r.echo && !primed.empty()) cancelled[b] = sink(int64_t(b), primed);
    }
    generate(
        lm.model(), prompts, g,
        [&](int64_t b, int64_t token) {
            const std::string piece = texts[size_t(b)].push(token);
            if (sink(b, piece)) cancelled[size_t(b)] = true;
        },
        [&](int64_t b) { return texts[size_t(b)].stopped() || cancelled[size_t(b)]; });
    for (size_t b = 0; b < prompts.size(); ++b) {
        const std::string rest = texts[b].finish();
        if (!rest.empty()) sink(int64_t(b), rest);
    }
}

}  // namespace attend::python
