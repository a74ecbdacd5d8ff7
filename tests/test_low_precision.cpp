// Low-precision weights (attend/low_precision.hpp) from the format to the file:
//
//   LowPrecision   to_bf16's rounding, int8's error bound with a ragged last block, widening rows,
//                  quantizing into given memory, strided views, a converted model's matrices in one block
//   LowPrecisionModels  bf16 logits against fp32 on real checkpoints and a preset (full forward
//                  and KV-cache steps), int8 perplexity against fp32 (stories260K; a char model
//                  trained here on tinyshakespeare)
//   LowPrecisionIo checkpoints written in bf16 / int8 load back bit for bit and smaller; a bf16
//                  Hugging Face folder stays bf16; broken files are one-line errors naming the file
//   LowPrecisionErrors  training through a converted weight, data() on one, converting twice
//
// The shared data folder is required: a missing file fails, it never skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attend/autograd.hpp"
#include "attend/generate/perplexity.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/low_precision.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"
#include "attend/train/trainer.hpp"
#include "io/mapped_file.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::error_of;
using attend::testing::shared_data;
using attend::testing::TempDir;
namespace fs = std::filesystem;

namespace {

uint32_t bits_of(float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
}
float float_of(uint32_t b) {
    float x;
    std::memcpy(&x, &b, 4);
    return x;
}

Tensor random_matrix(int64_t rows, int64_t cols, Generator& gen, float scale = 1.f) {
    return Tensor::randn({rows, cols}, gen, scale);
}

// max |a − ref| / max |ref|: the gap relative to the logits' scale.
double relative_gap(const Tensor& a, const Tensor& ref) {
    const auto va = a.to_vector(), vr = ref.to_vector();
    EXPECT_EQ(va.size(), vr.size());
    double gap = 0, scale = 0;
    for (size_t i = 0; i < va.size(); ++i) {
        gap = std::max(gap, std::abs(double(va[i]) - double(vr[i])));
        scale = std::max(scale, std::abs(double(vr[i])));
    }
    return gap / std::max(scale, 1e-30);
}

Tensor* parameter(Transformer& model, const std::string& name) {
    for (auto& [n, p] : model.parameters())
        if (n == name) return p;
    ADD_FAILURE() << "no parameter " << name;
    static Tensor none;
    return &none;
}

// Whether `p` lies in a mapping of `file` (/proc/self/maps): read in place, not copied.
bool in_mapping_of(const void* p, const std::string& file) {
    std::ifstream maps("/proc/self/maps");
    const std::string canonical = fs::canonical(file).string();
    for (std::string line; std::getline(maps, line);) {
        if (line.size() < canonical.size() || line.compare(line.size() - canonical.size(), canonical.size(), canonical))
            continue;
        const uintptr_t lo = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
        const uintptr_t hi = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
        if (reinterpret_cast<uintptr_t>(p) >= lo && reinterpret_cast<uintptr_t>(p) < hi) return true;
    }
    return false;
}

TokenBatch row(const std::vector<int64_t>& ids) { return {.ids = ids, .shape = {1, int64_t(ids.size())}, .lengths = {}, .token_types = {}}; }

std::vector<int64_t> some_ids(int64_t n, int64_t vocab, uint64_t seed) {
    Generator gen(seed);
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < n; ++i) ids.push_back(std::min<int64_t>(vocab - 1, int64_t(gen.uniform(0.f, float(vocab)))));
    return ids;
}

// fp32 and bf16 logits: a full forward over `ids`, then `steps` greedy KV-cache steps (the
// fp32 model picks the tokens, both models are fed the same ones), each within 1e-2.
void expect_bf16_close(const Transformer& f32, const Transformer& bf16, const std::vector<int64_t>& ids,
                       int steps, const std::string& what) {
    NoGradGuard no_grad;
    EXPECT_LT(relative_gap(bf16.forward(row(ids)), f32.forward(row(ids))), 1e-2) << what << ": full forward";
    KVCache c32 = f32.make_cache(1), c16 = bf16.make_cache(1);
    TokenBatch step = row(ids);
    for (int s = 0; s < steps; ++s) {
        const Tensor l32 = f32.forward_step(step, c32, {}, StepLogits::last);
        const Tensor l16 = bf16.forward_step(step, c16, {}, StepLogits::last);
        EXPECT_LT(relative_gap(l16, l32), 1e-2) << what << ": KV-cache step " << s;
        const auto v = l32.to_vector();
        const int64_t V = l32.size(-1);
        const int64_t next = std::max_element(v.end() - V, v.end()) - (v.end() - V);
        step = row({next});
    }
}

}  // namespace

