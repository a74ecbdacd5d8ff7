// The trainer's pieces: AdamW against its formula, clipping, the schedule, data and masking,
// checkpoints (round trip, exact resume, a writer killed mid-write, a NaN stop), the plot,
// short runs of all three architectures, and the CLI.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/models/transformer.hpp"
#include "attend/parallel.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/data.hpp"
#include "attend/train/optimizer.hpp"
#include "attend/train/plot.hpp"
#include "attend/train/trainer.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "support/cli.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::error_of;
using attend::testing::read_file;
using attend::testing::TempDir;
namespace fs = std::filesystem;

namespace {

using attend::testing::corpus_file;

TrainOptions tiny_gpt(const std::string& dir) {
    TrainOptions o;
    o.arch = TrainArch::gpt;
    o.data = corpus_file(dir);
    o.out = dir + "/run";
    o.layers = 2, o.heads = 2, o.dim = 32, o.block_size = 16, o.batch_size = 4;
    o.steps = 12, o.warmup = 3, o.lr = 3e-3f, o.eval_every = 4, o.eval_batches = 2;
    o.threads = 1, o.quiet = true, o.seed = 7;
    return o;
}

}  // namespace

// ---------------------------------------------------------------- optimizer
TEST(AdamW, StepMatchesTheFormula) {
    Tensor w = Tensor::from_vector({2, 2}, {1.f, -2.f, 0.5f, 3.f});
    Tensor b = Tensor::from_vector({2}, {0.25f, -1.f});
    w.requires_grad_(true), b.requires_grad_(true);
    NamedParameters params = {{"layers.0.fc.weight", &w}, {"layers.0.fc.bias", &b}};
    const AdamWOptions o{0.9f, 0.95f, 1e-8f, 0.1f};
    AdamW opt(params, o);
    const std::vector<std::vector<float>> grads = {{0.1f, -0.2f, 0.3f, 0.f}, {-0.5f, 0.05f, 0.2f, 1.f}};
    std::vector<double> pw = {1, -2, 0.5, 3}, m(4, 0), v(4, 0);
    for (int t = 1; t <= 2; ++t) {
        w.set_grad(Tensor::from_vector({2, 2}, grads[size_t(t - 1)]));
        b.set_grad(Tensor::from_vector({2}, {1.f, -1.f}));
        const float lr = 0.01f * float(t);
        opt.step(lr);
        for (size_t j = 0; j < 4; ++j) {  // float64 reference of the same formula
            const double g = grads[size_t(t - 1)][j];
            pw[j] *= 1 - double(lr) * 0.1;
            m[j] = 0.9 * m[j] + 0.1 * g;
            v[j] = 0.95 * v[j] + 0.05 * g * g;
            const double mh = m[j] / (1 - std::pow(0.9, t)), vh = v[j] / (1 - std::pow(0.95, t));
            pw[j] -= lr * mh / (std::sqrt(vh) + 1e-8);
        }
    }
    for (size_t j = 0; j < 4; ++j) EXPECT_NEAR(w.to_vector()[j], pw[j], 1e-6) << j;
    // The bias takes no decay: two steps of ±1 gradients move it by exactly lr each (m̂/√v̂ = ±1).
    EXPECT_NEAR(b.at({0}), 0.25f - 0.01f - 0.02f, 1e-6);
    EXPECT_NEAR(b.at({1}), -1.f + 0.01f + 0.02f, 1e-6);
    EXPECT_EQ(opt.steps(), 2);
}

// The vectorised, chunked update (train/adamw.cpp): every element of a tensor longer than
// a chunk (2^15) with a ragged tail follows the float64 formula, and the result is the same
// bits at 1 and 2 threads; the global norm likewise (chunk sums added in a fixed order).
TEST(AdamW, LongTensorsFollowTheFormulaAtAnyThreadCount) {
    const int64_t n = 7 * 14051;  // 3 chunks and 53 elements
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> w0(static_cast<size_t>(n)), g0(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) w0[size_t(j)] = normal(rng), g0[size_t(j)] = 0.01f * normal(rng);
    std::vector<std::vector<float>> results;
    std::vector<float> norms;
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        Tensor w = Tensor::from_vector({n / 7, 7}, w0);  // a matrix, so it decays
        w.requires_grad_(true);
        NamedParameters params = {{"layers.0.fc.weight", &w}};
        AdamW opt(params, {0.9f, 0.95f, 1e-8f, 0.1f});
        for (int t = 0; t < 2; ++t) {
            w.set_grad(Tensor::from_vector({n / 7, 7}, g0));
            norms.push_back(clip_grad_norm(params, 0.5f));
            opt.step(0.01f);
        }
        results.push_back(w.to_vector());
    }
    set_num_threads(0);
    EXPECT_EQ(results[0], results[1]);
    EXPECT_EQ(norms[0], norms[2]);
    double sq = 0;
    for (float g : g0) sq += double(g) * g;
    EXPECT_NEAR(norms[0], std::sqrt(sq), 1e-6 * std::sqrt(sq));
    const double coef = 0.5 / (std::sqrt(sq) + 1e-6);
    for (int64_t j = 0; j < n; j += 997) {  // float64 reference on a sample of elements, tail included
        double w = w0[size_t(j)], m = 0, v = 0;
        for (int t = 1; t <= 2; ++t) {
            const double g = double(g0[size_t(j)]) * std::min(1.0, coef);
            w *= 1 - 0.01 * 0.1;
            m = 0.9 * m + 0.1 * g;
            v = 0.95 * v + 0.05 * g * g;
            w -= 0.01 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.95, t))) + 1e-8);
        }
        EXPECT_NEAR(results[0][size_t(j)], w, 2e-6 * (1 + std::abs(w))) << j;
    }
}

