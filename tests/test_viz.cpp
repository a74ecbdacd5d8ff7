// viz: capturing attention from the real model, and the pictures made of it, checked the way a
// person would check them.
//
//   capture    the weights a captured pass hands back equal softmax(QKᵀ/√d + mask) computed
//              here in double from the model's own parameters, layer by layer (self and
//              cross); rows sum to 1; the captured pass's logits equal the uncaptured one's
//   PNG        files decode with libpng, have the size drawn, and every cell carries its
//              weight: a known diagonal pattern reads back as viridis(1) on the diagonal and
//              viridis(0) off it (bright vs dark), masked keys grey, labels inked beside the
//              matrix; not a blank image
//   HTML/JSON  the page embeds the record as JSON that parses back to the same weights, needs
//              no network, and survives tokens that look like markup; the JSON file round-trips
//              every float exactly
//   report     write_attention_report's files, and `attend viz` on a saved model
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/models/transformer.hpp"
#include "attend/ops.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/viz/heatmap.hpp"
#include "attend/viz/html.hpp"
#include "attend/viz/image.hpp"
#include "attend/viz/record.hpp"
#include "attend/viz/report.hpp"
#include "support/files.hpp"
#include "support/worst.hpp"

using namespace attend;
using attend::testing::read_file;
using attend::testing::TempDir;
using attend::testing::worst_of;
namespace fs = std::filesystem;

namespace {

// ---- helpers ---------------------------------------------------------------------------------

TransformerConfig small_decoder() {
    TransformerConfig c;
    c.shape = ModelShape::decoder;
    c.head = HeadType::lm;
    c.vocab_size = 40;
    c.d_model = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;  // grouped-query: the weights still come per query head
    c.d_ff = 64;
    c.max_positions = 32;
    c.positions = PositionType::learned;
    c.init_std = 0.3f;  // sharper attention than 0.02 gives, so rows are far from uniform
    return c;
}

TransformerConfig small_seq2seq() {
    TransformerConfig c;
    c.shape = ModelShape::encoder_decoder;
    c.head = HeadType::seq2seq;
    c.vocab_size = 40;
    c.d_model = 32;
    c.n_layers = 2;
    c.n_encoder_layers = 1;
    c.n_heads = 4;
    c.d_ff = 64;
    c.max_positions = 32;
    c.positions = PositionType::sinusoidal;
    c.init_std = 0.3f;
    return c;
}

TokenBatch batch_of(const std::vector<int64_t>& ids) {
    TokenBatch t;
    t.ids = ids;
    t.shape = {1, int64_t(ids.size())};
    return t;
}

// softmax(q kᵀ / √D + causal mask) per head, in double, from the attention module's own
// projection weights: q_in (T, E) the query-side input, kv_in (S, E) the key side.
// Returns (H, T, S) row-major.
std::vector<double> expected_weights(const MultiHeadAttention& attn, const Tensor& q_in, const Tensor& kv_in,
                                     bool causal) {
    const int64_t E = attn.config().embed_dim, H = attn.config().n_heads, Hkv = attn.config().n_kv_heads;
    const int64_t D = attn.head_dim(), T = q_in.size(-2), S = kv_in.size(-2);
    const std::vector<float> xq = q_in.contiguous().to_vector(), xk = kv_in.contiguous().to_vector();
    const std::vector<float> wq = attn.q_proj.weight.to_vector(), bq = attn.q_proj.bias.to_vector();
    const std::vector<float> wk = attn.k_proj.weight.to_vector(), bk = attn.k_proj.bias.to_vector();
    const auto project = [E](const std::vector<float>& x, int64_t n, const std::vector<float>& w,
                             const std::vector<float>& b, int64_t out) {
        std::vector<double> y(size_t(n * out));
        for (int64_t i = 0; i < n; ++i)
            for (int64_t o = 0; o < out; ++o) {
                double s = b[size_t(o)];
                for (int64_t e = 0; e < E; ++e) s += double(x[size_t(i * E + e)]) * w[size_t(o * E + e)];
                y[size_t(i * out + o)] = s;
            }
        return y;
    };
    const std::vector<double> q = project(xq, T, wq, bq, H * D), k = project(xk, S, wk, bk, Hkv * D);
    std::vector<double> w(size_t(H * T * S), 0.0);
    for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / (H / Hkv);  // the key head this query head reads
        for (int64_t i = 0; i < T; ++i) {
            std::vector<double> score(static_cast<size_t>(S));
            double m = -INFINITY;
            for (int64_t j = 0; j < S; ++j) {
                double s = 0;
                for (int64_t d = 0; d < D; ++d) s += q[size_t(i * H * D + h * D + d)] * k[size_t(j * Hkv * D + g * D + d)];
                score[size_t(j)] = causal && j > i ? -INFINITY : s / std::sqrt(double(D));
                m = std::max(m, score[size_t(j)]);
            }
            double z = 0;
            for (int64_t j = 0; j < S; ++j) z += std::exp(score[size_t(j)] - m);
            for (int64_t j = 0; j < S; ++j) w[size_t((h * T + i) * S + j)] = std::exp(score[size_t(j)] - m) / z;
        }
    }
    return w;
}

