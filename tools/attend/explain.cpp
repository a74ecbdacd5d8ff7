// tools/attend/explain.cpp — `attend explain "the cat sat on the mat"`: the seeds' worked
// example of self-attention, printed step by step as tables, computed by the real library.
//
//   basic (default):  w_ij = softmax_j(x_i · x_j),          z_i = Σ_j w_ij x_j
//   --window W:       only neighbours |i − j| ≤ W take part (the others score −inf → weight 0)
//   --scaled:         Q = X W_q, K = X W_k, V = X W_v,
//                     w_ij = softmax_j(q_i · k_j / √d_k),   z_i = Σ_j w_ij v_j
//
// Embeddings are small and deterministic so a reader can redo the arithmetic by hand:
// the word's 64-bit FNV-1a hash, mixed with --seed, seeds an attend::Generator; its first
// `dim` uniform draws in [−1, 1), rounded to two decimals, are the word's vector. The same
// word therefore always gets the same vector ("the" twice in the example gives two equal
// rows), whatever sentence it appears in.
//
// Weights and outputs come from attend::basic_self_attention and attend::attention
// (reference path, return_weights); only the raw-score table is formed here, with
// attend::matmul, because the library hands back weights, not scores.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "attend/attention.hpp"
#include "attend/error.hpp"
#include "attend/ops.hpp"
#include "attend/random.hpp"
#include "attend/tensor.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct ExplainOptions {
    std::string text;
    int64_t dim = 4;
    int64_t d_k = 0;       // 0: same as dim
    int64_t window = -1;   // < 0: every token sees every token
    bool scaled = false;
    uint64_t seed = 0;
};

// ---- tokens and embeddings -----------------------------------------------------------

// Lower-cased words: maximal runs of letters, digits and apostrophes; everything else
// separates words and is dropped. Bytes >= 0x80 (UTF-8) are kept as word characters, as
// they are (only ASCII letters are lower-cased).
std::vector<std::string> words_of(const std::string& text) {
    std::vector<std::string> words;
    std::string current;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '\'' || c >= 0x80) {
            current += char(std::tolower(c));
        } else if (!current.empty()) {
            words.push_back(current);
            current.clear();
        }
    }
    if (!current.empty()) words.push_back(current);
    return words;
}