TEST(AdamW, ParameterGroupsAsNanoGpt) {
    const Tensor matrix = Tensor::zeros({4, 4}), vector = Tensor::zeros({4});
    EXPECT_TRUE(takes_weight_decay("layers.0.self_attn.q_proj.weight", matrix));
    EXPECT_TRUE(takes_weight_decay("lm_head.weight", matrix));
    EXPECT_FALSE(takes_weight_decay("layers.0.self_attn.q_proj.bias", vector));
    EXPECT_FALSE(takes_weight_decay("layers.0.attn_norm.weight", vector));
    EXPECT_FALSE(takes_weight_decay("embeddings.token.weight", matrix));
    EXPECT_FALSE(takes_weight_decay("embeddings.position.weight", matrix));
}

TEST(AdamW, StateRoundTripsAndChecksShapes) {
    Tensor w = Tensor::ones({3, 2});
    w.requires_grad_(true);
    AdamW a({{"w", &w}});
    w.set_grad(Tensor::full({3, 2}, 0.5f));
    a.step(0.1f);
    Tensor w2 = Tensor::ones({3, 2});
    AdamW b({{"w", &w2}});
    b.load_state(a.state());
    EXPECT_EQ(b.steps(), 1);
    EXPECT_EQ(b.state().at("m.w").to_vector(), a.state().at("m.w").to_vector());
    Tensor wrong = Tensor::ones({2, 3});
    AdamW c({{"w", &wrong}});
    EXPECT_THROW(c.load_state(a.state()), Error);
}

TEST(AdamW, ClipGradNormScalesToTheGlobalNorm) {
    Tensor a = Tensor::zeros({1}), b = Tensor::zeros({1});
    a.set_grad(Tensor::from_vector({1}, {3.f}));
    b.set_grad(Tensor::from_vector({1}, {4.f}));
    NamedParameters params = {{"a", &a}, {"b", &b}};
    EXPECT_FLOAT_EQ(clip_grad_norm(params, 1.f), 5.f);
    EXPECT_NEAR(a.grad().item(), 0.6f, 1e-6);
    EXPECT_NEAR(b.grad().item(), 0.8f, 1e-6);
    EXPECT_NEAR(clip_grad_norm(params, 10.f), 1.f, 1e-6);  // below the limit: untouched
    EXPECT_NEAR(a.grad().item(), 0.6f, 1e-6);
}

TEST(AdamW, WarmupThenCosineSchedule) {
    const LrSchedule s{1e-3f, 1e-4f, 10, 110};
    EXPECT_FLOAT_EQ(s.at(0), 1e-3f * 1 / 11);
    EXPECT_FLOAT_EQ(s.at(9), 1e-3f * 10 / 11);
    EXPECT_FLOAT_EQ(s.at(10), 1e-3f);                        // the peak
    EXPECT_NEAR(s.at(60), (1e-3f + 1e-4f) / 2, 1e-9);       // half way down the cosine
    EXPECT_FLOAT_EQ(s.at(110), 1e-4f);
    EXPECT_FLOAT_EQ(s.at(500), 1e-4f);
    for (int64_t t = 11; t <= 110; ++t) EXPECT_LE(s.at(t), s.at(t - 1));
}