double max_abs_diff(const Tensor& actual, const std::vector<double>& expected) {
    const std::vector<float> a = actual.contiguous().to_vector();
    EXPECT_EQ(a.size(), expected.size());
    double worst = 0;
    for (size_t i = 0; i < std::min(a.size(), expected.size()); ++i) worst = worst_of(worst, std::fabs(a[i] - expected[i]));
    return worst;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    const std::vector<float> x = a.contiguous().to_vector(), y = b.contiguous().to_vector();
    EXPECT_EQ(x.size(), y.size());
    double worst = 0;
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) worst = worst_of(worst, double(std::fabs(x[i] - y[i])));
    return worst;
}

// Every row of (…, Tq, Tk) sums to 1 and no weight is negative.
void expect_rows_sum_to_one(const Tensor& w, const std::string& what) {
    const int64_t Tk = w.size(-1);
    const std::vector<float> v = w.contiguous().to_vector();
    double worst = 0;
    for (size_t r = 0; r < v.size() / size_t(Tk); ++r) {
        double s = 0;
        for (int64_t k = 0; k < Tk; ++k) {
            EXPECT_GE(v[r * size_t(Tk) + size_t(k)], 0.f) << what;
            s += v[r * size_t(Tk) + size_t(k)];
        }
        worst = std::max(worst, std::fabs(s - 1.0));
    }
    EXPECT_LT(worst, 1e-5) << what << ": a row of weights does not sum to 1";
}

double luminance(viz::Rgb c) { return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b; }

// ---- capture -----------------------------------------------------------------------------

TEST(VizCapture, DecoderWeightsEqualTheSoftmaxComputedFromTheParameters) {
    const Transformer model(small_decoder(), 7);
    const std::vector<int64_t> ids = {3, 14, 15, 9, 26, 5, 35, 8};
    const int64_t T = int64_t(ids.size()), H = 4;
    NoGradGuard no_grad;
    AttentionCapture capture;
    model.forward(batch_of(ids), ForwardMode{}, &capture);
    ASSERT_EQ(capture.decoder_self.size(), 2u);
    EXPECT_TRUE(capture.encoder_self.empty() && capture.cross.empty());

    // The input to each block, built here from the model's pieces: embeddings, then block 0.
    const Tensor x0 = model.embeddings.forward(batch_of(ids));
    const Tensor x1 = model.decoder.layers[0].forward(x0);
    const Tensor inputs[2] = {x0, x1};
    for (size_t l = 0; l < 2; ++l) {
        const Tensor& w = capture.decoder_self[l];
        ASSERT_EQ(w.shape(), (Shape{1, H, T, T})) << "layer " << l;
        expect_rows_sum_to_one(w, "decoder layer " + std::to_string(l));
        const Block& block = model.decoder.layers[l];
        const Tensor h = block.self_attn_norm.forward(inputs[l]).reshape({T, 32});  // pre-norm: attention reads Norm(x)
        const double err = max_abs_diff(w, expected_weights(block.self_attn, h, h, /*causal=*/true));
        EXPECT_LT(err, 2e-5) << "layer " << l;
        std::printf("[ viz ] decoder layer %zu: max |captured - softmax(QK^T/sqrt(d))| = %.2e\n", l, err);
        // Causal: nothing above the diagonal; and the rows are not uniform (a real pattern).
        const std::vector<float> v = w.to_vector();
        float spread = 0;
        for (int64_t hh = 0; hh < H; ++hh)
            for (int64_t i = 0; i < T; ++i)
                for (int64_t j = 0; j < T; ++j) {
                    const float x = v[size_t((hh * T + i) * T + j)];
                    if (j > i) {
                        EXPECT_EQ(x, 0.f);
                    } else {
                        spread = std::max(spread, std::fabs(x - 1.f / float(i + 1)));
                    }
                }
        EXPECT_GT(spread, 0.05f) << "the test model's attention is nearly uniform: the check above is weak";
    }
}

