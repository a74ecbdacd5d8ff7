// The dates → ISO translation task (train/translation_task.hpp): the words are right, the
// calendar is right, the data is deterministic, and the held-out dates never appear in
// training — and the exact-match evaluation counts what greedy and beam decoding produce.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "attend/error.hpp"
#include "attend/generate/beam_search.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/train/trainer.hpp"
#include "attend/train/translation_task.hpp"
#include "support/files.hpp"

namespace attend {
namespace {

TEST(TranslationTask, NumbersInWords) {
    EXPECT_EQ(number_words(0), "zero");
    EXPECT_EQ(number_words(13), "thirteen");
    EXPECT_EQ(number_words(20), "twenty");
    EXPECT_EQ(number_words(26), "twenty-six");
    EXPECT_EQ(number_words(99), "ninety-nine");
    EXPECT_EQ(ordinal_words(1), "first");
    EXPECT_EQ(ordinal_words(12), "twelfth");
    EXPECT_EQ(ordinal_words(20), "twentieth");
    EXPECT_EQ(ordinal_words(23), "twenty-third");
    EXPECT_EQ(ordinal_words(31), "thirty-first");
    EXPECT_THROW(number_words(100), Error);
    EXPECT_THROW(ordinal_words(0), Error);
}

TEST(TranslationTask, Calendar) {
    EXPECT_EQ(days_in_month(2024, 2), 29);
    EXPECT_EQ(days_in_month(1900, 2), 28);  // divisible by 100, not by 400
    EXPECT_EQ(days_in_month(2000, 2), 29);
    EXPECT_EQ(days_in_month(2026, 11), 30);
    EXPECT_EQ(weekday_of({2026, 11, 23}), 0);  // a monday (Python: date(2026, 11, 23).weekday())
    EXPECT_EQ(weekday_of({2000, 1, 1}), 5);    // saturday
    EXPECT_EQ(weekday_of({1900, 1, 1}), 0);    // monday
    EXPECT_EQ(weekday_of({1970, 1, 1}), 3);    // thursday
    EXPECT_EQ(iso_date({2026, 11, 23}), "2026-11-23");
    EXPECT_EQ(iso_date({1905, 3, 7}), "1905-03-07");
}

TEST(TranslationTask, SurfaceForms) {
    Generator gen(0);
    const CalendarDate d{2026, 11, 23};
    EXPECT_EQ(date_in_words(d, 2, gen), "nov 23 2026");
    EXPECT_EQ(date_in_words(d, 3, gen), "23 november 2026");
    EXPECT_EQ(date_in_words(d, 4, gen), "monday, november 23, 2026");
    EXPECT_EQ(date_in_words(d, 5, gen), "mon 23 nov 2026");
    // Variants: comma or not, and how the year is said.
    std::set<std::string> style0, style8, old;
    for (int i = 0; i < 200; ++i) {
        style0.insert(date_in_words(d, 0, gen));
        style8.insert(date_in_words({2026, 3, 7}, 8, gen));
        old.insert(date_in_words({1905, 3, 7}, 7, gen));
    }
    EXPECT_EQ(style0, (std::set<std::string>{"the twenty-third of november, two thousand twenty-six",
                                             "the twenty-third of november two thousand twenty-six",
                                             "the twenty-third of november, twenty twenty-six",
                                             "the twenty-third of november twenty twenty-six"}));
    EXPECT_EQ(style8, (std::set<std::string>{"07.03.2026", "7/3/2026"}));
    EXPECT_EQ(old, (std::set<std::string>{"seventh march nineteen oh five"}));
    std::set<std::string> early;
    for (int i = 0; i < 100; ++i) early.insert(date_in_words({2005, 6, 7}, 7, gen));
    EXPECT_EQ(early, (std::set<std::string>{"seventh june two thousand five", "seventh june two thousand and five"}));
    EXPECT_EQ(date_in_words({2000, 1, 1}, 9, gen), "january 1st two thousand");
    EXPECT_THROW(date_in_words({2026, 2, 30}, 0, gen), Error);
    EXPECT_THROW(date_in_words(d, kDateStyles, gen), Error);
}

TEST(TranslationTask, DeterministicDisjointAndWellFormed) {
    DateTaskOptions o;
    o.n_train = 20000, o.n_heldout = 1000, o.seed = 3;
    const DateTask a = make_date_task(o), b = make_date_task(o);
    ASSERT_EQ(a.train.size(), 20000u);
    ASSERT_EQ(a.heldout.size(), 1000u);
    for (size_t i = 0; i < a.train.size(); ++i) ASSERT_EQ(a.train[i].source, b.train[i].source);
    o.seed = 4;
    const DateTask c = make_date_task(o);
    size_t same = 0;
    for (size_t i = 0; i < a.heldout.size(); ++i) same += a.heldout[i].target == c.heldout[i].target;
    EXPECT_LT(same, 20u) << "another seed should give other dates";

    std::set<std::string> train_dates, heldout_dates;
    for (const auto& p : a.train) train_dates.insert(p.target);
    for (const auto& p : a.heldout) heldout_dates.insert(p.target);
    EXPECT_EQ(heldout_dates.size(), 1000u) << "one pair per held-out date";
    for (const auto& d : heldout_dates) EXPECT_EQ(train_dates.count(d), 0u) << d << " is held out but trained on";

    std::set<std::string> sources;
    for (const auto* split : {&a.train, &a.heldout})
        for (const auto& p : *split) {
            sources.insert(p.source);
            ASSERT_LE(p.source.size(), kDateSourceMaxChars) << p.source;
            for (char ch : p.source) ASSERT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                                                 ch == ' ' || ch == ',' || ch == '-' || ch == '.' || ch == '/')
                << p.source;
            int y, m, d;
            ASSERT_EQ(std::sscanf(p.target.c_str(), "%4d-%2d-%2d", &y, &m, &d), 3) << p.target;
            ASSERT_EQ(p.target.size(), 10u);
            ASSERT_TRUE(y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m));
        }
    EXPECT_GT(sources.size(), 19000u) << "surface forms should rarely repeat";
}