// ---------------------------------------------------------------- data
TEST(TrainData, CharTokenizerWithSpecialsRoundTrips) {
    const CharTokenizer v = CharTokenizer::from_text("hello world", {"<pad>", "<bos>"});
    EXPECT_EQ(v.vocab_size(), 2 + 8);  // " dehlorw"
    EXPECT_EQ(v.decode(v.encode("low")), "low");
    EXPECT_EQ(v.encode(" ")[0], 2);  // first after the specials
    EXPECT_EQ(CharTokenizer::from_text("<bos>", {"<bos>"}).encode("<bos>").size(), 5u);  // text never becomes a special
    EXPECT_EQ(v.token_id("<bos>"), 1);
    EXPECT_EQ(v.bos_id(), 1);
    EXPECT_EQ(v.pad_id(), 0);
    EXPECT_FALSE(v.eos_id().has_value());
    EXPECT_EQ(v.decode({1, 2, 0}), "<bos> <pad>");
    EXPECT_EQ(v.decode({1, 2, 0}, /*skip_special=*/true), " ");
    EXPECT_THROW(v.encode("z"), Error);
    EXPECT_THROW(v.decode({10}), Error);

    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    v.save(dir + "/tokenizer.json");
    const std::unique_ptr<Tokenizer> again = load_tokenizer(dir);  // found as a folder's tokenizer.json
    EXPECT_EQ(again->kind(), "char");
    EXPECT_EQ(again->vocab_size(), 10);
    EXPECT_EQ(again->encode("hello"), v.encode("hello"));
    EXPECT_EQ(again->token_id("<pad>"), 0);
    std::ofstream(dir + "/twice.json") << R"({"type": "char", "specials": ["<pad>", "<pad>"], "chars": ["a"]})";
    {
        const std::string message = error_of([&] { load_tokenizer(dir + "/twice.json"); });
        EXPECT_MENTIONS(message, "twice.json");
        EXPECT_MENTIONS(message, "appears twice");
    }
}

TEST(TrainData, SpecialTokensAreFoundByName) {
    const SpecialTokens s = SpecialTokens::of(CharTokenizer::from_text("ab", {"<pad>", "<bos>", "<eos>"}));
    EXPECT_EQ(s.pad, 0);
    EXPECT_EQ(s.bos, 1);
    EXPECT_EQ(s.eos, 2);
    EXPECT_FALSE(s.mask.has_value());
    const CharTokenizer plain = CharTokenizer::from_text("ab");
    {
        const std::string message = error_of([&] { need_special(SpecialTokens::of(plain).mask, plain, "[MASK]", "BERT"); });
        EXPECT_MENTIONS(message, "no [MASK] token");
        EXPECT_MENTIONS(message, "BERT");
    }
}

TEST(TrainData, Uint16TokenFilesMapAndAreChecked) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < 1000; ++i) ids.push_back((i * 37) % 300);
    write_uint16_tokens(dir + "/t.bin", ids);
    EXPECT_EQ(fs::file_size(dir + "/t.bin"), 2000u);
    const TokenSequence mapped = TokenSequence::map_uint16(dir + "/t.bin", 300);
    ASSERT_EQ(mapped.size(), 1000);
    for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(mapped[i], ids[size_t(i)]);
    const TokenSequence tail = mapped.slice(990, 1000);
    EXPECT_EQ(tail.size(), 10);
    EXPECT_EQ(tail[0], ids[990]);
    Generator g1(5), g2(5);  // a mapped file draws the same batches as the same ids in memory
    EXPECT_EQ(causal_lm_batch(mapped, 3, 8, g1).input.ids, causal_lm_batch(TokenSequence(ids), 3, 8, g2).input.ids);

    {
        const std::string message = error_of([&] { TokenSequence::map_uint16(dir + "/t.bin", 200); });
        EXPECT_MENTIONS(message, "t.bin");
        EXPECT_MENTIONS(message, "outside the tokenizer's vocabulary of 200");
    }
    std::ofstream(dir + "/odd.bin") << "abc";
    {
        const std::string message = error_of([&] { TokenSequence::map_uint16(dir + "/odd.bin", 300); });
        EXPECT_MENTIONS(message, "odd.bin");
        EXPECT_MENTIONS(message, "even size");
    }
    {
        const std::string message = error_of([&] { TokenSequence::map_uint16(dir + "/none.bin", 300); });
        EXPECT_MENTIONS(message, "none.bin");
    }
    {
        const std::string message = error_of([&] { write_uint16_tokens(dir + "/big.bin", {70000}); });
        EXPECT_MENTIONS(message, "big.bin");
        EXPECT_MENTIONS(message, "uint16");
    }
}

