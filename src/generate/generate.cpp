// generate/generate.cpp — the KV-cache decoding loop (see generate/generate.hpp).
//
//   prompts (lengths 7, 4, 2)        step 0: Tq = 7, n_new = (7, 4, 2)  → logits at rows 6, 3, 1
//   then while any sequence runs     step s: Tq = 1, n_new = (1 | 0 per sequence) → row 0
//   (a sequence whose context is full slides: its cache is emptied and it is fed its last
//   context/2 tokens, so Tq is that window for the step)
//
// The cache holds max_b(len_b) + max_new_tokens positions (at most max_positions): enough
// for the longest sequence, and nothing the model could not place.
#include "attend/generate/generate.hpp"

#include <algorithm>
#include <span>

#include "attend/autograd.hpp"
#include "attend/buffer_reuse.hpp"
#include "attend/error.hpp"
#include "attend/profile.hpp"

namespace attend {

namespace {

// The last n tokens of `prompt` followed by `generated`: the window a sequence slides to.
std::vector<int64_t> last_tokens(const std::vector<int64_t>& prompt, const std::vector<int64_t>& generated,
                                 int64_t n) {
    const int64_t P = int64_t(prompt.size()), total = P + int64_t(generated.size());
    std::vector<int64_t> out;
    for (int64_t i = total - std::min(n, total); i < total; ++i)
        out.push_back(i < P ? prompt[size_t(i)] : generated[size_t(i - P)]);
    return out;
}

}  // namespace

std::vector<Generation> generate(const Transformer& model, const std::vector<std::vector<int64_t>>& prompts,
                                 const GenerateOptions& options, const TokenCallback& on_token,
                                 const StopCallback& stop_after) {
    const TransformerConfig& config = model.config();
    ATTEND_CHECK(config.shape == ModelShape::decoder && config.head == HeadType::lm,
                 "generate needs a decoder-only model with an lm head, this one is ", name_of(config.shape), " with a ",
                 name_of(config.head), " head");
    ATTEND_CHECK(!prompts.empty(), "generate needs at least one prompt");
    ATTEND_CHECK(options.max_new_tokens >= 0, "max_new_tokens must be ≥ 0, got ", options.max_new_tokens);
    const SamplingOptions sampling = options.sampling();
    sampling.validate();

    const int64_t B = int64_t(prompts.size()), V = config.vocab_size, context = config.max_positions;
    int64_t longest = 0;
    for (int64_t b = 0; b < B; ++b) {
        const auto& p = prompts[size_t(b)];
        ATTEND_CHECK(!p.empty(), "prompt ", b, " is empty (give at least one token, e.g. BOS)");
        ATTEND_CHECK(context <= 0 || int64_t(p.size()) <= context, "prompt ", b, " has ", p.size(),
                     " tokens, more than the model's context of ", context, " positions");
        for (int64_t id : p)
            ATTEND_CHECK(id >= 0 && id < V, "prompt ", b, " holds token ", id, ", outside the vocabulary of ", V);
        longest = std::max(longest, int64_t(p.size()));
    }
    ATTEND_CHECK(options.vocab_limit >= 0 && options.vocab_limit <= V, "vocab_limit ", options.vocab_limit,
                 " is outside [0, ", V, "] (0: the whole vocabulary)");
    const int64_t drawable = options.vocab_limit > 0 ? options.vocab_limit : V;
    for (int64_t id : options.stop_tokens)
        ATTEND_CHECK(id >= 0 && id < V, "stop token ", id, " is outside the vocabulary of ", V);

    std::vector<Generation> out(static_cast<size_t>(B));
    if (options.max_new_tokens == 0) return out;

    NoGradGuard no_grad;
    BufferReuse reuse;  // a step's tensors take the buffers the last step's freed
    ForwardMode mode;
    mode.attention_path = options.attention_path;
    const int64_t capacity =
        context > 0 ? std::min(context, longest + options.max_new_tokens) : longest + options.max_new_tokens;
    KVCache cache = model.make_cache(B, capacity, options.kv_cache);
    std::vector<SequenceDecoder> seqs;
    for (int64_t b = 0; b < B; ++b)
        seqs.emplace_back(sampling, options.seed + uint64_t(b), options.stop_tokens, options.max_new_tokens, drawable);
    std::vector<bool> running(size_t(B), true);
    const auto close = [&](int64_t b) {
        const SequenceDecoder& s = seqs[size_t(b)];
        out[size_t(b)] = {s.tokens(), s.finish(), s.stop_token()};
        running[size_t(b)] = false;
    };

    // Each step feeds every sequence's new tokens right-padded (the padding id 0 is never
    // stored in the cache); a sequence's next-token logits are those of its last fed row, the
    // only row the step's head computes (StepLogits::last).
    TokenBatch step = right_padded(prompts);  // step 0: the prompts
    const int64_t window = std::max<int64_t>(1, capacity / 2);
    // Each running sequence's next input: its new token, or (context full, sliding) its last
    // `window` tokens after emptying its cache. Kept across steps, as `step`, so that a step
    // allocates nothing for them.
    std::vector<std::vector<int64_t>> feed(static_cast<size_t>(B));

    for (bool first = true;; first = false) {
        const Tensor logits = [&] {
            const PhaseScope phase(first ? "prefill" : "decode");  // the prompts, then one token a step
            return model.forward_step(step, cache, mode, StepLogits::last).contiguous();  // (B, 1, V)
        }();
        const float* z = logits.data();

        for (std::vector<int64_t>& f : feed) f.clear();
        for (int64_t b = 0; b < B; ++b) {
            if (!running[size_t(b)]) continue;
            SequenceDecoder& seq = seqs[size_t(b)];
            const SequenceDecoder::Step drawn = seq.next(z + b * V);
            if (drawn.kept) {
                if (on_token) on_token(b, drawn.token);
                if (stop_after && stop_after(b)) seq.finish_with(FinishReason::stop_string);
            }
            if (seq.finished()) {
                close(b);
            } else if (cache.lengths()[size_t(b)] + 1 <= capacity) {
                feed[size_t(b)].assign(1, drawn.token);
            } else if (options.slide_window) {
                feed[size_t(b)] = last_tokens(prompts[size_t(b)], seq.tokens(), window);
                cache.reset(b);
            } else {
                // The new token has no room to be fed back: the context is full.
                seq.finish_with(FinishReason::context_full);
                close(b);
            }
        }
        if (std::all_of(feed.begin(), feed.end(), [](const auto& f) { return f.empty(); })) break;

        // A finished sequence's slot is emptied: its idle row then sits at position 0 with no
        // keys to see (a fully masked row, defined as zeros) instead of past the context.
        for (int64_t b = 0; b < B; ++b)
            if (!running[size_t(b)] && cache.lengths()[size_t(b)] > 0) cache.reset(b);
        right_padded(feed, step);
    }
    return out;
}

}  // namespace attend
