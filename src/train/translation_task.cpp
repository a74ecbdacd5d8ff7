// train/translation_task.cpp — the dates-in-words → ISO task (see train/translation_task.hpp).
#include "attend/train/translation_task.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "core/atomic_file.hpp"

namespace attend {

namespace {

const char* kMonths[12] = {"january", "february", "march",     "april",   "may",      "june",
                           "july",    "august",   "september", "october", "november", "december"};
const char* kWeekdays[7] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
const char* kOnes[20] = {"zero",    "one",     "two",       "three",    "four",     "five",    "six",
                         "seven",   "eight",   "nine",      "ten",      "eleven",   "twelve",  "thirteen",
                         "fourteen", "fifteen", "sixteen",  "seventeen", "eighteen", "nineteen"};
const char* kTens[10] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
const char* kOrdinalOnes[20] = {"zeroth",     "first",      "second",     "third",       "fourth",
                                "fifth",      "sixth",      "seventh",    "eighth",      "ninth",
                                "tenth",      "eleventh",   "twelfth",    "thirteenth",  "fourteenth",
                                "fifteenth",  "sixteenth",  "seventeenth", "eighteenth", "nineteenth"};
const char* kOrdinalTens[4] = {"", "", "twentieth", "thirtieth"};

int64_t below(Generator& gen, int64_t n) { return int64_t(gen.next_u64() % uint64_t(n)); }
bool coin(Generator& gen) { return gen.next_u64() & 1; }

std::string abbreviation(const char* name) { return std::string(name, 3); }

// "23rd", "1st", "11th".
std::string numeric_ordinal(int n) {
    const int last = n % 10, tens = n % 100 / 10;
    const char* suffix = tens == 1 ? "th" : last == 1 ? "st" : last == 2 ? "nd" : last == 3 ? "rd" : "th";
    return std::to_string(n) + suffix;
}

// The year as people say it, with the variants in use.
std::string year_words(int y, Generator& gen) {
    const int century = y / 100, yy = y % 100;
    if (century % 10 == 0 && y < 10000 && (yy < 10 || coin(gen))) {  // "two thousand (and) six", "two thousand twenty-six"
        std::string s = number_words(century / 10) + " thousand";
        if (yy == 0) return s;
        return s + (yy < 10 && coin(gen) ? " and " : " ") + number_words(yy);
    }
    const std::string head = number_words(century);  // "nineteen", "twenty"
    if (yy == 0) return head + " hundred";
    if (yy < 10) return head + " oh " + number_words(yy);
    return head + " " + number_words(yy);
}

}  // namespace

int days_in_month(int year, int month) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    ATTEND_CHECK(month >= 1 && month <= 12, "month ", month, " is outside 1..12");
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int weekday_of(const CalendarDate& d) {
    // Days since 1970-01-01 (a Thursday) by Howard Hinnant's days_from_civil.
    const int y = d.year - (d.month <= 2);
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (d.month + (d.month > 2 ? -3 : 9)) + 2) / 5 + d.day - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const long days = long(era) * 146097 + doe - 719468;
    return int(((days % 7) + 7 + 3) % 7);  // 1970-01-01 → 3 (thursday)
}

std::string iso_date(const CalendarDate& d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
    return buf;
}

std::string number_words(int n) {
    ATTEND_CHECK(n >= 0 && n < 100, "number_words covers 0..99, got ", n);
    if (n < 20) return kOnes[n];
    return n % 10 == 0 ? kTens[n / 10] : std::string(kTens[n / 10]) + "-" + kOnes[n % 10];
}

std::string ordinal_words(int n) {
    ATTEND_CHECK(n >= 1 && n <= 39, "ordinal_words covers 1..39, got ", n);
    if (n < 20) return kOrdinalOnes[n];
    return n % 10 == 0 ? kOrdinalTens[n / 10] : std::string(kTens[n / 10]) + "-" + kOrdinalOnes[n % 10];
}