TEST(TrainData, CausalBlocksAreShiftedAndSeeded) {
    std::vector<int64_t> tokens(1000);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int64_t(i);
    Generator g1(3), g2(3);
    const Batch a = causal_lm_batch(tokens, 5, 8, g1), b = causal_lm_batch(tokens, 5, 8, g2);
    EXPECT_EQ(a.input.ids, b.input.ids);
    for (size_t i = 0; i < a.targets.size(); ++i) EXPECT_EQ(a.targets[i], a.input.ids[i] + 1);
    for (int64_t r = 0; r < 5; ++r)
        for (int64_t t = 1; t < 8; ++t) EXPECT_EQ(a.input.ids[size_t(r * 8 + t)], a.input.ids[size_t(r * 8)] + t);
    const auto [train, val] = split_tokens(tokens);
    EXPECT_EQ(train.size(), 900);
    EXPECT_EQ(val[0], 900);
}

TEST(TrainData, BertMaskingIs15PercentSplit801010) {
    Batch b;
    const int64_t B = 64, T = 512, V = 100, mask = 1;
    b.input.shape = {B, T};
    for (int64_t i = 0; i < B * T; ++i) b.input.ids.push_back(2 + i % 98);
    const std::vector<int64_t> original = b.input.ids;
    Generator g(11);
    mask_tokens(b, mask, V, g);
    int64_t chosen = 0, masked = 0, kept = 0, outside = 0;
    for (size_t i = 0; i < original.size(); ++i) {
        if (b.targets[i] == kIgnore) {
            outside += b.input.ids[i] != original[i];  // unchosen positions never change
            continue;
        }
        ++chosen;
        EXPECT_EQ(b.targets[i], original[i]);
        masked += b.input.ids[i] == mask;
        kept += b.input.ids[i] == original[i];
    }
    EXPECT_EQ(outside, 0);
    const double n = double(B * T);
    EXPECT_NEAR(chosen / n, 0.15, 0.01);
    EXPECT_NEAR(masked / double(chosen), 0.8, 0.02);
    EXPECT_NEAR(kept / double(chosen), 0.1 + 0.1 / V, 0.02);  // 10% kept + random draws that hit the original
}

TEST(TrainData, Seq2SeqBatchesPadAndTeacherForce) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    std::ofstream(dir + "/pairs.tsv") << "abc\txy\nd\tyyyx\n\n";
    const auto text = read_pairs(dir + "/pairs.tsv");
    ASSERT_EQ(text.size(), 2u);
    EXPECT_EQ(text[1].second, "yyyx");
    const CharTokenizer v = CharTokenizer::from_text("abcdxy", {"<pad>", "<bos>", "<eos>"});
    std::vector<Pair> pairs;
    for (const auto& [s, t] : text) pairs.push_back({v.encode(s), v.encode(t)});
    const Batch b = seq2seq_batch_range(pairs, 0, 2, 0, 1, 2, 64);
    EXPECT_EQ(b.source.shape, (Shape{2, 3}));
    EXPECT_EQ(b.source.lengths, (std::vector<int64_t>{3, 1}));
    EXPECT_EQ(b.input.shape, (Shape{2, 5}));
    EXPECT_EQ(b.input.lengths, (std::vector<int64_t>{3, 5}));
    const int64_t x = v.encode("x")[0], y = v.encode("y")[0];
    EXPECT_EQ(b.input.ids, (std::vector<int64_t>{1, x, y, 0, 0, 1, y, y, y, x}));
    EXPECT_EQ(b.targets, (std::vector<int64_t>{x, y, 2, kIgnore, kIgnore, y, y, y, x, 2}));
    std::ofstream(dir + "/bad.tsv") << "no tab here\n";
    EXPECT_THROW(read_pairs(dir + "/bad.tsv"), Error);
}

// ---------------------------------------------------------------- checkpoints
TEST(Checkpoint, RoundTripsModelOptimizerAndStreams) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    Transformer model(training_config(tiny_gpt(dir), 11), 5);
    NamedParameters params = model.parameters();
    for (auto& [name, p] : params) p->requires_grad_(true), p->set_grad(Tensor::ones(p->shape()));
    AdamW opt(params);
    opt.step(0.1f);
    TrainingState state;
    state.step = 1;
    state.generators["data"] = Generator(42);
    state.generators["data"].next_u64();
    state.metadata["note"] = "hello";
    save_training_checkpoint(dir + "/c.safetensors", model, opt, state);

    Transformer back_model(training_config(tiny_gpt(dir), 11), 6);  // other weights, overwritten
    NamedParameters params2 = back_model.parameters();
    AdamW opt2(params2);
    const TrainingState back = load_training_checkpoint(dir + "/c.safetensors", params2, opt2);
    ASSERT_EQ(params.size(), params2.size());
    for (size_t i = 0; i < params.size(); ++i)  // the same config: the same names in the same order
        EXPECT_EQ(params2[i].second->to_vector(), params[i].second->to_vector()) << params[i].first;
    const std::string some = params.begin()->first;
    EXPECT_EQ(opt2.state().at("v." + some).to_vector(), opt.state().at("v." + some).to_vector());
    EXPECT_EQ(opt2.steps(), 1);
    EXPECT_EQ(back.step, 1);
    EXPECT_EQ(back.metadata.at("note"), "hello");
    EXPECT_EQ(back.generators.at("data").state(), state.generators.at("data").state());
}