// ---- the formats ------------------------------------------------------------------------

TEST(LowPrecision, Bf16RoundsToNearestEvenAndKeepsNaNAndInf) {
    EXPECT_EQ(to_bf16(1.f), 0x3F80);
    EXPECT_EQ(to_bf16(float_of(0x3F808000u)), 0x3F80);  // a tie: down to the even 0x3F80
    EXPECT_EQ(to_bf16(float_of(0x3F818000u)), 0x3F82);  // a tie: up to the even 0x3F82
    EXPECT_EQ(to_bf16(float_of(0x3F808001u)), 0x3F81);  // past the tie: up
    EXPECT_EQ(to_bf16(float_of(0x3F807FFFu)), 0x3F80);  // short of it: down
    EXPECT_EQ(to_bf16(-2.5f), 0xC020);
    EXPECT_EQ(to_bf16(INFINITY), 0x7F80);
    EXPECT_EQ(to_bf16(-INFINITY), 0xFF80);
    EXPECT_EQ(to_bf16(float_of(0x7F7FFFFFu)), 0x7F80);  // FLT_MAX rounds to inf, as nearest-even says
    for (uint32_t nan : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu})
        EXPECT_TRUE(std::isnan(from_bf16(to_bf16(float_of(nan))))) << std::hex << nan;
    for (float x : {0.f, -0.f, 1.f, 3.140625f, -1e-38f}) EXPECT_EQ(bits_of(from_bf16(to_bf16(from_bf16(to_bf16(x))))), bits_of(from_bf16(to_bf16(x))));
}

TEST(LowPrecision, Int8ErrorIsAtMostHalfAScaleWithARaggedLastBlock) {
    Generator gen(3);
    for (int64_t cols : {172, 70, 32, 5}) {  // 172: stories260K's hidden width, 5 blocks and 12 columns
        const Tensor w = random_matrix(7, cols, gen);
        const auto m = LowPrecisionMatrix::quantize(w, WeightType::int8);
        ASSERT_EQ(m->blocks_per_row(), (cols + 31) / 32);
        EXPECT_EQ(m->bytes(), 7 * cols + 4 * 7 * m->blocks_per_row());
        const auto wv = w.to_vector();
        const auto dq = m->dequantize().to_vector();
        for (int64_t r = 0; r < 7; ++r)
            for (int64_t c = 0; c < cols; ++c) {
                const int64_t blk = c / 32;
                float amax = 0;
                for (int64_t k = blk * 32; k < std::min(cols, blk * 32 + 32); ++k) amax = std::max(amax, std::abs(wv[size_t(r * cols + k)]));
                const float s = m->scales()[r * m->blocks_per_row() + blk];
                EXPECT_FLOAT_EQ(s, amax / 127.f);
                EXPECT_LE(std::abs(dq[size_t(r * cols + c)] - wv[size_t(r * cols + c)]), s / 2 * (1 + 1e-5f))
                    << "cols " << cols << " at (" << r << ", " << c << ")";
            }
        // Rows [2, 5) widened alone are the same rows of the whole.
        std::vector<float> part(size_t(3 * cols));
        m->dequantize_rows(2, 5, part.data());
        EXPECT_TRUE(std::equal(part.begin(), part.end(), dq.begin() + 2 * cols));
    }
    // Values are rounded to the nearest, ties to even, as std::nearbyint: with amax 127 the
    // scale is 1 and x · 127/amax = x exactly.
    const Tensor ties = Tensor::from_vector({1, 8}, {127.f, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, -0.5f, 1.49999988f});
    const auto t = LowPrecisionMatrix::quantize(ties, WeightType::int8);
    const std::vector<int8_t> expected{127, 2, 4, -2, -4, 0, 0, 1};
    EXPECT_EQ(std::vector<int8_t>(t->int8(), t->int8() + 8), expected);
    // An all-zero block has scale 0 and widens to zeros.
    const auto z = LowPrecisionMatrix::quantize(Tensor::zeros({2, 40}), WeightType::int8);
    for (float x : z->dequantize().to_vector()) EXPECT_EQ(x, 0.f);
}

