// train/translation_task.hpp — a translation task the project makes itself: dates as people
// write them → ISO 8601.
//
//   "the twenty-third of november, two thousand twenty-six"  →  "2026-11-23"
//   "nov 23 2026"                                             →  "2026-11-23"
//   "monday, november 23, 2026"                               →  "2026-11-23"
//   "23.11.2026"                                              →  "2026-11-23"
//
// Surface forms vary in order (day–month, month–day), in how numbers are written (ordinal
// words, cardinal digits, "23rd"), in month names (full, abbreviated), in the year
// ("two thousand twenty-six", "twenty twenty-six", "nineteen oh five", "2026") and carry an
// optional (correct) weekday — so the model has to read words, compose numbers and reorder
// them, and learn to ignore what does not matter. Every source is lower-case ASCII and at
// most kDateSourceMaxChars characters.
//
// Deterministic from a seed. The held-out pairs are written from dates that never occur in
// the training pairs, in any form: the calendar range is shuffled once, the first n_heldout
// dates are held out (one pair each) and the training pairs draw from the rest.
//
// Implemented in src/train/translation_task.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attend/generate/beam_search.hpp"
#include "attend/models/transformer.hpp"
#include "attend/random.hpp"
#include "attend/train/data.hpp"

namespace attend {

struct CalendarDate {
    int year = 2000, month = 1, day = 1;  // proleptic Gregorian; month 1..12, day 1..days_in_month
    bool operator==(const CalendarDate&) const = default;
};

constexpr int kDateStyles = 10;           // surface forms date_in_words knows
constexpr size_t kDateSourceMaxChars = 60;

int days_in_month(int year, int month);
int weekday_of(const CalendarDate& d);           // 0 = monday … 6 = sunday
std::string iso_date(const CalendarDate& d);     // "2026-11-23"
std::string ordinal_words(int n);                // 1..31: "first" … "thirty-first"
std::string number_words(int n);                 // 0..99: "zero" … "ninety-nine"
// One surface form of d: style in [0, kDateStyles); gen picks among a style's variants
// (how the year is said, comma or not).
std::string date_in_words(const CalendarDate& d, int style, Generator& gen);

struct TranslationPair {
    std::string source, target;
};

struct DateTaskOptions {
    int64_t n_train = 50000;
    int64_t n_heldout = 1000;
    uint64_t seed = 0;
    int first_year = 1900, last_year = 2099;
};

struct DateTask {
    std::vector<TranslationPair> train;    // random dates and styles (dates not held out)
    std::vector<TranslationPair> heldout;  // one pair per held-out date, styles cycling
};

DateTask make_date_task(const DateTaskOptions& options);

// "source<TAB>target" lines, as train/data.hpp's read_pairs reads them.
void write_pairs_tsv(const std::string& path, const std::vector<TranslationPair>& pairs);
std::vector<TranslationPair> read_pairs_tsv(const std::string& path);

// ---- evaluation: exact match of whole translations ----

struct TranslationEval {
    int64_t total = 0, greedy_correct = 0, beam_correct = 0;
    std::vector<std::string> greedy, beam;  // the model's outputs, one per pair
    double greedy_accuracy() const { return total ? double(greedy_correct) / double(total) : 0.0; }
    double beam_accuracy() const { return total ? double(beam_correct) / double(total) : 0.0; }
};

// Decodes every source greedily and with beam search (tokenizer: the model's, with bos and
// eos tokens — SpecialTokens::of; beam.bos/eos/suppress are set from it) and counts outputs
// equal to the target. beam.beam_width 0: greedy only.
TranslationEval evaluate_translation(const Transformer& model, const Tokenizer& tokenizer,
                                     const std::vector<TranslationPair>& pairs, BeamSearchOptions beam);

}  // namespace attend