// The writer is SIGKILLed at random moments while rewriting a ~24 MB checkpoint; every time,
// the file at the path still loads and holds one complete version.
TEST(Checkpoint, KilledWriterLeavesThePreviousCheckpointLoadable) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    const std::string path = dir + "/c.safetensors";
    TrainOptions shape = tiny_gpt(dir);
    shape.layers = 1, shape.dim = 256;
    Transformer model(training_config(shape, 5500), 1);  // ~1.5 M parameters, 3 × that with the moments
    NamedParameters params = model.parameters();
    AdamW opt(params);
    auto fill = [&](float v) {
        for (auto& [name, p] : params) std::fill_n(p->data(), p->numel(), v);
    };
    fill(1.f);
    TrainingState state;
    state.step = 1;
    save_training_checkpoint(path, model, opt, state);
    std::mt19937 rng(1234);
    int killed_mid_write = 0;
    for (int round = 0; round < 8; ++round) {
        const pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {  // the writer: new versions forever, step 2, 3, ...
            for (int64_t version = 2;; ++version) {
                fill(float(version));
                state.step = version;
                save_training_checkpoint(path, model, opt, state);
            }
        }
        ::usleep(useconds_t(std::uniform_int_distribution<int>(5000, 120000)(rng)));
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status));
        // A torn temporary ("c.safetensors.tmp.<pid>.<random>") means the kill interrupted a write.
        bool torn = false;
        for (const auto& entry : fs::directory_iterator(dir))
            if (entry.path().filename().string().rfind("c.safetensors.tmp", 0) == 0) {
                torn = true;
                fs::remove(entry.path());
            }
        killed_mid_write += torn;

        Transformer into_model(training_config(shape, 5500), 2);
        NamedParameters into = into_model.parameters();
        for (auto& [name, p] : into) std::fill_n(p->data(), p->numel(), 0.f);
        AdamW opt2(into);
        TrainingState back;
        ASSERT_NO_THROW(back = load_training_checkpoint(path, into, opt2)) << "round " << round;
        std::vector<float> v;
        for (const auto& [name, p] : into) {
            const std::vector<float> part = p->to_vector();
            v.insert(v.end(), part.begin(), part.end());
        }
        const float first = v.front();
        EXPECT_EQ(std::count(v.begin(), v.end(), first), int64_t(v.size())) << "a torn checkpoint in round " << round;
        EXPECT_EQ(int64_t(first), back.step > 1 ? back.step : 1) << "the data belongs to the step recorded";
    }
    std::printf("killed the writer 8 times, %d of them with a half-written temporary on disk\n", killed_mid_write);
    EXPECT_GT(killed_mid_write, 0) << "no kill landed during a write: the test proved nothing";
}

// N steps straight vs N/2, stop, resume, N/2: every loss equal bit for bit (one thread, dropout on).
TEST(Checkpoint, ResumeReproducesTheUninterruptedLosses) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    TrainOptions o = tiny_gpt(dir);
    o.dropout = 0.1f;
    o.out = dir + "/straight";
    const TrainResult straight = train(o);
    ASSERT_EQ(straight.train_losses.size(), 12u);

    o.out = dir + "/split";
    o.stop_after = 6;
    const TrainResult first = train(o);
    ASSERT_EQ(first.steps_done, 6);
    EXPECT_FALSE(fs::exists(o.out + "/model.safetensors"));  // not finished: no final model yet
    o.stop_after = -1;
    o.resume = true;
    const TrainResult second = train(o);
    ASSERT_EQ(second.train_losses.size(), 6u);
    std::vector<float> joined = first.train_losses;
    joined.insert(joined.end(), second.train_losses.begin(), second.train_losses.end());
    for (size_t i = 0; i < joined.size(); ++i)
        EXPECT_EQ(std::memcmp(&joined[i], &straight.train_losses[i], 4), 0)
            << "step " << i + 1 << ": resumed " << joined[i] << " vs straight " << straight.train_losses[i];
    ASSERT_EQ(second.val_losses.size(), straight.val_losses.size() - first.val_losses.size());
    EXPECT_EQ(second.val_losses.back().second, straight.val_losses.back().second);
    // The two final models are the same bytes' worth of numbers.
    const auto a = load_safetensors(dir + "/straight/model.safetensors"), b = load_safetensors(dir + "/split/model.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_EQ(t.to_vector(), b.at(name).to_vector()) << name;
    // loss.csv carries the whole history across the resume: a header and 12 rows.
    const std::string csv = read_file(dir + "/split/loss.csv");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 13) << csv;
    EXPECT_EQ(csv, read_file(dir + "/straight/loss.csv"));
}