// The decoding kernels load whole 64-byte lines of a row; a large std::vector starts 16 bytes
// past a page, which made every load straddle two lines (bf16 decode of GPT-2 small, one
// thread: 71–82 tok/s before the values were cache-line aligned, 113–127 after).
TEST(LowPrecision, ValuesItHoldsStartOnACacheLine) {
    Generator gen(8);
    const Tensor w = Tensor::randn({512, 768}, gen);  // 1.5 MB of f32: beyond malloc's mmap threshold
    const auto line = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 64; };
    EXPECT_EQ(line(LowPrecisionMatrix::quantize(w, WeightType::bf16)->bf16()), 0u);
    const auto q = LowPrecisionMatrix::quantize(w, WeightType::int8);
    EXPECT_EQ(line(q->int8()), 0u);
    EXPECT_EQ(line(q->scales()), 0u);
    const std::vector<uint16_t> values(size_t(512 * 768), 0x3f80);  // copied: no owner given
    EXPECT_EQ(line(LowPrecisionMatrix::adopt_bf16(512, 768, values.data(), nullptr)->bf16()), 0u);
}

// quantize() into given memory (the form Transformer::convert_weights uses) writes the same
// values and scales as into the matrix's own storage, in storage_bytes()' layout; it refuses
// memory off a cache line.
TEST(LowPrecision, QuantizedIntoMemoryMatchesItsOwnStorage) {
    Generator gen(9);
    for (int64_t cols : {45, 64, 5}) {
        const Tensor w = random_matrix(6, cols, gen);
        for (WeightType type : {WeightType::bf16, WeightType::int8}) {
            const auto own = LowPrecisionMatrix::quantize(w, type);
            const int64_t bytes = LowPrecisionMatrix::storage_bytes(6, cols, type);
            EXPECT_EQ(bytes % 64, 0);
            EXPECT_GE(bytes, own->bytes());
            const std::shared_ptr<void> block(std::aligned_alloc(64, size_t(bytes) + 64), std::free);
            std::memset(block.get(), 0x55, size_t(bytes) + 64);
            const auto into = LowPrecisionMatrix::quantize(w, type, block.get(), block);
            const char* base = static_cast<const char*>(block.get());
            EXPECT_EQ(static_cast<const unsigned char*>(block.get())[bytes], 0x55) << "wrote past storage_bytes";
            if (type == WeightType::bf16) {
                EXPECT_EQ(reinterpret_cast<const char*>(into->bf16()), base);
                EXPECT_EQ(std::memcmp(into->bf16(), own->bf16(), size_t(6 * cols) * 2), 0) << cols;
            } else {
                EXPECT_EQ(reinterpret_cast<const char*>(into->int8()), base);
                EXPECT_EQ(reinterpret_cast<uintptr_t>(into->scales()) % 64, 0u);
                EXPECT_EQ(std::memcmp(into->int8(), own->int8(), size_t(6 * cols)), 0) << cols;
                EXPECT_EQ(std::memcmp(into->scales(), own->scales(), size_t(6 * own->blocks_per_row()) * 4), 0) << cols;
            }
        }
    }
    const std::shared_ptr<void> block(std::aligned_alloc(64, 4096), std::free);
    EXPECT_MENTIONS(error_of([&] {
                        (void)LowPrecisionMatrix::quantize(random_matrix(2, 8, gen), WeightType::bf16,
                                                           static_cast<char*>(block.get()) + 4, block);
                    }),
                    "64-byte aligned");
}

// convert_weights puts a model's matrices one after another in one block (on huge pages where
// the system gives them: core/buffer_pool.hpp), rather than each in its own allocation.
TEST(LowPrecision, ConvertedModelMatricesShareOneBlock) {
    TransformerConfig c = preset("gpt2_small");
    c.n_layers = 2, c.vocab_size = 300, c.max_positions = 32, c.d_model = 64, c.n_heads = 4, c.d_ff = 128;
    for (WeightType type : {WeightType::bf16, WeightType::int8}) {
        Transformer model(c, 3);
        const int64_t converted = model.convert_weights(type);
        ASSERT_GT(converted, 4);
        std::vector<std::pair<uintptr_t, int64_t>> spans;  // (start, storage bytes)
        for (auto& [name, p] : model.parameters())
            if (const LowPrecisionMatrix* m = p->low_precision())
                spans.emplace_back(reinterpret_cast<uintptr_t>(type == WeightType::bf16 ? static_cast<const void*>(m->bf16())
                                                                                        : static_cast<const void*>(m->int8())),
                                   LowPrecisionMatrix::storage_bytes(m->rows(), m->cols(), type));
        ASSERT_EQ(int64_t(spans.size()), converted);
        std::sort(spans.begin(), spans.end());
        for (size_t i = 1; i < spans.size(); ++i)
            EXPECT_EQ(spans[i].first, spans[i - 1].first + uintptr_t(spans[i - 1].second)) << name_of(type) << " matrix " << i;
    }
}