TEST(VizCapture, CapturedForwardGivesTheSameLogits) {
    const Transformer model(small_decoder(), 11);
    const TokenBatch tokens = batch_of({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    NoGradGuard no_grad;
    AttentionCapture capture;
    const Tensor captured = model.forward(tokens, ForwardMode{}, &capture);
    // Capturing runs the reference path: identical to an uncaptured reference pass, bit for bit ...
    ForwardMode reference;
    reference.attention_path = AttentionPath::reference;
    EXPECT_EQ(max_abs_diff(captured, model.forward(tokens, reference)), 0.0);
    // ... and equal to the default (fused) pass to rounding.
    const Tensor fused = model.forward(tokens);
    const double err = max_abs_diff(captured, fused);
    EXPECT_LT(err, 1e-4);
    float largest = 0;
    for (float v : fused.to_vector()) largest = std::max(largest, std::fabs(v));
    std::printf("[ viz ] logits: captured vs fused pass max |diff| = %.2e (max |logit| %.2f)\n", err, double(largest));
}

TEST(VizCapture, Seq2SeqCrossAttentionIsTheSourceTargetAlignment) {
    const Transformer model(small_seq2seq(), 5);
    const std::vector<int64_t> src = {4, 8, 15, 16, 23, 30}, tgt = {1, 7, 12, 20};
    const int64_t S = int64_t(src.size()), T = int64_t(tgt.size()), H = 4;
    NoGradGuard no_grad;
    AttentionCapture capture;
    const Tensor logits = model.forward(batch_of(src), batch_of(tgt), ForwardMode{}, &capture);
    ASSERT_EQ(capture.encoder_self.size(), 1u);
    ASSERT_EQ(capture.decoder_self.size(), 2u);
    ASSERT_EQ(capture.cross.size(), 2u);
    EXPECT_EQ(capture.encoder_self[0].shape(), (Shape{1, H, S, S}));
    for (size_t l = 0; l < 2; ++l) {
        EXPECT_EQ(capture.decoder_self[l].shape(), (Shape{1, H, T, T}));
        ASSERT_EQ(capture.cross[l].shape(), (Shape{1, H, T, S}));
        expect_rows_sum_to_one(capture.cross[l], "cross layer " + std::to_string(l));
        expect_rows_sum_to_one(capture.decoder_self[l], "decoder self layer " + std::to_string(l));
    }
    expect_rows_sum_to_one(capture.encoder_self[0], "encoder self");

    // Cross-attention of decoder block 0, recomputed: h = x + SelfAttn(Norm₁(x)) (pre-norm),
    // queries from Norm₂(h), keys from the encoder's output.
    const Block& block = model.decoder.layers[0];
    const Tensor memory = model.encode(batch_of(src));
    const Tensor x = model.embeddings.forward(batch_of(tgt));
    AttentionMask causal;
    causal.causal = true;
    const Tensor h = add(x, block.self_attn.forward(block.self_attn_norm.forward(x), causal));
    const Tensor q_in = block.cross_attn_norm.forward(h).reshape({T, 32});
    const double err = max_abs_diff(capture.cross[0], expected_weights(*block.cross_attn, q_in, memory.reshape({S, 32}), false));
    EXPECT_LT(err, 2e-5);
    std::printf("[ viz ] cross layer 0: max |captured - softmax(QK^T/sqrt(d))| = %.2e\n", err);

    ForwardMode reference;
    reference.attention_path = AttentionPath::reference;
    EXPECT_EQ(max_abs_diff(logits, model.forward(batch_of(src), batch_of(tgt), reference)), 0.0);
    EXPECT_LT(max_abs_diff(logits, model.forward(batch_of(src), batch_of(tgt))), 1e-4);
}

TEST(VizCapture, RecordKeepsEachSequencesRealTokens) {
    // A padded batch: the record of sequence 1 (5 real tokens of 7) equals a pass on it alone.
    const Transformer model(small_decoder(), 3);
    TokenBatch batch;
    batch.ids = {1, 2, 3, 4, 5, 6, 7, /**/ 9, 8, 7, 6, 5, 0, 0};
    batch.shape = {2, 7};
    batch.lengths = {7, 5};
    NoGradGuard no_grad;
    AttentionCapture capture;
    model.forward(batch, ForwardMode{}, &capture);
    const std::vector<std::string> labels = {"a", "b", "c", "d", "e"};
    const viz::AttentionRecord padded = viz::record_from_capture(capture, model.config(), 1, labels);
    const viz::AttentionRecord alone = viz::record_attention(model, {9, 8, 7, 6, 5}, labels);
    ASSERT_EQ(padded.maps.size(), 1u);
    ASSERT_EQ(alone.maps.size(), 1u);
    EXPECT_EQ(alone.maps[0].kind, "self");
    EXPECT_TRUE(alone.maps[0].causal);
    for (int64_t l = 0; l < 2; ++l) {
        EXPECT_EQ(padded.maps[0].layers[size_t(l)].shape(), (Shape{4, 5, 5}));
        EXPECT_LT(max_abs_diff(padded.maps[0].layers[size_t(l)], alone.maps[0].layers[size_t(l)]), 1e-5);
    }
    EXPECT_THROW(viz::record_attention(model, {1, 2}, {"only one label"}), Error);
}

// ---- the canvas and the font ------------------------------------------------------------

TEST(VizImage, FontMapsUnknownCharactersToQuestionMarks) {
    EXPECT_EQ(viz::font_text("cat"), "cat");
    EXPECT_EQ(viz::font_text("h\xC3\xA9llo"), "h?llo");              // é: one code point, one '?'
    EXPECT_EQ(viz::font_text("\xF0\x9F\x98\x80!"), "?!");             // an emoji
    EXPECT_EQ(viz::font_text("a\xE2\x82"), "a??");                    // a cut sequence: one per byte
    EXPECT_EQ(viz::font_text("a\nb\tc"), "a b c");
    EXPECT_EQ(viz::font_text("\xE2\x90\xA3x\x7F"), std::string(1, viz::kVisibleSpace) + "x?");  // ␣ has a glyph, DEL not
    EXPECT_EQ(viz::text_width("abc"), 17);
    EXPECT_EQ(viz::text_width("abc", 2), 34);
    EXPECT_EQ(viz::text_width(""), 0);
}

TEST(VizImage, TextIsInkedAndRotatedTextIsTheSameGlyphsTurned) {
    viz::Image right(80, 80), up(80, 80);
    right.draw_text(10, 10, "Hi!", {0, 0, 0});
    up.draw_text(10, 60, "Hi!", {0, 0, 0}, 1, viz::TextDirection::up);
    // Every inked pixel of the upright text appears turned 90° anticlockwise in the rotated one:
    // (10 + dx, 10 + dy) upright  <->  (10 + dy, 60 - dx) rotated.
    int inked = 0;
    for (int dy = 0; dy < viz::kGlyphHeight; ++dy)
        for (int dx = 0; dx < viz::text_width("Hi!"); ++dx) {
            const bool a = right.at(10 + dx, 10 + dy) == viz::Rgb{0, 0, 0};
            const bool b = up.at(10 + dy, 60 - dx) == viz::Rgb{0, 0, 0};
            EXPECT_EQ(a, b) << "glyph pixel (" << dx << ", " << dy << ")";
            inked += a;
        }
    // 'H' alone has 7 + 7 + 3 pixels: the text is really there.
    EXPECT_GT(inked, 25);
}

TEST(VizImage, LinesBlendWithOpacity) {
    viz::Image img(50, 50);
    img.draw_line(5, 25, 45, 25, {0, 0, 255}, 0.5f);  // horizontal, on a pixel row: full coverage
    EXPECT_EQ(img.at(20, 25), (viz::Rgb{128, 128, 255}));
    EXPECT_EQ(img.at(20, 10), (viz::Rgb{255, 255, 255}));
    img.draw_line(0, 0, 49, 49, {255, 0, 0});  // the diagonal passes through every (i, i)
    EXPECT_EQ(img.at(30, 30), (viz::Rgb{255, 0, 0}));
}

TEST(VizImage, PngRoundTripsAndIsWrittenAtomically) {
    const TempDir tmp;
    const fs::path& dir = tmp.dir();
    viz::Image img(37, 23, {10, 20, 30});
    img.fill_rect(5, 5, 10, 8, {250, 128, 0});
    img.set(36, 22, {1, 2, 3});
    const std::string path = (dir / "x.png").string();
    viz::write_png(path, img);
    const viz::Image back = viz::read_png(path);
    ASSERT_EQ(back.width(), 37);
    ASSERT_EQ(back.height(), 23);
    EXPECT_EQ(back.pixels(), img.pixels());
    // Only the PNG is left: the temporary file was renamed, not copied.
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        ++files;
        EXPECT_EQ(e.path().filename(), "x.png");
    }
    EXPECT_EQ(files, 1);
    // Not a PNG, or cut short: an Error naming the file.
    std::ofstream(dir / "bad.png") << "not a png";
    EXPECT_THROW(viz::read_png((dir / "bad.png").string()), Error);
    const std::string bytes = read_file(path);
    std::ofstream(dir / "cut.png", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    EXPECT_THROW(viz::read_png((dir / "cut.png").string()), Error);
    EXPECT_THROW(viz::write_png((dir / "no" / "such" / "dir.png").string(), img), Error);
    fs::remove_all(dir);
}

TEST(VizImage, ViridisRunsFromDarkPurpleToYellow) {
    EXPECT_EQ(viz::viridis(0.f), (viz::Rgb{68, 1, 84}));
    EXPECT_EQ(viz::viridis(1.f), (viz::Rgb{253, 231, 37}));
    EXPECT_EQ(viz::viridis(0.5f), (viz::Rgb{33, 145, 140}));
    EXPECT_EQ(viz::viridis(-3.f), viz::viridis(0.f));
    EXPECT_EQ(viz::viridis(NAN), viz::viridis(0.f));
    for (int i = 0; i < 10; ++i)  // brighter as the weight grows: a reader can rank cells
        EXPECT_LT(luminance(viz::viridis(i / 10.f)), luminance(viz::viridis((i + 1) / 10.f)));
}

// ---- heatmaps ------------------------------------------------------------------------------

// Layer 0: head 0 attends to itself only (the identity), head 1 spreads evenly, head 2 looks
// at the first token. Layer 1: reversed diagonal.
viz::AttentionMap known_map(int64_t T, bool causal) {
    viz::AttentionMap m;
    m.kind = "self";
    m.title = "known pattern";
    m.causal = causal;
    for (int64_t t = 0; t < T; ++t) m.query_tokens.push_back("tok" + std::to_string(t));
    m.query_tokens[1] = "caf\xC3\xA9";  // non-ASCII: drawn with a '?'
    m.key_tokens = m.query_tokens;
    std::vector<float> l0(size_t(3 * T * T), 0.f), l1(size_t(3 * T * T), 0.f);
    for (int64_t q = 0; q < T; ++q) {
        const int64_t visible = causal ? q + 1 : T;
        for (int64_t k = 0; k < T; ++k) {
            l0[size_t((0 * T + q) * T + k)] = q == k ? 1.f : 0.f;
            l0[size_t((1 * T + q) * T + k)] = k < visible ? 1.f / float(visible) : 0.f;
            l0[size_t((2 * T + q) * T + k)] = k == 0 ? 1.f : 0.f;
            for (int64_t h = 0; h < 3; ++h) l1[size_t((h * T + q) * T + k)] = k == (causal ? 0 : T - 1 - q) ? 1.f : 0.f;
        }
    }
    m.layers = {Tensor::from_vector({3, T, T}, l0), Tensor::from_vector({3, T, T}, l1)};
    return m;
}

TEST(VizHeatmap, LayerPngCarriesEveryWeightOfEveryHead) {
    const TempDir tmp;
    const fs::path& dir = tmp.dir();
    const int64_t T = 6;
    const viz::AttentionMap map = known_map(T, false);
    viz::HeatmapLayout layout;
    const viz::Image drawn = viz::render_layer_heatmap(map, 0, {}, &layout);
    const std::string path = (dir / "layer0.png").string();
    viz::write_png(path, drawn);
    const viz::Image img = viz::read_png(path);  // what a viewer sees, decoded by libpng
    ASSERT_EQ(img.width(), drawn.width());
    ASSERT_EQ(img.height(), drawn.height());
    ASSERT_EQ(layout.origin.size(), 3u);  // one tile per head
    ASSERT_GE(layout.cell, 9);            // big enough to read (auto size for 6 tokens)

    const std::vector<float> w = map.layers[0].to_vector();
    double diag = 0, off = 0;
    for (size_t h = 0; h < 3; ++h)
        for (int64_t q = 0; q < T; ++q)
            for (int64_t k = 0; k < T; ++k) {
                // The centre and a corner of each cell: the colour of its weight.
                const int x = layout.cell_x(h, k), y = layout.cell_y(h, q);
                const viz::Rgb want = viz::viridis(w[size_t((int64_t(h) * T + q) * T + k)]);
                EXPECT_EQ(img.at(x + layout.cell / 2, y + layout.cell / 2), want) << "head " << h << " (" << q << ", " << k << ")";
                EXPECT_EQ(img.at(x + 1, y + layout.cell - 2), want);
                if (h == 0) (q == k ? diag : off) += luminance(img.at(x + layout.cell / 2, y + layout.cell / 2));
            }
    // The identity head reads as a bright diagonal on a dark field.
    diag /= double(T), off /= double(T * T - T);
    EXPECT_GT(diag - off, 150.0) << "diagonal " << diag << " vs off-diagonal " << off;

    // Labels: ink (near-black pixels) left of each matrix row band and below each matrix.
    const auto ink_in = [&](int x0, int y0, int x1, int y1) {
        int n = 0;
        for (int y = std::max(y0, 0); y < std::min(y1, img.height()); ++y)
            for (int x = std::max(x0, 0); x < std::min(x1, img.width()); ++x) n += luminance(img.at(x, y)) < 60;
        return n;
    };
    for (size_t h = 0; h < 3; ++h) {
        const int mx = layout.origin[h].x, my = layout.origin[h].y, side = int(T) * layout.cell;
        EXPECT_GT(ink_in(mx - 60, my, mx - 2, my + side), 100) << "query labels of head " << h;
        EXPECT_GT(ink_in(mx, my + side + 2, mx + side, my + side + 60), 100) << "key labels of head " << h;
    }
    // Not a blank picture: many colours.
    std::set<int> colours;
    for (size_t i = 0; i < img.pixels().size(); i += 3)
        colours.insert(img.pixels()[i] << 16 | img.pixels()[i + 1] << 8 | img.pixels()[i + 2]);
    EXPECT_GT(colours.size(), 40u);
    fs::remove_all(dir);
}

TEST(VizHeatmap, MeanPngAveragesTheHeadsAndGreysTheCausalMask) {
    const int64_t T = 5;
    const viz::AttentionMap map = known_map(T, true);
    viz::HeatmapLayout layout;
    const viz::Image img = viz::render_mean_heatmap(map, 0, {}, &layout);
    ASSERT_EQ(layout.origin.size(), 1u);
    const std::vector<float> mean = map.head_mean(0).to_vector();
    for (int64_t q = 0; q < T; ++q)
        for (int64_t k = 0; k < T; ++k) {
            // A corner pixel: the centre may hold the value written in the cell.
            const viz::Rgb got = img.at(layout.cell_x(0, k) + 1, layout.cell_y(0, q) + 1);
            EXPECT_EQ(got, k > q ? viz::kMaskedColour : viz::viridis(mean[size_t(q * T + k)])) << q << ", " << k;
        }
    // Head mean of the first row: all three heads put everything on token 0.
    EXPECT_FLOAT_EQ(mean[0], 1.f);
    EXPECT_NEAR(mean[size_t(2 * T + 2)], (1.f + 1.f / 3.f) / 3.f, 1e-6);
    // Big cells carry their value as text: inked pixels of both colours appear inside the matrix.
    ASSERT_GE(layout.cell, 22);
    int written = 0;
    for (int y = layout.cell_y(0, 0); y < layout.cell_y(0, 0) + layout.cell; ++y)
        for (int x = layout.cell_x(0, 0); x < layout.cell_x(0, 0) + layout.cell; ++x)
            written += img.at(x, y) != viz::viridis(1.f);
    EXPECT_GT(written, 5) << "the weight 1 is written in cell (0, 0)";
    // Layer out of range: an Error.
    EXPECT_THROW(viz::render_mean_heatmap(map, 2), Error);
}

TEST(VizHeatmap, LongSequencesShrinkCellsAndThinTheLabels) {
    const viz::AttentionMap map = known_map(64, true);
    viz::HeatmapLayout layout;
    const viz::Image img = viz::render_layer_heatmap(map, 1, {}, &layout);
    EXPECT_LT(layout.cell, 9);
    EXPECT_LE(img.width(), 2400);  // 3 tiles in one row stay a sensible size
    EXPECT_EQ(img.at(layout.cell_x(2, 0) + 1, layout.cell_y(2, 63) + 1), viz::viridis(1.f));  // attends to token 0
}

// ---- JSON and HTML ---------------------------------------------------------------------------

viz::AttentionRecord seq2seq_record() {
    const Transformer model(small_seq2seq(), 9);
    return viz::record_attention(model, {4, 8, 15, 16, 23}, {"le", "chat", "</script><b>x", "\"dort\"", "\xC3\xA9t\xC3\xA9"},
                                 {1, 7, 12, 20}, {"<s>", "the", "cat", "sleeps"});
}

TEST(VizJson, RoundTripsEveryWeightExactly) {
    const viz::AttentionRecord rec = seq2seq_record();
    ASSERT_EQ(rec.maps.size(), 3u);
    EXPECT_EQ(rec.maps[0].kind, "cross");
    EXPECT_EQ(rec.maps[0].query_tokens[1], "the");
    EXPECT_EQ(rec.maps[0].key_tokens[1], "chat");
    const std::string text = viz::attention_json(rec);
    const viz::AttentionRecord back = viz::parse_attention_json(text);
    ASSERT_EQ(back.maps.size(), rec.maps.size());
    for (size_t i = 0; i < rec.maps.size(); ++i) {
        EXPECT_EQ(back.maps[i].kind, rec.maps[i].kind);
        EXPECT_EQ(back.maps[i].key_tokens, rec.maps[i].key_tokens);
        EXPECT_EQ(back.maps[i].causal, rec.maps[i].causal);
        ASSERT_EQ(back.maps[i].n_layers(), rec.maps[i].n_layers());
        for (int64_t l = 0; l < rec.maps[i].n_layers(); ++l)
            EXPECT_EQ(back.maps[i].layers[size_t(l)].to_vector(), rec.maps[i].layers[size_t(l)].to_vector());
    }
    // The layout other tools read: layers × heads × queries × keys.
    const nlohmann::json j = nlohmann::json::parse(text);
    EXPECT_EQ(j["format"], "attend-attention-1");
    EXPECT_EQ(j["maps"][0]["weights"].size(), 2u);           // decoder layers
    EXPECT_EQ(j["maps"][0]["weights"][0].size(), 4u);        // heads
    EXPECT_EQ(j["maps"][0]["weights"][0][0].size(), 4u);     // target tokens
    EXPECT_EQ(j["maps"][0]["weights"][0][0][0].size(), 5u);  // source tokens
    EXPECT_THROW(viz::parse_attention_json("{\"format\": \"something else\"}"), Error);
    EXPECT_THROW(viz::parse_attention_json("[1, 2"), Error);
}

TEST(VizHtml, PageIsSelfContainedAndEmbedsTheWeights) {
    const viz::AttentionRecord rec = seq2seq_record();
    const std::string page = viz::attention_html(rec);
    // No network: no external scripts, styles, images or fonts (the SVG namespace is a name, not a fetch).
    for (const char* bad : {"<script src", "<link rel=\"stylesheet\"", "<img", "@import", "url(", "https://"})
        EXPECT_EQ(page.find(bad), std::string::npos) << bad;
    // src/viz/page/attention.js spells its hole /*@VIRIDIS@*/null (so it parses alone); the
    // embedded page has it filled with the colour stops.
    EXPECT_EQ(page.find("@VIRIDIS@"), std::string::npos);
    EXPECT_NE(page.find("const VIRIDIS = [[68, 1, 84], "), std::string::npos);
    // The token "</script><b>x" does not end the data early: exactly the two real script ends.
    size_t ends = 0;
    for (size_t at = page.find("</script>"); at != std::string::npos; at = page.find("</script>", at + 1)) ++ends;
    EXPECT_EQ(ends, 2u);
    const std::string open = "<script type=\"application/json\" id=\"attend-data\">";
    const size_t a = page.find(open), b = page.find("</script>", a);
    ASSERT_NE(a, std::string::npos);
    const nlohmann::json data = nlohmann::json::parse(page.substr(a + open.size(), b - a - open.size()));
    ASSERT_EQ(data["maps"].size(), 3u);
    EXPECT_EQ(data["maps"][0]["key_tokens"][2], "</script><b>x");
    EXPECT_EQ(data["maps"][0]["key_tokens"][4], "\xC3\xA9t\xC3\xA9");
    double worst = 0;
    for (size_t i = 0; i < rec.maps.size(); ++i) {
        const viz::AttentionMap& m = rec.maps[i];
        for (int64_t l = 0; l < m.n_layers(); ++l) {
            const std::vector<float> w = m.layers[size_t(l)].to_vector();
            for (int64_t h = 0; h < m.n_heads(); ++h)
                for (int64_t q = 0; q < m.n_queries(); ++q)
                    for (int64_t k = 0; k < m.n_keys(); ++k)
                        worst = worst_of(worst, std::fabs(data["maps"][i]["weights"][l][h][q][k].get<double>() -
                                                          w[size_t((h * m.n_queries() + q) * m.n_keys() + k)]));
        }
    }
    EXPECT_LE(worst, 0.5e-4 + 1e-9);  // 4 decimals
    // The viewer's pieces are all there.
    for (const char* id : {"id=\"kind\"", "id=\"layer\"", "id=\"head\"", "id=\"lines\"", "id=\"matrix\"", "id=\"tooltip\""})
        EXPECT_NE(page.find(id), std::string::npos) << id;
}

// ---- the report and the command ------------------------------------------------------------

TEST(VizReport, WritesTwoPngsPerLayerAndKindThePageAndTheJson) {
    const TempDir tmp;
    const fs::path& dir = tmp.dir();
    const viz::AttentionRecord rec = seq2seq_record();
    viz::ReportOptions options;
    options.json = true;
    const viz::ReportFiles files = viz::write_attention_report((dir / "out").string(), rec, options);
    EXPECT_EQ(files.png.size(), size_t(2 * (2 + 1 + 2)));  // cross 2 layers, encoder 1, decoder 2
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir / "out")) names.insert(e.path().filename().string());
    for (const char* want : {"cross_layer0_heads.png", "cross_layer1_mean.png", "encoder_self_layer0_heads.png",
                             "decoder_self_layer1_mean.png", "attention.html", "attention.json"})
        EXPECT_TRUE(names.count(want)) << want;
    EXPECT_EQ(names.size(), files.png.size() + 2);  // and nothing else (no temporary files)
    for (const std::string& png : files.png) {
        const viz::Image img = viz::read_png(png);
        EXPECT_GT(img.width(), 100);
        EXPECT_GT(img.height(), 100);
    }
    EXPECT_EQ(viz::parse_attention_json(read_file(files.json)).maps.size(), 3u);
    fs::remove_all(dir);
}