TEST(Checkpoint, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    TrainOptions o = tiny_gpt(dir);
    o.steps = 40, o.warmup = 0, o.eval_every = 2, o.grad_clip = 0;
    o.stop_after = 4;  // a good checkpoint at step 4
    train(o);
    const std::string path = o.out + "/checkpoint.safetensors";
    const std::string before = read_file(path);
    o.stop_after = -1, o.resume = true;
    o.lr = 1e30f;  // the next update throws the weights to ±1e30: logits overflow
    try {
        train(o);
        FAIL() << "training with lr 1e30 did not stop";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("not finite"), std::string::npos) << what;
        EXPECT_NE(what.find("intact"), std::string::npos) << what;
        std::printf("stopped with: %s\n", what.c_str());
    }
    // The last good checkpoint is byte for byte what it was, and loads with finite weights.
    EXPECT_EQ(read_file(path), before);
    EXPECT_EQ(read_safetensors_metadata(path).at("step"), "4");
    for (const auto& [name, t] : load_safetensors(path))
        for (float v : t.to_vector()) ASSERT_TRUE(std::isfinite(v)) << name;
}

// ---------------------------------------------------------------- outputs
TEST(TrainLoop, WritesAPngLossCurve) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    Series a{{0, 1, 2, 3}, {4, 3, 2.5, 2}, 0, 0, 255, "train"}, b{{0, 3}, {4.2, 2.4}, 255, 0, 0, "validation"};
    write_line_plot_png(dir + "/p.png", {a, b}, 320, 200);
    const std::string png = read_file(dir + "/p.png");
    ASSERT_GT(png.size(), 33u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
    auto be32 = [&](size_t at) { return (uint8_t(png[at]) << 24) | (uint8_t(png[at + 1]) << 16) | (uint8_t(png[at + 2]) << 8) | uint8_t(png[at + 3]); };
    EXPECT_EQ(be32(16), 320u);  // IHDR width, height
    EXPECT_EQ(be32(20), 200u);
}

TEST(TrainLoop, GptLearnsAndWritesItsOutputs) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    TrainOptions o = tiny_gpt(dir);
    o.steps = 60, o.eval_every = 20, o.lr = 1e-2f, o.warmup = 5;
    const TrainResult r = train(o);
    ASSERT_EQ(r.val_losses.size(), 3u);
    EXPECT_LT(r.val_losses.back().second, r.val_losses.front().second);
    EXPECT_LT(r.train_losses.back(), 0.7f * r.train_losses.front());
    for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "loss.csv", "loss.png", "checkpoint.safetensors"})
        EXPECT_TRUE(fs::exists(o.out + "/" + f)) << f;
    const TransformerConfig c = config_from_json(read_file(o.out + "/config.json"));
    EXPECT_EQ(load_tokenizer(o.out)->vocab_size(), c.vocab_size);  // the tokenizer beside the model fits it
    EXPECT_EQ(c.n_layers, 2);
    Transformer model(c, 0);
    NamedParameters params = model.parameters();
    load_parameters(params, load_safetensors(o.out + "/model.safetensors"));
    std::printf("tiny gpt: train loss %.3f -> %.3f, val %.3f -> %.3f\n", r.train_losses.front(), r.train_losses.back(),
                r.val_losses.front().second, r.val_losses.back().second);
}

TEST(TrainLoop, NormPlacementOverridesTheArchitecturesOwn) {
    TrainOptions o;
    o.arch = TrainArch::bert;
    EXPECT_EQ(training_config(o, 10).norm_placement, NormPlacement::post);  // BERT's own
    o.norm_placement = "pre";
    const TransformerConfig pre = training_config(o, 10);
    EXPECT_EQ(pre.norm_placement, NormPlacement::pre);
    EXPECT_TRUE(pre.final_norm);
    o.norm_placement = "sideways";
    EXPECT_MENTIONS(error_of([&] { training_config(o, 10); }), "sideways");
}