TEST(LowPrecision, Bf16WidensRowsExactly) {
    Generator gen(4);
    const Tensor w = random_matrix(9, 33, gen);
    const auto m = LowPrecisionMatrix::quantize(w, WeightType::bf16);
    EXPECT_EQ(m->bytes(), 9 * 33 * 2);
    const auto wv = w.to_vector(), dq = m->dequantize().to_vector();
    for (size_t i = 0; i < wv.size(); ++i) EXPECT_EQ(bits_of(dq[i]), bits_of(from_bf16(to_bf16(wv[i]))));
    std::vector<float> part(33);
    m->dequantize_rows(8, 9, part.data());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), dq.begin() + 8 * 33));
}

// −128 is outside attend's int8 (the dot-product kernel negates weights): refused, naming it.
TEST(LowPrecision, Int8RefusesMinus128) {
    std::vector<int8_t> values(2 * 40, 5);
    const std::vector<float> scales(2 * 2, 0.5f);
    EXPECT_NO_THROW(LowPrecisionMatrix::adopt_int8(2, 40, values.data(), scales.data(), nullptr));
    values[57] = -128;
    try {
        LowPrecisionMatrix::adopt_int8(2, 40, values.data(), scales.data(), nullptr);
        ADD_FAILURE() << "−128 accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("int8 value 57 is −128"), std::string::npos) << e.what();
    }
}

// A matrix large enough to convert on every thread: a non-finite weight is a clear error
// naming the first row that holds one, never a terminate from inside the parallel loop.
TEST(LowPrecision, Int8RefusesNonFiniteWeightsAtAnyThreadCount) {
    Generator gen(5);
    Tensor w = random_matrix(64, 2048, gen);
    w.data()[40 * 2048 + 7] = NAN;
    w.data()[50 * 2048 + 9] = INFINITY;
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        const std::string message = error_of([&] { (void)LowPrecisionMatrix::quantize(w, WeightType::int8); });
        EXPECT_MENTIONS(message, "inf or NaN");
        EXPECT_MENTIONS(message, "(row 40)");
    }
    set_num_threads(0);
}

// A strided weight — GPT-2's Conv1D matrices are transposed views of the file, its q, k and v
// column blocks of c_attn — converts panel by panel without a contiguous copy of the whole
// (core/low_precision.cpp); the result is the conversion of that copy, bit for bit, with a
// ragged last panel, at one and two threads; a NaN is still reported at its row.
TEST(LowPrecision, StridedViewsConvertAsTheirContiguousCopies) {
    Generator gen(12);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        for (auto [rows, cols] : {std::pair<int64_t, int64_t>{100, 768}, {33, 45}, {7, 5}}) {
            const Tensor stored = random_matrix(cols, 3 * rows, gen);                     // (in, 3 · out), as c_attn
            const Tensor w = stored.slice(1, rows, 2 * rows).transpose(0, 1);           // the middle block: (out, in)
            ASSERT_FALSE(w.is_contiguous());
            const Tensor copy = w.contiguous();
            for (WeightType type : {WeightType::bf16, WeightType::int8}) {
                const auto strided = LowPrecisionMatrix::quantize(w, type);
                const auto dense = LowPrecisionMatrix::quantize(copy, type);
                if (type == WeightType::bf16) {
                    EXPECT_EQ(std::memcmp(strided->bf16(), dense->bf16(), size_t(rows * cols) * 2), 0)
                        << rows << " × " << cols << ", " << threads << " threads";
                } else {
                    EXPECT_EQ(std::memcmp(strided->int8(), dense->int8(), size_t(rows * cols)), 0)
                        << rows << " × " << cols << ", " << threads << " threads";
                    EXPECT_EQ(std::memcmp(strided->scales(), dense->scales(), size_t(rows * dense->blocks_per_row()) * 4), 0)
                        << rows << " × " << cols << ", " << threads << " threads";
                }
            }
        }
        Tensor stored = random_matrix(768, 100, gen);
        stored.data()[5 * 100 + 71] = NAN;  // in (5, 71): row 71 of the transposed view
        const std::string message =
            error_of([&] { (void)LowPrecisionMatrix::quantize(stored.transpose(0, 1), WeightType::int8); });
        EXPECT_MENTIONS(message, "(row 71)");
        // A matrix with a shape and no values is an Error before the threads start (thrown
        // inside the parallel loop it would end the program), contiguous or a view.
        const Tensor hollow = Tensor::shape_only({300, 768});
        for (const Tensor& w : {hollow, hollow.transpose(0, 1)})
            for (WeightType type : {WeightType::bf16, WeightType::int8})
                EXPECT_MENTIONS(error_of([&] { (void)LowPrecisionMatrix::quantize(w, type); }), "no values");
    }
    set_num_threads(0);
}