std::string date_in_words(const CalendarDate& d, int style, Generator& gen) {
    ATTEND_CHECK(style >= 0 && style < kDateStyles, "date style ", style, " is outside [0, ", kDateStyles, ")");
    ATTEND_CHECK(d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= days_in_month(d.year, d.month),
                 "not a date: ", iso_date(d));
    const std::string month = kMonths[d.month - 1], mon = abbreviation(kMonths[d.month - 1]);
    const std::string weekday = kWeekdays[weekday_of(d)];
    const std::string day = std::to_string(d.day), year = std::to_string(d.year);
    switch (style) {
    case 0: return "the " + ordinal_words(d.day) + " of " + month + (coin(gen) ? ", " : " ") + year_words(d.year, gen);
    case 1: return month + " " + ordinal_words(d.day) + (coin(gen) ? ", " : " ") + year_words(d.year, gen);
    case 2: return mon + " " + day + " " + year;
    case 3: return day + " " + month + " " + year;
    case 4: return weekday + ", " + month + " " + day + ", " + year;
    case 5: return abbreviation(weekday.c_str()) + " " + day + " " + mon + " " + year;
    case 6: return "the " + numeric_ordinal(d.day) + " of " + (coin(gen) ? month : mon) + ", " + year;
    case 7: return ordinal_words(d.day) + " " + month + " " + year_words(d.year, gen);
    case 8: {  // day first, as most of the world writes it
        char buf[32];
        if (coin(gen)) std::snprintf(buf, sizeof buf, "%02d.%02d.%04d", d.day, d.month, d.year);
        else std::snprintf(buf, sizeof buf, "%d/%d/%04d", d.day, d.month, d.year);
        return buf;
    }
    default: return month + " " + numeric_ordinal(d.day) + " " + year_words(d.year, gen);
    }
}

DateTask make_date_task(const DateTaskOptions& o) {
    ATTEND_CHECK(o.first_year >= 1000 && o.last_year <= 9999 && o.first_year <= o.last_year,
                 "years must satisfy 1000 <= first_year <= last_year <= 9999, got ", o.first_year, "..", o.last_year);
    ATTEND_CHECK(o.n_train >= 0 && o.n_heldout >= 0, "pair counts must not be negative");
    std::vector<CalendarDate> dates;
    for (int y = o.first_year; y <= o.last_year; ++y)
        for (int m = 1; m <= 12; ++m)
            for (int d = 1; d <= days_in_month(y, m); ++d) dates.push_back({y, m, d});
    ATTEND_CHECK(int64_t(dates.size()) > o.n_heldout, "the calendar range holds ", dates.size(),
                 " dates; holding out ", o.n_heldout, " leaves none to train on");
    Generator gen(o.seed * 0x9e3779b97f4a7c15ULL + 0x5eed);
    for (size_t i = dates.size() - 1; i > 0; --i) std::swap(dates[i], dates[size_t(below(gen, int64_t(i) + 1))]);

    DateTask task;
    for (int64_t i = 0; i < o.n_heldout; ++i)
        task.heldout.push_back({date_in_words(dates[size_t(i)], int(i % kDateStyles), gen), iso_date(dates[size_t(i)])});
    const int64_t pool = int64_t(dates.size()) - o.n_heldout;
    for (int64_t i = 0; i < o.n_train; ++i) {
        const CalendarDate& d = dates[size_t(o.n_heldout + below(gen, pool))];
        task.train.push_back({date_in_words(d, int(below(gen, kDateStyles)), gen), iso_date(d)});
    }
    return task;
}

void write_pairs_tsv(const std::string& path, const std::vector<TranslationPair>& pairs) {
    std::string text;
    for (const auto& p : pairs) {
        ATTEND_CHECK(p.source.find_first_of("\t\n") == std::string::npos &&
                         p.target.find_first_of("\t\n") == std::string::npos,
                     "a pair holds a tab or newline: \"", p.source, "\"");
        text.append(p.source).append(1, '\t').append(p.target).append(1, '\n');
    }
    write_text_atomically(path, text);
}

std::vector<TranslationPair> read_pairs_tsv(const std::string& path) {
    std::vector<TranslationPair> out;
    for (auto& [s, t] : read_pairs(path)) out.push_back({std::move(s), std::move(t)});
    return out;
}

TranslationEval evaluate_translation(const Transformer& model, const Tokenizer& tokenizer,
                                     const std::vector<TranslationPair>& pairs, BeamSearchOptions beam) {
    const SpecialTokens special = SpecialTokens::of(tokenizer);
    beam.bos = need_special(special.bos, tokenizer, "bos", "translation");
    beam.eos = need_special(special.eos, tokenizer, "eos", "translation");
    beam.suppress = {*special.pad, beam.bos};
    std::vector<std::vector<int64_t>> sources;
    for (const auto& p : pairs) sources.push_back(tokenizer.encode(p.source));
    const auto text = [&](const std::vector<int64_t>& ids) { return tokenizer.decode(ids, /*skip_special=*/true); };

    TranslationEval e;
    e.total = int64_t(pairs.size());
    for (const auto& ids : greedy_decode(model, sources, beam)) e.greedy.push_back(text(ids));
    if (beam.beam_width > 0) {
        beam.n_best = 1;
        for (const auto& hyps : beam_search(model, sources, beam))
            e.beam.push_back(hyps.empty() ? std::string() : text(hyps[0].tokens));
    }
    for (size_t i = 0; i < pairs.size(); ++i) {
        e.greedy_correct += e.greedy[i] == pairs[i].target;
        if (!e.beam.empty()) e.beam_correct += e.beam[i] == pairs[i].target;
    }
    return e;
}

}  // namespace attend
