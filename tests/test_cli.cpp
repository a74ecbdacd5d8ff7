// End-to-end tests of the `attend` command line: run the real binary (ATTEND_CLI) the way a
// user would, read what it prints, and check the tables against each other with arithmetic
// done here in double precision — so a wrong library result, a wrong table or a table that
// does not follow from the one before it all fail.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "attend/version.hpp"
#include "support/cli.hpp"
#include "support/worst.hpp"

namespace {

using attend::testing::CliRun;
using attend::testing::run_cli;
using attend::testing::worst_of;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// One printed table:   corner | col col ...   / rule /   label | cell cell ...
struct Table {
    std::vector<std::string> columns, rows;
    std::vector<std::vector<double>> values;  // "-inf" parses as -inf
    size_t n_rows() const { return rows.size(); }
    size_t n_cols() const { return columns.size(); }
};

std::vector<std::string> split_ws(const std::string& s) {
    std::vector<std::string> parts;
    std::istringstream in(s);
    for (std::string part; in >> part;) parts.push_back(part);
    return parts;
}

// The first table after the first line that starts with `heading` (or, when `whole_line`,
// is exactly `heading`). Column headings are split on whitespace; row labels are the text
// left of '|'.
Table table_after(const std::string& output, const std::string& heading, bool whole_line = false) {
    const auto lines = lines_of(output);
    size_t i = 0;
    while (i < lines.size() && (whole_line ? lines[i] != heading : lines[i].rfind(heading, 0) != 0)) ++i;
    EXPECT_LT(i, lines.size()) << "no line starting with \"" << heading << "\" in:\n" << output;
    while (i < lines.size() && lines[i].find(" | ") == std::string::npos) ++i;
    Table t;
    if (i + 1 >= lines.size()) return t;
    t.columns = split_ws(lines[i].substr(lines[i].find('|') + 1));
    for (i += 2; i < lines.size() && lines[i].find('|') != std::string::npos; ++i) {
        const std::string& line = lines[i];
        const size_t bar = line.find('|');
        std::string label = line.substr(0, bar);
        label = label.substr(label.find_first_not_of(' '));
        label = label.substr(0, label.find_last_not_of(' ') + 1);
        t.rows.push_back(label);
        std::vector<double> row;
        for (const auto& cell : split_ws(line.substr(bar + 1))) {
            if (cell == "-inf") {
                row.push_back(-INFINITY);
            } else {
                char* end = nullptr;
                row.push_back(std::strtod(cell.c_str(), &end));
                EXPECT_EQ(*end, '\0') << "not a number: \"" << cell << "\" in line: " << line;
            }
        }
        EXPECT_EQ(row.size(), t.columns.size()) << "ragged row: " << line;
        t.values.push_back(row);
    }
    return t;
}

using Matrix = std::vector<std::vector<double>>;

Matrix product(const Matrix& a, const Matrix& b, bool transpose_b) {
    const size_t n = a.size(), m = transpose_b ? b.size() : b[0].size(), k = a[0].size();
    Matrix c(n, std::vector<double>(m, 0.0));
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < m; ++j)
            for (size_t p = 0; p < k; ++p) c[i][j] += a[i][p] * (transpose_b ? b[j][p] : b[p][j]);
    return c;
}

// Drops the trailing "sum" column of a weights table, checking it is there.
Matrix without_sum_column(const Table& t) {
    EXPECT_FALSE(t.columns.empty());
    if (t.columns.empty()) return {};
    EXPECT_EQ(t.columns.back(), "sum");
    Matrix m = t.values;
    for (auto& row : m) row.pop_back();
    return m;
}

double max_abs_diff(const Matrix& a, const Matrix& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        EXPECT_EQ(a[i].size(), b[i].size());
        for (size_t j = 0; j < a[i].size() && j < b[i].size(); ++j) {
            if (std::isinf(a[i][j]) || std::isinf(b[i][j])) {
                EXPECT_EQ(a[i][j], b[i][j]) << "at (" << i << ", " << j << ")";
                continue;
            }
            worst = worst_of(worst, std::abs(a[i][j] - b[i][j]));
        }
    }
    return worst;
}

// softmax of each row of printed scores (-inf → weight 0), in double.
Matrix softmax_rows(const Matrix& s) {
    Matrix w = s;
    for (auto& row : w) {
        double m = -INFINITY, total = 0;
        for (double v : row) m = std::max(m, v);
        for (double& v : row) total += (v = std::isinf(v) ? 0.0 : std::exp(v - m));
        for (double& v : row) v /= total;
    }
    return w;
}

// Every row of the weights sums to 1 (up to the printed 3 decimals) and agrees with its
// own "sum" column.
void expect_rows_sum_to_one(const Table& weights) {
    ASSERT_FALSE(weights.values.empty());
    for (size_t i = 0; i < weights.n_rows(); ++i) {
        const auto& row = weights.values[i];
        double total = 0;
        for (size_t j = 0; j + 1 < row.size(); ++j) {
            EXPECT_GE(row[j], 0.0);
            EXPECT_LE(row[j], 1.0);
            total += row[j];
        }
        EXPECT_NEAR(total, 1.0, 0.0005 * double(row.size())) << "row " << weights.rows[i];
        EXPECT_NEAR(row.back(), 1.0, 1e-9) << "sum column of row " << weights.rows[i];
    }
}