// ---- models -----------------------------------------------------------------------------

TEST(LowPrecisionModels, Bf16LogitsFollowFp32OnRealCheckpoints) {
    for (const char* name : {"stories260K/stories260K.bin", "gpt2_fake_hf"}) {
        const std::string path = shared_data(name);
        LoadedModel f32 = load_model(path), bf16 = load_model(path);
        EXPECT_GT(bf16.model.convert_weights(WeightType::bf16), 0);
        EXPECT_LT(bf16.model.weight_bytes(), f32.model.weight_bytes() * 0.55);
        expect_bf16_close(f32.model, bf16.model, some_ids(24, f32.config.vocab_size, 1), 6, name);
    }
}

TEST(LowPrecisionModels, Bf16LogitsFollowFp32OnPresetsWithRandomWeights) {
    for (const char* name : {"gpt2_small", "llama2_7b"}) {
        TransformerConfig c = preset(name);  // the family's structure, at a test's size
        c.n_layers = 2, c.vocab_size = 500, c.max_positions = 64;
        c.d_model = 128, c.n_heads = 4, c.n_kv_heads = c.n_kv_heads ? 2 : 0, c.d_ff = 200;
        Transformer f32(c, 11), bf16(c, 11);
        bf16.convert_weights(WeightType::bf16);
        expect_bf16_close(f32, bf16, some_ids(20, c.vocab_size, 2), 5, name);
    }
}

namespace {

// Perplexity of `text` (BOS first when the tokenizer has one) under `lm`.
double perplexity(const TextModel& lm, const std::string& text) {
    NoGradGuard no_grad;
    std::vector<int64_t> ids = lm.tokenizer->encode(text);
    if (lm.bos()) ids.insert(ids.begin(), *lm.bos());
    return perplexity_of(token_nll(lm.model(), ids));
}

std::string shakespeare(size_t from, size_t n) {
    const std::string all = attend::testing::read_file(shared_data("tinyshakespeare/input.txt"));
    EXPECT_GT(all.size(), from + n);
    return all.substr(from, n);
}

}  // namespace

TEST(LowPrecisionModels, Int8PerplexityWithinOnePercentOnStories260K) {
    const std::string path = shared_data("stories260K/stories260K.bin");
    const std::string text = shakespeare(0, 1500);
    const double f32 = perplexity(load_text_model(path), text);
    const double int8 = perplexity(load_text_model(path, "", WeightType::int8), text);
    std::printf("stories260K on tinyshakespeare: perplexity f32 %.4f, int8 %.4f\n", f32, int8);
    EXPECT_LT(std::abs(int8 - f32) / f32, 0.01);
}