int run(const std::string& args, std::string* output) {
    const std::string command = std::string(ATTEND_CLI) + " " + args + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return -1;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(VizCli, AttendVizOnASavedModelWritesWhatItSays) {
    const TempDir tmp;
    const fs::path& dir = tmp.dir();
    const std::string text = "the cat sat on the mat";
    const CharTokenizer tok = CharTokenizer::from_text(text);
    TransformerConfig c = small_decoder();
    c.vocab_size = tok.vocab_size();
    c.name = "tiny-char-gpt";
    const Transformer model(c, 21);
    save_model((dir / "model").string(), model);
    tok.save((dir / "model" / "tokenizer.json").string());

    std::string out;
    ASSERT_EQ(run("viz --model " + (dir / "model").string() + " --text '" + text + "' --out " + (dir / "viz").string() +
                      " --format png,html,json",
                  &out),
              0)
        << out;
    EXPECT_NE(out.find("page:"), std::string::npos) << out;
    // The written weights are the model's: equal to a capture made here on the same ids.
    const viz::AttentionRecord written = viz::parse_attention_json(read_file(dir / "viz" / "attention.json"));
    const std::vector<int64_t> ids = tok.encode(text);
    const viz::AttentionRecord here = viz::record_attention(model, ids, viz::token_labels(tok, ids));
    ASSERT_EQ(written.maps.size(), 1u);
    EXPECT_EQ(written.maps[0].query_tokens, here.maps[0].query_tokens);
    for (int64_t l = 0; l < 2; ++l)
        EXPECT_LT(max_abs_diff(written.maps[0].layers[size_t(l)], here.maps[0].layers[size_t(l)]), 1e-6);
    const viz::Image img = viz::read_png((dir / "viz" / "self_layer1_heads.png").string());
    EXPECT_GT(img.width(), 300);
    EXPECT_TRUE(fs::exists(dir / "viz" / "attention.html"));

    // Mistakes a user makes get a one-line error, not a crash.
    std::string err;
    EXPECT_EQ(run("viz --model " + (dir / "model").string() + " --source a --target b --out " + (dir / "x").string(), &err), 1);
    EXPECT_NE(err.find("--text"), std::string::npos) << err;
    err.clear();
    EXPECT_EQ(run("viz --model " + (dir / "model").string() + " --text cat --format gif --out " + (dir / "x").string(), &err), 1);
    EXPECT_NE(err.find("png, html and json"), std::string::npos) << err;
    fs::remove_all(dir);
}

// The models tests/browser/test_viz_page.py runs `attend viz` on: a character-level decoder
// and encoder-decoder, saved with their tokenizers into $ATTEND_VIZ_MODELS_DIR (or a temporary
// folder, when run as part of the suite), and checked to load back as what was saved.
TEST(VizBrowser, SavesModelsForThePageTest) {
    const char* env = std::getenv("ATTEND_VIZ_MODELS_DIR");
    const TempDir tmp;
    const fs::path dir = env ? fs::path(env) : tmp.dir();
    const CharTokenizer tok = CharTokenizer::from_text("the cat sat on the mat. le chat dort. the cat sleeps.");

    TransformerConfig dec = small_decoder();
    dec.vocab_size = tok.vocab_size();
    dec.name = "tiny char decoder";
    TransformerConfig s2s = small_seq2seq();
    s2s.vocab_size = tok.vocab_size();
    s2s.n_encoder_layers = 2;
    s2s.name = "tiny char translator";
    for (const auto& [name, config] : {std::pair{"decoder", dec}, std::pair{"seq2seq", s2s}}) {
        const Transformer model(config, 2024);
        const fs::path folder = dir / name;
        save_model(folder.string(), model);
        tok.save((folder / "tokenizer.json").string());
        const LoadedModel back = load_model(folder.string());
        EXPECT_EQ(back.config.name, config.name);
        EXPECT_EQ(back.tokenizer_path, (folder / "tokenizer.json").string());
        const std::vector<int64_t> ids = tok.encode("the cat");
        NoGradGuard no_grad;
        if (config.shape == ModelShape::decoder)
            EXPECT_EQ(max_abs_diff(back.model.forward(batch_of(ids)), model.forward(batch_of(ids))), 0.0);
        else
            EXPECT_EQ(max_abs_diff(back.model.forward(batch_of(ids), batch_of(ids)), model.forward(batch_of(ids), batch_of(ids))),
                      0.0);
    }
    if (!env) fs::remove_all(dir);
}

}  // namespace
