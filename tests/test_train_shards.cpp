// tests/test_train_shards.cpp — how a step's global batch is cut into micro-batches and rank
// shares (train/data_shard.hpp), and that accumulating micro-batches by their share of the
// targets gives the losses of the whole batch in one piece, for GPT, BERT and seq2seq — the
// one-process half of the data-parallel equivalence (tests/distributed has the MPI half).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

#include "attend/error.hpp"
#include "attend/train/data.hpp"
#include "attend/train/trainer.hpp"
#include "support/files.hpp"
#include "train/data_shard.hpp"

namespace attend {
namespace {

using attend::testing::TempDir;

TEST(DataShard, RankSharesPartitionTheRowsAndDifferByAtMostOne) {
    for (int64_t rows : {1, 2, 3, 4, 6, 7, 13, 64})
        for (int ranks = 1; ranks <= rows && ranks <= 8; ++ranks) {
            int64_t next = 0, smallest = rows, largest = 0;
            for (int r = 0; r < ranks; ++r) {
                const auto [begin, end] = rank_share(rows, r, ranks);
                EXPECT_EQ(begin, next) << rows << " rows, rank " << r << " of " << ranks;
                EXPECT_GT(end, begin);
                smallest = std::min(smallest, end - begin), largest = std::max(largest, end - begin);
                next = end;
            }
            EXPECT_EQ(next, rows);
            EXPECT_LE(largest - smallest, 1);
        }
}

TEST(DataShard, BatchRowsKeepEverythingOfTheirRows) {
    std::vector<Pair> pairs = {{{3, 4, 5}, {6}}, {{3}, {6, 7, 8, 6}}, {{4, 4}, {7, 7}}};
    Generator gen(3);
    const Batch b = seq2seq_batch(pairs, 5, gen, 0, 1, 2, 16);
    const int64_t T = b.input.length(), S = b.source.length();
    int64_t targets = 0;
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 2}, {2, 3}, {3, 5}}) {
        const Batch part = batch_rows(b, begin, end);
        ASSERT_EQ(part.input.shape, (Shape{end - begin, T}));  // the global batch's padding kept
        ASSERT_EQ(part.source.shape, (Shape{end - begin, S}));
        for (int64_t i = 0; i < (end - begin) * T; ++i) {
            EXPECT_EQ(part.input.ids[size_t(i)], b.input.ids[size_t(begin * T + i)]);
            EXPECT_EQ(part.targets[size_t(i)], b.targets[size_t(begin * T + i)]);
        }
        for (int64_t i = 0; i < (end - begin) * S; ++i)
            EXPECT_EQ(part.source.ids[size_t(i)], b.source.ids[size_t(begin * S + i)]);
        for (int64_t i = 0; i < end - begin; ++i) {
            ASSERT_FALSE(b.source.lengths.empty());  // seq2seq sources are padded, their lengths kept
            EXPECT_EQ(part.source.lengths[size_t(i)], b.source.lengths[size_t(begin + i)]);
            if (!b.input.lengths.empty()) {
                EXPECT_EQ(part.input.lengths[size_t(i)], b.input.lengths[size_t(begin + i)]);
            }
        }
        targets += part.n_targets();
    }
    EXPECT_EQ(targets, b.n_targets());
    EXPECT_THROW(batch_rows(b, 3, 3), Error);
    EXPECT_THROW(batch_rows(b, 4, 6), Error);
}

// 30 steps with a batch of 6 in one piece, as 2 × 3 and as 3 × 2 accumulated micro-batches:
// the same losses to rounding. BERT's micro-batches hold different numbers of masked tokens
// and seq2seq's different numbers of non-padding targets, so a plain mean of the micro-batch
// losses would not agree.
TEST(DataShard, AccumulatedMicroBatchesFollowTheWholeBatch) {
    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    std::string text;
    for (int i = 0; i < 200; ++i) text += "the cat sat on mat " + std::to_string(i % 17) + ". a dog ran far.\n";
    std::ofstream(dir + "/text.txt") << text;
    std::ofstream pairs(dir + "/pairs.tsv");
    for (int i = 0; i < 200; ++i) {
        std::string s;
        for (int k = 0; k < 1 + i % 9; ++k) s.push_back(char('a' + (i * 7 + k * 3) % 9));
        pairs << s << '\t' << std::string(s.rbegin(), s.rend()) << '\n';
    }
    pairs.close();
    for (TrainArch arch : {TrainArch::gpt, TrainArch::bert, TrainArch::seq2seq}) {
        auto run = [&](int64_t batch, int64_t accum) {
            TrainOptions o;
            o.arch = arch;
            o.data = dir + (arch == TrainArch::seq2seq ? "/pairs.tsv" : "/text.txt");
            o.out = dir + "/run" + std::to_string(int(arch)) + "_" + std::to_string(accum);
            o.layers = 2, o.heads = 2, o.dim = 32, o.block_size = 16, o.batch_size = batch, o.grad_accum = accum;
            o.steps = 30, o.warmup = 3, o.lr = 3e-3f, o.eval_every = 0, o.eval_batches = 1;
            o.threads = 1, o.quiet = true, o.seed = 5;
            return train(o).train_losses;
        };
        const std::vector<float> whole = run(6, 1);
        for (const auto& [batch, accum] : {std::pair<int64_t, int64_t>{3, 2}, {2, 3}}) {
            const std::vector<float> parts = run(batch, accum);
            ASSERT_EQ(parts.size(), whole.size());
            for (size_t i = 0; i < whole.size(); ++i)
                EXPECT_NEAR(parts[i], whole[i], 1e-5 * std::fabs(whole[i]))
                    << "arch " << int(arch) << ", " << accum << " micro-batches of " << batch << ", step " << i + 1;
        }
    }
}

}  // namespace
}  // namespace attend