TEST(LowPrecisionModels, Int8PerplexityWithinOnePercentOnACharModelTrainedHere) {
    const TempDir tmp;
    TrainOptions o;
    o.arch = TrainArch::gpt;
    o.data = tmp.write("train.txt", shakespeare(0, 20000));
    o.out = tmp.path("run");
    o.layers = 2, o.heads = 2, o.dim = 64, o.block_size = 32, o.batch_size = 8;
    o.steps = 80, o.warmup = 5, o.lr = 1e-2f, o.eval_every = 80, o.eval_batches = 1;
    o.threads = 1, o.quiet = true, o.seed = 5;
    const TrainResult r = train(o);
    EXPECT_LT(r.train_losses.back(), r.train_losses.front());  // it learned something
    const std::string held_out = shakespeare(30000, 1500);
    const double f32 = perplexity(load_text_model(o.out), held_out);
    const double int8 = perplexity(load_text_model(o.out, "", WeightType::int8), held_out);
    std::printf("char model on held-out tinyshakespeare: perplexity f32 %.4f, int8 %.4f\n", f32, int8);
    EXPECT_LT(f32, 40.0);  // better than guessing among the characters
    EXPECT_LT(std::abs(int8 - f32) / f32, 0.01);
}

// ---- checkpoints ------------------------------------------------------------------------

TEST(LowPrecisionIo, ConvertedCheckpointsLoadBitForBitAndSmaller) {
    const TempDir tmp;
    const std::string path = shared_data("stories260K/stories260K.bin");
    LoadedModel f32 = load_model(path);
    save_model(tmp.path("f32"), f32.model);
    const auto f32_bytes = fs::file_size(tmp.path("f32") + "/model.safetensors");
    const std::vector<int64_t> ids = some_ids(16, f32.config.vocab_size, 3);
    for (WeightType type : {WeightType::bf16, WeightType::int8}) {
        const std::string out = tmp.path(name_of(type));
        LoadedModel converted = load_model(path);
        converted.model.convert_weights(type);
        save_model(out, converted.model);
        LoadedModel back = load_model(out, LoadOptions{.mmap = true});
        EXPECT_EQ(back.format, ModelFormat::attend_checkpoint);
        for (auto& [name, p] : back.model.parameters()) {
            const bool lowp = Transformer::converts_to_low_precision(name, p->shape());
            ASSERT_EQ(p->low_precision() != nullptr, lowp) << name;
            if (lowp) {
                const LowPrecisionMatrix& m = *p->low_precision();
                EXPECT_EQ(m.type(), type) << name;
                EXPECT_FALSE(p->requires_grad()) << name;
                // Adopted from the mapped file, not copied.
                const std::string file = out + "/model.safetensors";
                if (type == WeightType::bf16) EXPECT_TRUE(in_mapping_of(m.bf16(), file)) << name;
                else EXPECT_TRUE(in_mapping_of(m.int8(), file) && in_mapping_of(m.scales(), file)) << name;
            }
        }
        NoGradGuard no_grad;
        const auto a = back.model.forward(row(ids)).to_vector(), b = converted.model.forward(row(ids)).to_vector();
        ASSERT_EQ(a.size(), b.size());
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << name_of(type) << ": logits differ";
        // Read into memory (the default) instead: the same bits, from outside the file's mapping.
        LoadedModel read = load_model(out);
        for (const auto& [name, p] : read.model.parameters()) {
            if (const LowPrecisionMatrix* m = p->low_precision()) {
                EXPECT_FALSE(in_mapping_of(type == WeightType::bf16 ? static_cast<const void*>(m->bf16())
                                                                    : static_cast<const void*>(m->int8()),
                                           out + "/model.safetensors"))
                    << name;
            }
        }
        const auto c = read.model.forward(row(ids)).to_vector();
        ASSERT_EQ(c.size(), b.size());
        EXPECT_EQ(std::memcmp(c.data(), b.data(), c.size() * 4), 0) << name_of(type) << ": logits of the read model differ";
        EXPECT_EQ(back.model.weight_bytes(), converted.model.weight_bytes());
        const double ratio = double(fs::file_size(out + "/model.safetensors")) / double(f32_bytes);
        std::printf("%s checkpoint: %.3f of the f32 one\n", name_of(type), ratio);
        if (type == WeightType::bf16) EXPECT_NEAR(ratio, 0.5, 0.05);
        else EXPECT_NEAR(ratio, 0.28, 0.04);
        // --dtype bf16 on a bf16 checkpoint converts nothing; int8 from bf16 would round twice.
        if (type == WeightType::bf16) {
            EXPECT_EQ(back.model.convert_weights(WeightType::bf16), 0);
            EXPECT_MENTIONS(error_of([&] { back.model.convert_weights(WeightType::int8); }), "already bf16");
        }
    }
}