TEST(TrainLoop, EvalEveryZeroEvaluatesOnlyAtTheEnd) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    TrainOptions o = tiny_gpt(dir);
    o.steps = 5, o.eval_every = 0;
    const TrainResult r = train(o);
    ASSERT_EQ(r.val_losses.size(), 1u);
    EXPECT_EQ(r.val_losses[0].first, 5);
    EXPECT_TRUE(fs::exists(o.out + "/checkpoint.safetensors"));
    o.eval_batches = 0;
    EXPECT_THROW(train(o), Error);
}

TEST(TrainLoop, BertMlmAndSeq2SeqLearn) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    TrainOptions o = tiny_gpt(dir);
    o.arch = TrainArch::bert;
    o.steps = 300, o.eval_every = 150, o.lr = 5e-3f, o.warmup = 10, o.batch_size = 8;
    const TrainResult bert = train(o);
    EXPECT_LT(bert.val_losses.back().second, bert.train_losses.front() - 0.5f);  // from ≈ ln V
    std::printf("bert masked-token accuracy %.3f, unigram baseline %.3f\n", bert.val_accuracy, bert.unigram_accuracy);
    EXPECT_GT(bert.unigram_accuracy, 0.05);  // the corpus's most frequent character (a space) is common
    EXPECT_GT(bert.val_accuracy, bert.unigram_accuracy);

    std::ofstream pairs(dir + "/pairs.tsv");
    for (int i = 0; i < 400; ++i) {  // reverse a short string of letters
        std::string s;
        for (int k = 0; k < 3 + i % 4; ++k) s.push_back(char('a' + (i * 7 + k * 3) % 9));
        pairs << s << '\t' << std::string(s.rbegin(), s.rend()) << '\n';
    }
    pairs.close();
    TrainOptions s = tiny_gpt(dir);
    s.arch = TrainArch::seq2seq;
    s.data = dir + "/pairs.tsv";
    s.out = dir + "/seq2seq";
    s.steps = 80, s.eval_every = 40, s.lr = 5e-3f, s.warmup = 5, s.batch_size = 16;
    const TrainResult r = train(s);
    EXPECT_LT(r.val_losses.back().second, 0.7f * r.train_losses.front());
    std::printf("bert train %.3f -> val %.3f; seq2seq train %.3f -> val %.3f\n", bert.train_losses.front(),
                bert.val_losses.back().second, r.train_losses.front(), r.val_losses.back().second);
}

TEST(TrainLoop, CliTrainsFromFlagsAndFromAConfigFile) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    const std::string data = corpus_file(dir);
    const std::string cmd = std::string(ATTEND_CLI) + " train --arch gpt --data " + data + " --out " + dir +
                            "/a --layers 1 --heads 2 --dim 16 --block-size 8 --batch-size 2 --steps 6 --warmup 1"
                            " --eval-every 3 --lr 1e-3 --threads 1 2> " + dir + "/err.txt";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(dir + "/err.txt");
    EXPECT_TRUE(fs::exists(dir + "/a/model.safetensors"));
    const std::string err = read_file(dir + "/err.txt");
    EXPECT_NE(err.find("val loss"), std::string::npos) << err;
    EXPECT_EQ(err.find('\r'), std::string::npos) << "not a terminal: plain lines, no bar";

    std::ofstream(dir + "/cfg.json") << R"({"arch": "gpt", "layers": 1, "heads": 1, "dim": 8, "block_size": 8,
        "batch_size": 2, "steps": 4, "eval_every": 2, "data": ")" << data << R"("})";
    const std::string cmd2 = std::string(ATTEND_CLI) + " train --config " + dir + "/cfg.json --out " + dir + "/b 2>/dev/null";
    ASSERT_EQ(std::system(cmd2.c_str()), 0);
    EXPECT_EQ(config_from_json(read_file(dir + "/b/config.json")).d_model, 8);

    const std::string bad = std::string(ATTEND_CLI) + " train --arch gpt --data /nonexistent --out " + dir + "/c 2> " + dir + "/err2.txt";
    EXPECT_NE(std::system(bad.c_str()), 0);
    EXPECT_NE(read_file(dir + "/err2.txt").find("cannot open"), std::string::npos);
}