uint64_t fnv1a64(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

// x (T, dim): row i is the vector of words[i] (see the file comment for the recipe).
Tensor embed(const std::vector<std::string>& words, int64_t dim, uint64_t seed) {
    std::vector<float> values;
    values.reserve(words.size() * size_t(dim));
    for (const auto& word : words) {
        Generator gen(fnv1a64(word) ^ seed);
        for (int64_t d = 0; d < dim; ++d) values.push_back(std::round(gen.uniform(-1.f, 1.f) * 100.f) / 100.f);
    }
    return Tensor::from_vector({int64_t(words.size()), dim}, values);
}

// A (rows, cols) projection matrix, N(0, 1) rounded like the embeddings: with embeddings in
// [-1, 1) this gives scaled scores of order 1, so the softmax rows are neither flat nor
// one-hot. `which` keeps W_q, W_k and W_v apart for one seed.
Tensor projection(int64_t rows, int64_t cols, uint64_t seed, uint64_t which) {
    Generator gen(seed * 0x9e3779b97f4a7c15ULL + which);
    std::vector<float> values(size_t(rows * cols));
    for (auto& v : values) v = std::round(gen.normal(0.f, 1.f) * 100.f) / 100.f;
    return Tensor::from_vector({rows, cols}, values);
}

// ---- aligned tables ------------------------------------------------------------------

// Display width of a UTF-8 string: one column per code point (a word may be "café").
size_t width_of(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string pad_left(const std::string& s, size_t width) {
    const size_t w = width_of(s);
    return w >= width ? s : std::string(width - w, ' ') + s;
}
std::string pad_right(const std::string& s, size_t width) {
    const size_t w = width_of(s);
    return w >= width ? s : s + std::string(width - w, ' ');
}

std::string fixed(float v, int decimals) {
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, double(v));
    std::string s = buffer;
    if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // no "-0.000"
    return s;
}

struct Table {
    std::string corner;                      // heading of the label column
    std::vector<std::string> columns;        // column headings
    std::vector<std::string> rows;           // row labels
    std::vector<std::vector<std::string>> cells;
};

void print_table(const Table& t) {
    size_t label_width = width_of(t.corner);
    for (const auto& r : t.rows) label_width = std::max(label_width, width_of(r));
    std::vector<size_t> widths(t.columns.size());
    for (size_t c = 0; c < t.columns.size(); ++c) {
        widths[c] = width_of(t.columns[c]);
        for (const auto& row : t.cells) widths[c] = std::max(widths[c], width_of(row[c]));
    }
    std::string line = "  " + pad_right(t.corner, label_width) + " |";
    for (size_t c = 0; c < t.columns.size(); ++c) line += "  " + pad_left(t.columns[c], widths[c]);
    std::printf("%s\n", line.c_str());
    size_t rule = label_width + 2;
    for (size_t w : widths) rule += w + 2;
    std::printf("  %s+%s\n", std::string(label_width + 1, '-').c_str(), std::string(rule - label_width - 2, '-').c_str());
    for (size_t r = 0; r < t.rows.size(); ++r) {
        line = "  " + pad_right(t.rows[r], label_width) + " |";
        for (size_t c = 0; c < t.columns.size(); ++c) line += "  " + pad_left(t.cells[r][c], widths[c]);
        std::printf("%s\n", line.c_str());
    }
    std::printf("\n");
}

// Row labels "0 the", "1 cat", ...: the index tells repeated words apart.
std::vector<std::string> token_labels(const std::vector<std::string>& words) {
    std::vector<std::string> labels;
    for (size_t i = 0; i < words.size(); ++i) labels.push_back(std::to_string(i) + " " + words[i]);
    return labels;
}

std::vector<std::string> numbered(const std::string& prefix, int64_t n) {
    std::vector<std::string> names;
    for (int64_t i = 0; i < n; ++i) names.push_back(prefix + std::to_string(i));
    return names;
}

// A (rows, cols) matrix as a table; `masked(i, j)` cells print as `masked_text`.
template <class Masked>
Table matrix_table(const Tensor& m, std::string corner, std::vector<std::string> rows,
                   std::vector<std::string> columns, int decimals, Masked masked, const char* masked_text) {
    const Tensor c = m.contiguous();
    const int64_t R = c.size(0), C = c.size(1);
    const float* p = c.data();
    Table t{std::move(corner), std::move(columns), std::move(rows), {}};
    for (int64_t i = 0; i < R; ++i) {
        std::vector<std::string> row;
        for (int64_t j = 0; j < C; ++j) row.push_back(masked(i, j) ? masked_text : fixed(p[i * C + j], decimals));
        t.cells.push_back(std::move(row));
    }
    return t;
}

Table matrix_table(const Tensor& m, std::string corner, std::vector<std::string> rows,
                   std::vector<std::string> columns, int decimals) {
    return matrix_table(m, std::move(corner), std::move(rows), std::move(columns), decimals,
                        [](int64_t, int64_t) { return false; }, "");
}

// The weights table gets a last column with each row's sum (1 by construction of softmax).
Table weights_table(const Tensor& w, const std::vector<std::string>& labels, const std::vector<std::string>& words) {
    Table t = matrix_table(w, "i \\ j", labels, words, 3);
    t.columns.push_back("sum");
    const Tensor row_sums = sum(w, 1);
    for (size_t i = 0; i < t.rows.size(); ++i) t.cells[i].push_back(fixed(row_sums.at({int64_t(i)}), 3));
    return t;
}

void section(const char* title, const std::string& explanation) {
    std::printf("%s\n%s\n\n", title, explanation.c_str());
}

// "Token i attends most to ...": read the weights back in words.
void summarise(const Tensor& w, const std::vector<std::string>& words) {
    const int64_t T = w.size(0);
    int64_t self_top = 0;
    std::printf("Reading the weights: the token each row attends to most\n");
    for (int64_t i = 0; i < T; ++i) {
        int64_t best = i;  // on a tie (a repeated word), name the token itself
        for (int64_t j = 0; j < T; ++j)
            if (w.at({i, j}) > w.at({i, best})) best = j;
        self_top += best == i;
        std::printf("  %-*s -> %s (%s)\n", 12, (std::to_string(i) + " " + words[size_t(i)]).c_str(),
                    (std::to_string(best) + " " + words[size_t(best)]).c_str(), fixed(w.at({i, best}), 3).c_str());
    }
    std::printf("\n");
    if (self_top == T)
        std::printf("Every token attends most to itself: x_i . x_i = |x_i|^2 tends to be the largest score\n"
                    "in its row. Learned projections (--scaled) let a token look elsewhere.\n");
}

// ---- the two walkthroughs --------------------------------------------------------------

std::string mask_note(int64_t window) {
    if (window < 0) return "";
    return "Neighbourhood window " + std::to_string(window) + ": token i only sees tokens j with |i - j| <= " +
           std::to_string(window) + ";\nthe others score -inf, so their weight is exactly 0.\n";
}

void explain_basic(const ExplainOptions& o, const std::vector<std::string>& words, const Tensor& x) {
    const int64_t D = x.size(1);
    const auto labels = token_labels(words);
    auto masked = [&](int64_t i, int64_t j) { return o.window >= 0 && std::llabs(i - j) > o.window; };

    std::printf("Basic self-attention: no learned weights, no scaling\n"
                "  w_ij = softmax_j(x_i . x_j)      z_i = sum_j w_ij x_j\n%s\n",
                mask_note(o.window).c_str());

    section("1. Embeddings x_i",
            "row i: the " + std::to_string(D) + "-dimensional vector of token i. The word's FNV-1a hash (xor seed " +
                std::to_string(o.seed) + ")\nseeds attend::Generator; its first " + std::to_string(D) +
                " uniform draws in [-1, 1), rounded to two decimals, are\nthe vector, so a word always gets the "
                "same vector (a repeated word gives equal rows).");
    print_table(matrix_table(x, "token", labels, numbered("d", D), 2));

    const Tensor scores = matmul(x, x.transpose(0, 1));  // (T, T)
    section("2. Raw scores s_ij = x_i . x_j",
            "row i, column j: dot product of token i's vector with token j's" +
                std::string(o.window >= 0 ? " (-inf: outside the window)" : ""));
    print_table(matrix_table(scores, "i \\ j", labels, words, 2, masked, "-inf"));

    Tensor weights;
    const Tensor z = basic_self_attention(x, o.window, &weights);  // z (T, D), weights (T, T)
    section("3. Softmax of each row: w_ij = exp(s_ij) / sum_k exp(s_ik)",
            "row i: how much token i attends to each token j (each row sums to 1)");
    print_table(weights_table(weights, labels, words));

    section("4. Outputs z_i = sum_j w_ij x_j",
            "row i: token i's new vector, the weighted mix of the vectors it attends to");
    print_table(matrix_table(z, "token", labels, numbered("d", D), 3));

    summarise(weights, words);
}

void explain_scaled(const ExplainOptions& o, const std::vector<std::string>& words, const Tensor& x) {
    const int64_t T = x.size(0), D = x.size(1), dk = o.d_k > 0 ? o.d_k : D;
    const auto labels = token_labels(words);
    auto masked = [&](int64_t i, int64_t j) { return o.window >= 0 && std::llabs(i - j) > o.window; };

    std::printf("Scaled dot-product attention (Vaswani et al. 2017): learned projections, scaled scores\n"
                "  Q = X W_q   K = X W_k   V = X W_v\n"
                "  w_ij = softmax_j(q_i . k_j / sqrt(d_k))      z_i = sum_j w_ij v_j\n%s\n",
                mask_note(o.window).c_str());

    section("1. Embeddings x_i", "row i: the " + std::to_string(D) + "-dimensional vector of token i (as in the basic form)");
    print_table(matrix_table(x, "token", labels, numbered("d", D), 2));

    const Tensor wq = projection(D, dk, o.seed, 1), wk = projection(D, dk, o.seed, 2), wv = projection(D, dk, o.seed, 3);
    section("2. Projections W_q, W_k, W_v",
            "(" + std::to_string(D) + " x " + std::to_string(dk) + " each, drawn from N(0, 1) with seed " +
                std::to_string(o.seed) + ", two decimals; in a model they are learned)");
    const char* names[] = {"W_q", "W_k", "W_v"};
    const Tensor* ws[] = {&wq, &wk, &wv};
    for (int n = 0; n < 3; ++n) {
        std::printf("%s\n", names[n]);
        print_table(matrix_table(*ws[n], "in", numbered("d", D), numbered("k", dk), 2));
    }

    const Tensor q = matmul(x, wq), k = matmul(x, wk), v = matmul(x, wv);  // (T, dk)
    section("3. Queries, keys and values: Q = X W_q, K = X W_k, V = X W_v",
            "row i: what token i looks for (q_i), what it offers to be found by (k_i), what it passes on (v_i)");
    const char* qkv_names[] = {"Q", "K", "V"};
    const Tensor* qkv[] = {&q, &k, &v};
    for (int n = 0; n < 3; ++n) {
        std::printf("%s\n", qkv_names[n]);
        print_table(matrix_table(*qkv[n], "token", labels, numbered("k", dk), 3));
    }

    const float inv_sqrt_dk = 1.f / std::sqrt(float(dk));
    const Tensor scores = scale(matmul(q, k.transpose(0, 1)), inv_sqrt_dk);  // (T, T)
    section("4. Scaled scores s_ij = q_i . k_j / sqrt(d_k)",
            "row i, column j: how well token i's query matches token j's key (d_k = " + std::to_string(dk) + ")" +
                (o.window >= 0 ? "; -inf: outside the window" : ""));
    print_table(matrix_table(scores, "i \\ j", labels, words, 3, masked, "-inf"));

    // attend::attention works on (B, H, T, D): one sequence, one head.
    AttentionMask mask;
    mask.window = o.window;
    AttentionOptions options;
    options.path = AttentionPath::reference;
    options.return_weights = true;
    const AttentionOutput out = attention(q.reshape({1, 1, T, dk}), k.reshape({1, 1, T, dk}),
                                          v.reshape({1, 1, T, dk}), mask, options);
    const Tensor weights = out.weights.reshape({T, T}), z = out.output.reshape({T, dk});

    section("5. Softmax of each row",
            "row i: how much token i attends to each token j (each row sums to 1)");
    print_table(weights_table(weights, labels, words));

    section("6. Outputs z_i = sum_j w_ij v_j",
            "row i: token i's new vector, the weighted mix of the values it attends to");
    print_table(matrix_table(z, "token", labels, numbered("k", dk), 3));

    summarise(weights, words);
}

void run_explain(const ExplainOptions& o) {
    const auto words = words_of(o.text);
    if (words.empty())
        throw Error("explain: the text has no words (got \"" + o.text +
                    "\"); try: attend explain \"the cat sat on the mat\"");
    std::printf("Tokens (lower-cased words): ");
    for (size_t i = 0; i < words.size(); ++i) std::printf("%s%zu:%s", i ? "  " : "", i, words[i].c_str());
    std::printf("\n\n");
    const Tensor x = embed(words, o.dim, o.seed);  // (T, dim)
    if (o.scaled)
        explain_scaled(o, words, x);
    else
        explain_basic(o, words, x);
}

}  // namespace