TEST(LowPrecisionIo, Bf16HuggingFaceFolderStaysBf16) {
    const TempDir tmp;
    const std::string src = shared_data("gpt2_fake_hf");
    // The same folder with every matrix stored as BF16 (1-D tensors stay F32).
    fs::create_directories(tmp.path("hf"));
    fs::copy_file(src + "/config.json", tmp.path("hf/config.json"));
    std::map<std::string, Tensor> bf16;
    for (const auto& [name, t] : load_safetensors(src + "/model.safetensors"))
        bf16[name] = t.dim() == 2 ? low_precision_tensor(LowPrecisionMatrix::quantize(t, WeightType::bf16)) : t;
    save_safetensors(tmp.path("hf/model.safetensors"), bf16);
    // The writer wrote BF16: the default reader widens it (as before), to the rounded values.
    const auto widened = load_safetensors(tmp.path("hf/model.safetensors"));
    EXPECT_EQ(widened.at("transformer.wte.weight").low_precision(), nullptr);

    LoadedModel f32 = load_model(src), loaded = load_model(tmp.path("hf"));
    for (auto& [name, p] : loaded.model.parameters()) {
        const bool lowp = Transformer::converts_to_low_precision(name, p->shape());
        ASSERT_EQ(p->low_precision() != nullptr, lowp) << name;
        if (lowp) { EXPECT_EQ(p->low_precision()->type(), WeightType::bf16); }
    }
    // Conv1D matrices were widened, transposed and rounded back: the same bf16 values as
    // converting the fp32 model.
    LoadedModel converted = load_model(src);
    converted.model.convert_weights(WeightType::bf16);
    for (auto& [name, p] : loaded.model.parameters())
        if (p->low_precision()) {
            const LowPrecisionMatrix* other = parameter(converted.model, name)->low_precision();
            ASSERT_NE(other, nullptr) << name;
            const auto x = p->low_precision()->dequantize().to_vector(), y = other->dequantize().to_vector();
            EXPECT_EQ(x, y) << name;
        }
    expect_bf16_close(f32.model, loaded.model, some_ids(20, f32.config.vocab_size, 4), 4, "bf16 HF folder");
}

TEST(LowPrecisionIo, SafetensorsKeepsBf16AndInt8OnlyWhenAsked) {
    const TempDir tmp;
    Generator gen(6);
    const auto b = LowPrecisionMatrix::quantize(random_matrix(3, 5, gen), WeightType::bf16);
    const auto q = LowPrecisionMatrix::quantize(random_matrix(4, 40, gen), WeightType::int8);
    const Tensor scales = Tensor::from_vector({4, 2}, std::vector<float>(q->scales(), q->scales() + 8));
    const Tensor odd = Tensor::ones({3});  // F32 after a's 30 bytes: the writer pads it to 4-byte alignment
    const std::string path = tmp.path("t.safetensors");
    save_safetensors(path, {{"a", low_precision_tensor(b)}, {"b", odd}, {"c", low_precision_tensor(q)}, {"c#s", scales}});
    const LowPrecisionReading keep{.bf16 = [](const std::string&) { return true; }, .int8_scale_suffix = "#s"};
    const std::string bytes = attend::testing::read_file(path);
    // Mapped (in place) and from memory (copied): the same values, the scale folded into "c".
    for (const auto& contents : {read_safetensors(path, {}, keep), parse_safetensors(bytes.data(), bytes.size(), "mem", {}, keep)}) {
        ASSERT_EQ(contents.tensors.size(), 3u);
        EXPECT_EQ(contents.tensors.at("a").low_precision()->dequantize().to_vector(), b->dequantize().to_vector());
        EXPECT_EQ(contents.tensors.at("b").to_vector(), odd.to_vector());
        EXPECT_EQ(contents.tensors.at("c").low_precision()->type(), WeightType::int8);
        EXPECT_EQ(contents.tensors.at("c").low_precision()->dequantize().to_vector(), q->dequantize().to_vector());
    }
    {  // Read into memory (load_model's default), with a filter that names the matrix and not its
        // scales: the scales are read with it all the same (only what is read is in memory).
        const ResidentModelFiles read(true);
        const auto only_c = read_safetensors(path, [](const std::string& n) { return n == "c"; }, keep);
        ASSERT_EQ(only_c.tensors.size(), 1u);
        EXPECT_EQ(only_c.tensors.at("c").low_precision()->dequantize().to_vector(), q->dequantize().to_vector());
    }
    // Not asked: BF16 widens (as before), I8 is a dtype attend cannot hold.
    const auto widened = parse_safetensors(bytes.data(), bytes.size(), "mem", [](const std::string& n) { return n == "a"; });
    EXPECT_EQ(widened.tensors.at("a").to_vector(), b->dequantize().to_vector());
    EXPECT_MENTIONS(error_of([&] { read_safetensors(path); }), "tensor 'c' has dtype I8");
}

