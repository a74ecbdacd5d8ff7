// Encoder–decoder decoding allocates nothing per step: once greedy_decode or beam_search is
// past its first steps, a step — the decoder over its self- and cross-attention caches,
// log-softmax, the choice of tokens, the beams' bookkeeping and the cache's reordering — takes
// no heap memory. Every malloc of the process is counted (memory/counting_allocator.hpp)
// between the steps' on_step calls, EOS suppressed so that every step runs.
// transformer_base's layout (post-norm, ReLU, sinusoidal positions, cross-attention) at a
// small width; f32, bf16 and int8 weights, one and two sources (of different lengths), one
// and two threads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attend/generate/beam_search.hpp"
#include "attend/low_precision.hpp"
#include "attend/models/config.hpp"
#include "attend/models/transformer.hpp"
#include "attend/parallel.hpp"
#include "memory/counting_allocator.hpp"

namespace {

using namespace attend;

TransformerConfig seq2seq_shaped() {
    TransformerConfig c = transformer_base();
    c.vocab_size = 96, c.d_model = 64, c.n_heads = 4, c.d_ff = 128, c.n_layers = 2;
    c.max_positions = 64;
    c.dropout = c.attention_dropout = 0.f;
    return c;
}

constexpr int64_t kSteps = 20;
constexpr int64_t kWarmSteps = 3;  // the first steps may allocate (the buffer pool fills)

// Heap allocations of the whole process from the end of step kWarmSteps − 1 to the end of the
// second-to-last step.
template <class Options, class Decode>
int64_t step_allocations(Options o, const Decode& decode) {
    o.suppress = {o.eos};  // every hypothesis runs to max_length
    o.max_length = kSteps;
    std::vector<int64_t> marks;
    marks.reserve(size_t(kSteps));  // the probe itself must not allocate
    o.on_step = [&](int64_t) { marks.push_back(counted_heap::allocations()); };
    decode(o);
    EXPECT_EQ(int64_t(marks.size()), kSteps);
    if (int64_t(marks.size()) != kSteps) return -1;
    return marks[size_t(kSteps - 2)] - marks[size_t(kWarmSteps - 1)];
}

TEST(Seq2SeqDecodeAllocations, NoStepAllocatesOnceWarm) {
    const std::vector<std::vector<int64_t>> one = {{5, 9, 3, 7}};
    const std::vector<std::vector<int64_t>> two = {{5, 9, 3, 7, 11, 4}, {8, 6}};
    for (const WeightType weights : {WeightType::f32, WeightType::bf16, WeightType::int8}) {
        Transformer model(seq2seq_shaped(), uint64_t(7));
        if (weights != WeightType::f32) model.convert_weights(weights);
        for (const auto* sources : {&one, &two})
            for (const int threads : {1, 2}) {
                set_num_threads(threads);
                SCOPED_TRACE("weights " + std::string(name_of(weights)) + " sources " +
                             std::to_string(sources->size()) + " threads " + std::to_string(threads));
                EXPECT_EQ(step_allocations(Seq2SeqDecodeOptions{},
                                           [&](const Seq2SeqDecodeOptions& o) { greedy_decode(model, *sources, o); }),
                          0)
                    << "greedy";
                BeamSearchOptions beam;
                beam.beam_width = 3, beam.n_best = 2;
                EXPECT_EQ(step_allocations(beam, [&](const BeamSearchOptions& o) { beam_search(model, *sources, o); }), 0)
                    << "beam";
            }
    }
    set_num_threads(0);
}

}  // namespace