TEST(TranslationTask, PairsRoundTripThroughTsv) {
    DateTaskOptions o;
    o.n_train = 50, o.n_heldout = 10;
    const DateTask task = make_date_task(o);
    const attend::testing::TempDir tmp;
    const std::string path = tmp.path("pairs.tsv");
    write_pairs_tsv(path, task.train);
    const auto back = read_pairs_tsv(path);
    ASSERT_EQ(back.size(), task.train.size());
    for (size_t i = 0; i < back.size(); ++i) {
        EXPECT_EQ(back[i].source, task.train[i].source);
        EXPECT_EQ(back[i].target, task.train[i].target);
    }
}

TEST(TranslationTask, ExactMatchCountsTheDecodersOutputs) {
    // An untrained model: the counts must agree with decoding directly and with the targets.
    DateTaskOptions o;
    o.n_train = 200, o.n_heldout = 12;
    const DateTask task = make_date_task(o);
    std::string all;
    for (const auto& p : task.train) all += p.source + p.target;
    for (const auto& p : task.heldout) all += p.source + p.target;
    const CharTokenizer vocab = CharTokenizer::from_text(all, {"<pad>", "<bos>", "<eos>"});
    TrainOptions t;
    t.arch = TrainArch::seq2seq, t.layers = 1, t.heads = 2, t.dim = 16, t.block_size = 64;
    const Transformer model(training_config(t, vocab.vocab_size()), 1);
    BeamSearchOptions beam;
    beam.beam_width = 2, beam.max_length = 12;
    const TranslationEval e = evaluate_translation(model, vocab, task.heldout, beam);
    ASSERT_EQ(e.total, 12);
    ASSERT_EQ(e.greedy.size(), 12u);
    ASSERT_EQ(e.beam.size(), 12u);
    std::vector<std::vector<int64_t>> sources;
    for (const auto& p : task.heldout) sources.push_back(vocab.encode(p.source));
    beam.bos = *vocab.bos_id(), beam.eos = *vocab.eos_id();
    beam.suppress = {*vocab.pad_id(), *vocab.bos_id()};
    const auto greedy = greedy_decode(model, sources, beam);
    int64_t correct = 0;
    for (size_t i = 0; i < 12; ++i) {
        EXPECT_EQ(e.greedy[i], vocab.decode(greedy[i], /*skip_special=*/true));
        correct += e.greedy[i] == task.heldout[i].target;
    }
    EXPECT_EQ(e.greedy_correct, correct);

}

}  // namespace
}  // namespace attend