namespace {

// An int8 checkpoint's file split into its header JSON and data section, to break and rewrite.
struct Pieces {
    nlohmann::json header;
    std::string data;
};
Pieces split(const std::string& bytes) {
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    return {nlohmann::json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}
std::string join(const Pieces& p) { return attend::testing::safetensors_bytes(p.header.dump(), p.data); }

}  // namespace

TEST(LowPrecisionIo, BrokenInt8FilesAreOneLineErrorsNamingTheFile) {
    const TempDir tmp;
    LoadedModel m = load_model(shared_data("stories260K/stories260K.bin"));
    m.model.convert_weights(WeightType::int8);
    const std::string good = tmp.path("good.safetensors");
    save_model(good, m.model);
    const std::string bytes = attend::testing::read_file(good);
    const std::string w = "layers.0.ff.up_proj.weight";
    auto expect_error = [&](const std::string& file_bytes, const std::string& label, const std::string& mention) {
        const std::string path = tmp.write(label + ".safetensors", file_bytes);
        const std::string message = error_of([&] { load_model(path); });
        EXPECT_MENTIONS(message, path);
        EXPECT_MENTIONS(message, mention);
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    };
    {
        Pieces p = split(bytes);
        ASSERT_TRUE(p.header.contains(w + ":scale")) << "the scale naming changed; fix this test";
    }
    expect_error(bytes.substr(0, bytes.size() - 100), "truncated", "truncated");
    {
        Pieces p = split(bytes);  // the scale renamed away: the matrix has none
        p.header[w + ":gone"] = p.header[w + ":scale"];
        p.header.erase(w + ":scale");
        expect_error(join(p), "missing_scale", "'" + w + "' is I8 but the file has no scale");
    }
    {
        Pieces p = split(bytes);  // (rows, blocks) given as (blocks, rows): the same bytes, the wrong shape
        auto& shape = p.header[w + ":scale"]["shape"];
        std::swap(shape[0], shape[1]);
        expect_error(join(p), "scale_shape", w + ":scale");
    }
    {
        Pieces p = split(bytes);  // a negative scale
        const uint64_t at = p.header[w + ":scale"]["data_offsets"][0].get<uint64_t>();
        const float minus = -1.f;
        std::memcpy(p.data.data() + at, &minus, 4);
        expect_error(join(p), "negative_scale", "'" + w + "'");
    }
    {
        Pieces p = split(bytes);  // a scale stored as something else than F32
        p.header[w + ":scale"]["dtype"] = "I32";
        expect_error(join(p), "scale_dtype", "expected F32");
    }
}

// ---- what a converted model refuses ------------------------------------------------------

TEST(LowPrecisionErrors, TrainingDataAndDoubleRoundingAreClearErrors) {
    LoadedModel m = load_model(shared_data("stories260K/stories260K.bin"));
    m.model.convert_weights(WeightType::int8);
    const std::vector<int64_t> ids = some_ids(8, m.config.vocab_size, 5);
    // Forward with gradients on (training): the norms still require grad, the int8 matrices cannot.
    const std::string training = error_of([&] {
        const Tensor logits = m.model.forward(row(ids));
        Transformer::loss(logits, next_token_targets(row(ids))).backward();
    });
    EXPECT_MENTIONS(training, "int8");
    EXPECT_MENTIONS(training, "inference");
    // data() on a converted weight.
    const Tensor w = *parameter(m.model, "layers.0.self_attn.q_proj.weight");
    ASSERT_NE(w.low_precision(), nullptr);
    const std::string data = error_of([&] { (void)w.data(); });
    EXPECT_MENTIONS(data, "int8");
    EXPECT_MENTIONS(data, "linear()");
    EXPECT_MENTIONS(error_of([&] { m.model.convert_weights(WeightType::bf16); }), "already int8");
}