// --profile: the phases of a training step and the ops' backwards, after the run.
TEST(TrainLoop, ProfilePrintsTrainingPhasesAndBackwardOps) {
    using attend::testing::run_cli;
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    const std::string data = corpus_file(dir);
    const auto r = run_cli("train --arch gpt --data " + data + " --out " + dir + "/gpt --layers 1 --heads 2 --dim 16"
                           " --block-size 16 --batch-size 4 --steps 3 --warmup 1 --eval-every 0 --eval-batches 1"
                           " --threads 1 --quiet --profile");
    ASSERT_EQ(r.status, 0) << r.output;
    std::cout << r.output;
    for (const char* name : {"  setup ", "  data ", "  forward ", "  backward ", "  optimizer ", "  eval ",
                             "  checkpoint ", "  linear ", "  linear backward ", "  fused_attention backward ",
                             "  adamw step ", "  cross_entropy "})
        EXPECT_NE(r.output.find(name), std::string::npos) << name << " missing from\n" << r.output;
    // Three steps: the optimizer stepped three times, one backward pass each.
    const auto calls = [&](const std::string& name) {
        const size_t at = r.output.find("  " + name + " ");
        return at == std::string::npos ? -1L : std::strtol(r.output.c_str() + at + 2 + name.size(), nullptr, 10);
    };
    EXPECT_EQ(calls("adamw step"), 3);
    EXPECT_EQ(calls("cross_entropy backward"), 3);
}

// A user's whole path with a real tokenizer: text → uint16 token file → train → the trained
// folder answers generate and perplexity; and a character model trained from text likewise.
TEST(TrainLoop, TrainedFoldersLoadInGenerateAndPerplexity) {
    using attend::testing::run_cli;
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    const std::string data = corpus_file(dir);
    const std::string gpt2 = attend::testing::shared_data("gpt2_fake_hf");
    ASSERT_TRUE(fs::exists(gpt2 + "/vocab.json")) << gpt2 << " lacks vocab.json";

    const auto tokens = run_cli("tokenize --tokenizer " + gpt2 + " --file " + data + " --out " + dir + "/tokens.bin");
    ASSERT_EQ(tokens.status, 0) << tokens.output;
    const auto ids = run_cli("tokenize --tokenizer " + gpt2 + " --file " + data);
    const size_t n_ids = size_t(std::count(ids.output.begin(), ids.output.end(), ' ') + 1);
    EXPECT_EQ(fs::file_size(dir + "/tokens.bin"), 2 * n_ids);

    const std::string small = " --layers 1 --heads 2 --dim 16 --block-size 16 --batch-size 4 --steps 4 --warmup 1"
                              " --eval-every 2 --eval-batches 1 --threads 1";
    const auto bpe = run_cli("train --arch gpt --data " + dir + "/tokens.bin --tokenizer " + gpt2 + " --out " + dir +
                             "/bpe" + small);
    ASSERT_EQ(bpe.status, 0) << bpe.output;
    EXPECT_EQ(load_tokenizer(dir + "/bpe")->kind(), load_tokenizer(gpt2)->kind());  // copied beside the model
    const auto gen = run_cli("generate --model " + dir + "/bpe --prompt 'the cat' -n 4 --temperature 0");
    ASSERT_EQ(gen.status, 0) << gen.output;
    EXPECT_EQ(gen.output.rfind("the cat", 0), 0u) << gen.output;
    const auto ppl = run_cli("perplexity --model " + dir + "/bpe --file " + data);
    ASSERT_EQ(ppl.status, 0) << ppl.output;
    EXPECT_NE(ppl.output.find("perplexity"), std::string::npos) << ppl.output;

    const auto chars = run_cli("train --arch gpt --data " + data + " --out " + dir + "/chars" + small);
    ASSERT_EQ(chars.status, 0) << chars.output;
    const auto gen2 = run_cli("generate --model " + dir + "/chars --prompt 'the dog' -n 5 --seed 3");
    ASSERT_EQ(gen2.status, 0) << gen2.output;
    EXPECT_EQ(gen2.output.rfind("the dog", 0), 0u) << gen2.output;

    const auto bert = run_cli("train --arch bert --data " + data + " --out " + dir + "/bert" + small);
    ASSERT_EQ(bert.status, 0) << bert.output;
    const auto enc = run_cli("encode --model " + dir + "/bert --text 'the cat sat'");
    ASSERT_EQ(enc.status, 0) << enc.output;
    EXPECT_NE(enc.output.find("16 values"), std::string::npos) << enc.output;  // dim 16

    // A token file without its tokenizer, and one made with a larger vocabulary than given.
    const auto alone = run_cli("train --arch gpt --data " + dir + "/tokens.bin --out " + dir + "/x" + small);
    EXPECT_NE(alone.status, 0);
    EXPECT_NE(alone.output.find("needs --tokenizer"), std::string::npos) << alone.output;
    const auto wrong = run_cli("train --arch gpt --data " + dir + "/tokens.bin --tokenizer " + dir + "/chars --out " +
                               dir + "/y" + small);
    EXPECT_NE(wrong.status, 0);
    EXPECT_NE(wrong.output.find("outside the tokenizer's vocabulary"), std::string::npos) << wrong.output;
}