const char* kSentence = "'the cat sat on the mat'";

TEST(Cli, VersionPrintsTheLibraryVersion) {
    const CliRun r = run_cli("--version");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(std::string("attend ") + attend::version()), std::string::npos) << r.output;
}

TEST(Cli, HelpListsSubcommands) {
    const CliRun r = run_cli("--help");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("Subcommands:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("explain"), std::string::npos) << r.output;

    const CliRun e = run_cli("explain --help");
    EXPECT_EQ(e.status, 0) << e.output;
    for (const char* flag : {"--window", "--scaled", "--dim", "--seed", "--dk"})
        EXPECT_NE(e.output.find(flag), std::string::npos) << flag << " missing from:\n" << e.output;
}

TEST(Cli, ExplainPrintsTheWorkedExample) {
    const CliRun r = run_cli(std::string("explain ") + kSentence);
    ASSERT_EQ(r.status, 0) << r.output;

    const Table x = table_after(r.output, "1. Embeddings");
    const std::vector<std::string> labels = {"0 the", "1 cat", "2 sat", "3 on", "4 the", "5 mat"};
    EXPECT_EQ(x.rows, labels);
    ASSERT_EQ(x.n_cols(), 4u);  // default --dim 4
    EXPECT_EQ(x.values[0], x.values[4]) << "the same word must get the same vector";
    EXPECT_NE(x.values[0], x.values[1]);

    // Raw scores are the dot products of the printed (two-decimal, so exact) embeddings.
    const Table s = table_after(r.output, "2. Raw scores");
    EXPECT_EQ(s.columns, (std::vector<std::string>{"the", "cat", "sat", "on", "the", "mat"}));
    EXPECT_LE(max_abs_diff(s.values, product(x.values, x.values, true)), 0.005 + 1e-9);

    // Softmax rows sum to 1 and are the softmax of the scores.
    const Table w = table_after(r.output, "3. Softmax");
    expect_rows_sum_to_one(w);
    const Matrix weights = without_sum_column(w);
    EXPECT_LE(max_abs_diff(weights, softmax_rows(s.values)), 0.01);

    // z_i = Σ_j w_ij x_j, from the printed tables (rounding: 6 weights × 5e-4 + 5e-4).
    const Table z = table_after(r.output, "4. Outputs");
    EXPECT_EQ(z.rows, labels);
    EXPECT_LE(max_abs_diff(z.values, product(weights, x.values, false)), 0.004);
}

TEST(Cli, ExplainWindowMasksFarTokens) {
    const CliRun r = run_cli(std::string("explain --window 1 ") + kSentence);
    ASSERT_EQ(r.status, 0) << r.output;
    const Table s = table_after(r.output, "2. Raw scores");
    const Table w = table_after(r.output, "3. Softmax");
    ASSERT_EQ(w.n_rows(), 6u);
    expect_rows_sum_to_one(w);
    for (size_t i = 0; i < 6; ++i)
        for (size_t j = 0; j < 6; ++j) {
            const bool far = (i > j ? i - j : j - i) > 1;
            if (far) {
                EXPECT_EQ(w.values[i][j], 0.0) << "weight (" << i << ", " << j << ") outside the window";
                EXPECT_TRUE(std::isinf(s.values[i][j]) && s.values[i][j] < 0) << "score (" << i << ", " << j << ")";
            } else {
                EXPECT_GT(w.values[i][j], 0.0) << "weight (" << i << ", " << j << ") inside the window";
                EXPECT_TRUE(std::isfinite(s.values[i][j]));
            }
        }
    EXPECT_LE(max_abs_diff(without_sum_column(w), softmax_rows(s.values)), 0.01);

    const Table x = table_after(r.output, "1. Embeddings");
    const Table z = table_after(r.output, "4. Outputs");
    EXPECT_LE(max_abs_diff(z.values, product(without_sum_column(w), x.values, false)), 0.004);
}

TEST(Cli, ExplainScaledShowsQueriesKeysValues) {
    const CliRun r = run_cli(std::string("explain --scaled --dk 3 ") + kSentence);
    ASSERT_EQ(r.status, 0) << r.output;
    const Table x = table_after(r.output, "1. Embeddings");
    const Table wq = table_after(r.output, "W_q", true), wk = table_after(r.output, "W_k", true),
                wv = table_after(r.output, "W_v", true);
    ASSERT_EQ(wq.n_rows(), 4u);
    ASSERT_EQ(wq.n_cols(), 3u);
    const Table q = table_after(r.output, "Q", true), k = table_after(r.output, "K", true),
                v = table_after(r.output, "V", true);
    ASSERT_EQ(q.n_cols(), 3u);
    ASSERT_EQ(q.n_rows(), 6u);
    // Q = X W_q etc., from the printed two-decimal inputs (printed to 3 decimals).
    EXPECT_LE(max_abs_diff(q.values, product(x.values, wq.values, false)), 0.0005 + 1e-9);
    EXPECT_LE(max_abs_diff(k.values, product(x.values, wk.values, false)), 0.0005 + 1e-9);
    EXPECT_LE(max_abs_diff(v.values, product(x.values, wv.values, false)), 0.0005 + 1e-9);

    // Scores QKᵀ/√d_k; the inputs were rounded to 3 decimals, hence the looser bound.
    const Table s = table_after(r.output, "4. Scaled scores");
    Matrix expected = product(q.values, k.values, true);
    for (auto& row : expected)
        for (double& e : row) e /= std::sqrt(3.0);
    EXPECT_LE(max_abs_diff(s.values, expected), 0.01);

    const Table w = table_after(r.output, "5. Softmax");
    expect_rows_sum_to_one(w);
    EXPECT_LE(max_abs_diff(without_sum_column(w), softmax_rows(s.values)), 0.01);
    const Table z = table_after(r.output, "6. Outputs");
    ASSERT_EQ(z.n_cols(), 3u);
    EXPECT_LE(max_abs_diff(z.values, product(without_sum_column(w), v.values, false)), 0.01);
}

TEST(Cli, ExplainScaledWithWindow) {
    const CliRun r = run_cli(std::string("explain --scaled --window 0 ") + kSentence);
    ASSERT_EQ(r.status, 0) << r.output;
    const Table w = table_after(r.output, "5. Softmax");
    ASSERT_EQ(w.n_rows(), 6u);
    // Window 0: every token sees only itself, so the weights are the identity.
    for (size_t i = 0; i < 6; ++i)
        for (size_t j = 0; j < 6; ++j) EXPECT_EQ(w.values[i][j], i == j ? 1.0 : 0.0) << i << ", " << j;
}

TEST(Cli, EmbeddingsDependOnTheWordAndSeedOnly) {
    const CliRun a = run_cli(std::string("explain ") + kSentence);
    const CliRun b = run_cli("explain 'The dog, the END.'");
    const CliRun c = run_cli(std::string("explain --seed 7 ") + kSentence);
    ASSERT_EQ(a.status, 0) << a.output;
    ASSERT_EQ(b.status, 0) << b.output;
    ASSERT_EQ(c.status, 0) << c.output;
    const Table xa = table_after(a.output, "1. Embeddings"), xb = table_after(b.output, "1. Embeddings"),
                xc = table_after(c.output, "1. Embeddings");
    EXPECT_EQ(xb.rows, (std::vector<std::string>{"0 the", "1 dog", "2 the", "3 end"}));  // lower-cased, no punctuation
    ASSERT_EQ(xb.n_rows(), 4u);
    EXPECT_EQ(xa.values[0], xb.values[0]);  // "the" in another sentence
    EXPECT_NE(xa.values[0], xc.values[0]);  // another seed

    const CliRun wide = run_cli("explain --dim 6 'one two'");
    ASSERT_EQ(wide.status, 0) << wide.output;
    EXPECT_EQ(table_after(wide.output, "1. Embeddings").n_cols(), 6u);
}

TEST(Cli, EmptyTextIsAClearError) {
    for (const char* text : {"''", "' ,.; '"}) {
        const CliRun r = run_cli(std::string("explain ") + text);
        EXPECT_NE(r.status, 0) << r.output;
        EXPECT_NE(r.output.find("no words"), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find("Embeddings"), std::string::npos) << r.output;
    }
    const CliRun missing = run_cli("explain");
    EXPECT_NE(missing.status, 0) << missing.output;
    EXPECT_NE(missing.output.find("text"), std::string::npos) << missing.output;
}

TEST(Cli, BadFlagsAreRejected) {
    const CliRun unknown = run_cli(std::string("explain --bogus ") + kSentence);
    EXPECT_NE(unknown.status, 0) << unknown.output;
    EXPECT_NE(unknown.output.find("--bogus"), std::string::npos) << unknown.output;

    const CliRun negative = run_cli(std::string("explain --window -1 ") + kSentence);
    EXPECT_NE(negative.status, 0) << negative.output;
    EXPECT_NE(negative.output.find("window"), std::string::npos) << negative.output;

    const CliRun dk_alone = run_cli(std::string("explain --dk 3 ") + kSentence);
    EXPECT_NE(dk_alone.status, 0) << dk_alone.output;
    EXPECT_NE(dk_alone.output.find("--scaled"), std::string::npos) << dk_alone.output;

    const CliRun no_subcommand = run_cli("");
    EXPECT_NE(no_subcommand.status, 0) << no_subcommand.output;
    const CliRun unknown_subcommand = run_cli("frobnicate");
    EXPECT_NE(unknown_subcommand.status, 0) << unknown_subcommand.output;
}

}  // namespace