void explain_sentence(const std::string& text) {
    ExplainOptions options;
    options.text = text;
    run_explain(options);
}

void register_explain(CLI::App& app) {
    auto options = std::make_shared<ExplainOptions>();
    CLI::App* cmd = app.add_subcommand("explain", "Walk through self-attention step by step on a short sentence");
    cmd->footer(
        "\nPrints the embeddings, the raw scores x_i.x_j, the softmax rows and the outputs\n"
        "z_i = sum_j w_ij x_j as tables, computed by attend::basic_self_attention (or, with\n"
        "--scaled, attend::attention on Q = X W_q, K = X W_k, V = X W_v).\n"
        "Each word's embedding is fixed by a hash of the word and --seed.\n\n"
        "Examples:\n"
        "  attend explain \"the cat sat on the mat\"\n"
        "  attend explain --window 1 \"the cat sat on the mat\"\n"
        "  attend explain --scaled --dim 4 --dk 3 \"the cat sat on the mat\"");
    cmd->add_option("text", options->text, "The sentence to explain (words are lower-cased; punctuation is dropped)")
        ->required();
    cmd->add_option("--dim", options->dim, "Embedding dimension")->check(whole_number(1, 64))
        ->capture_default_str();
    CLI::Option* dk = cmd->add_option("--dk", options->d_k, "Query/key/value dimension d_k for --scaled (default: --dim)")
                          ->check(whole_number(1, 64));
    cmd->add_option("--window", options->window, "Neighbourhood: token i attends only to tokens j with |i-j| <= W")
        ->check(whole_number(0, uint64_t(1) << 30));
    CLI::Option* scaled = cmd->add_flag("--scaled", options->scaled, "Show the Q/K/V form: softmax(Q K^T / sqrt(d_k)) V");
    dk->needs(scaled);
    cmd->add_option("--seed", options->seed, "Seed mixed into the embeddings and projections")
        ->check(whole_number(0, kMaxSeed))
        ->capture_default_str();
    cmd->callback([options] { run_explain(*options); });
}

}  // namespace attend::cli
