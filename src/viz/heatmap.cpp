// viz/heatmap.cpp — attention maps drawn as tiles of coloured cells with token labels.
//
// Layout of one image (all sizes in pixels, `cell` per weight):
//
//   title (scale 2)
//   subtitle: what the rows and columns are
//   ┌ tile ─────────────────────────────┐ ┌ tile ──── ...   colour bar
//   │            head h                 │ │                   1 ▇
//   │ query   ┌──────── Tk·cell ───────┐│ │                     ▇
//   │ labels  │ Tq·cell  weights       ││ │                   0 ▇
//   │ (right- └────────────────────────┘│ │                   masked ▢ (causal maps)
//   │ aligned)  key labels, rotated ↑   │ │
//   └───────────────────────────────────┘ └ ...
#include "attend/viz/heatmap.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include "attend/error.hpp"

namespace attend::viz {

// Eleven samples of matplotlib's 256-entry viridis table (t = 0, 0.1, ..., 1), interpolated
// linearly: within 1/255 of the full table everywhere, and the same stops the HTML page uses.
Rgb viridis(float t) {
    static constexpr std::array<std::array<float, 3>, 11> stops = {{{0.267004f, 0.004874f, 0.329415f},
                                                                    {0.282623f, 0.140926f, 0.457517f},
                                                                    {0.253935f, 0.265254f, 0.529983f},
                                                                    {0.206756f, 0.371758f, 0.553117f},
                                                                    {0.163625f, 0.471133f, 0.558148f},
                                                                    {0.127568f, 0.566949f, 0.550556f},
                                                                    {0.134692f, 0.658636f, 0.517649f},
                                                                    {0.266941f, 0.748751f, 0.440573f},
                                                                    {0.477504f, 0.821444f, 0.318195f},
                                                                    {0.741388f, 0.873449f, 0.149561f},
                                                                    {0.993248f, 0.906157f, 0.143936f}}};
    t = std::isfinite(t) ? std::clamp(t, 0.f, 1.f) : 0.f;
    const float s = t * 10.f;
    const int i = std::min(int(s), 9);
    const float f = s - float(i);
    const auto channel = [&](int c) {
        return uint8_t(std::lround(255.f * ((1.f - f) * stops[size_t(i)][size_t(c)] + f * stops[size_t(i + 1)][size_t(c)])));
    };
    return {channel(0), channel(1), channel(2)};
}

namespace {

constexpr Rgb kInk{20, 20, 20}, kGreyInk{90, 90, 90}, kFrame{150, 150, 150};
constexpr int kMargin = 16;

// A token as the bitmap font can show it: whitespace at the ends trimmed (GPT-2's " cat"
// reads "cat"), newlines and tabs written \n and \t, a token of spaces alone shown as ␣,
// long ones cut.
std::string label_text(const std::string& token, int max_chars) {
    std::string s;
    for (char c : token) s += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(1, c);
    const size_t first = s.find_first_not_of(' '), last = s.find_last_not_of(' ');
    s = first == std::string::npos ? std::string("\xE2\x90\xA3") : s.substr(first, last - first + 1);
    s = font_text(s);  // one byte per glyph, so cutting counts glyphs
    if (int(s.size()) > max_chars) s = s.substr(0, size_t(std::max(max_chars - 2, 1))) + "..";
    std::string utf8;  // back to text draw_text reads (its ␣ as UTF-8 again)
    for (char c : s) utf8 += c == kVisibleSpace ? std::string("\xE2\x90\xA3") : std::string(1, c);
    return utf8;
}

// Luminance (Rec. 601) decides whether text on a cell is written white or black.
Rgb ink_on(Rgb background) {
    const float y = 0.299f * background.r + 0.587f * background.g + 0.114f * background.b;
    return y < 140.f ? Rgb{255, 255, 255} : Rgb{0, 0, 0};
}

std::string weight_text(float w) {  // ".42", "1", "" for weights too small to matter
    if (w < 0.005f) return "";
    if (w >= 0.995f) return "1";
    char buf[8];
    std::snprintf(buf, sizeof buf, "%.2f", double(w));
    return std::string(buf + 1);  // drop the leading 0
}

struct Tile {
    std::string caption;
    std::vector<float> weights;  // (Tq, Tk)
};

struct Page {
    std::string title, subtitle;
    std::vector<std::string> queries, keys;  // already label_text
    bool causal = false;
    int cell = 0;
    int columns = 1;
    bool values = false;  // write the weight in each cell
};

Image draw(const Page& p, const std::vector<Tile>& tiles, HeatmapLayout* layout) {
    const int Tq = int(p.queries.size()), Tk = int(p.keys.size()), cell = p.cell;
    int label_w = 0, label_h = 0;
    for (const auto& q : p.queries) label_w = std::max(label_w, text_width(q));
    for (const auto& k : p.keys) label_h = std::max(label_h, text_width(k));
    label_w += 6, label_h += 6;
    // When a cell is thinner than a line of text, label every stride-th token only.
    const int stride = std::max(1, (kLineHeight + cell - 1) / cell);
    const int header = kLineHeight + 4;
    const int tile_w = label_w + Tk * cell + 28, tile_h = header + Tq * cell + label_h + 18;
    const int columns = std::min(p.columns, int(tiles.size()));
    const int rows = (int(tiles.size()) + columns - 1) / columns;
    const int grid_x = kMargin, grid_y = kMargin + 2 * kGlyphHeight + 8 + kLineHeight + 12;
    const int bar_x = grid_x + columns * tile_w, bar_w = 14, bar_h = std::clamp(Tq * cell, 90, 240);
    const int width = std::max(bar_x + bar_w + 60, text_width(p.title, 2) + 2 * kMargin);
    const int height = std::max(grid_y + rows * tile_h + kMargin, grid_y + header + bar_h + 60);
    Image img(width, height);

    img.draw_text(kMargin, kMargin, p.title, kInk, 2);
    img.draw_text(kMargin, kMargin + 2 * kGlyphHeight + 8, p.subtitle, kGreyInk);

    if (layout) *layout = HeatmapLayout{cell, Tq, Tk, {}};
    for (size_t t = 0; t < tiles.size(); ++t) {
        const int tx = grid_x + int(t) % columns * tile_w, ty = grid_y + int(t) / columns * tile_h;
        const int mx = tx + label_w, my = ty + header;  // the matrix's top-left
        if (layout) layout->origin.push_back({mx, my});
        img.draw_text(mx, ty, tiles[t].caption, kInk);
        img.stroke_rect(mx - 1, my - 1, Tk * cell + 2, Tq * cell + 2, kFrame);
        for (int q = 0; q < Tq; ++q)
            for (int k = 0; k < Tk; ++k) {
                // Query q sits at position q + (Tk - Tq) of the keys (attention.hpp's convention).
                const bool masked = p.causal && k > q + (Tk - Tq);
                const float w = tiles[t].weights[size_t(q * Tk + k)];
                const Rgb colour = masked ? kMaskedColour : viridis(w);
                img.fill_rect(mx + k * cell, my + q * cell, cell, cell, colour);
                const std::string value = p.values && !masked ? weight_text(w) : "";
                if (!value.empty())
                    img.draw_text(mx + k * cell + (cell - text_width(value)) / 2,
                                  my + q * cell + (cell - kGlyphHeight) / 2, value, ink_on(colour));
            }
        // Query labels right-aligned against the matrix, centred on their row.
        for (int q = 0; q < Tq; q += stride)
            img.draw_text(mx - 5 - text_width(p.queries[size_t(q)]), my + q * cell + (cell - kGlyphHeight) / 2,
                          p.queries[size_t(q)], kInk);
        // Key labels below, rotated to read upwards, ending just under the matrix.
        for (int k = 0; k < Tk; k += stride)
            img.draw_text(mx + k * cell + (cell - kGlyphHeight) / 2, my + Tq * cell + 4 + text_width(p.keys[size_t(k)]),
                          p.keys[size_t(k)], kInk, 1, TextDirection::up);
    }

    // The colour bar: 1 at the top, 0 at the bottom, on the same fixed scale as every tile.
    const int bar_y = grid_y + header;
    for (int y = 0; y < bar_h; ++y)
        img.fill_rect(bar_x, bar_y + y, bar_w, 1, viridis(1.f - float(y) / float(bar_h - 1)));
    img.stroke_rect(bar_x - 1, bar_y - 1, bar_w + 2, bar_h + 2, kFrame);
    img.draw_text(bar_x + bar_w + 5, bar_y, "1", kInk);
    img.draw_text(bar_x + bar_w + 5, bar_y + bar_h / 2 - 3, "0.5", kInk);
    img.draw_text(bar_x + bar_w + 5, bar_y + bar_h - kGlyphHeight, "0", kInk);
    img.draw_text(bar_x - 2, bar_y - kLineHeight - 4, "weight", kGreyInk);
    if (p.causal) {
        const int sy = bar_y + bar_h + 14;
        img.fill_rect(bar_x, sy, bar_w, bar_w, kMaskedColour);
        img.stroke_rect(bar_x - 1, sy - 1, bar_w + 2, bar_w + 2, kFrame);
        img.draw_text(bar_x - 2, sy + bar_w + 5, "masked", kGreyInk);
    }
    return img;
}

Page page_for(const AttentionMap& map, int64_t layer, const HeatmapStyle& style, int auto_span, int min_cell,
              int max_cell) {
    map.validate();
    ATTEND_CHECK(layer >= 0 && layer < map.n_layers(), map.kind, ": layer ", layer, " is outside [0, ",
                 map.n_layers(), ")");
    ATTEND_CHECK(style.cell >= 0 && style.max_columns >= 1 && style.max_label_chars >= 3,
                 "heatmap style needs cell >= 0, max_columns >= 1, max_label_chars >= 3, got ", style.cell, ", ",
                 style.max_columns, ", ", style.max_label_chars);
    Page p;
    p.causal = map.causal;
    const int64_t longest = std::max(map.n_queries(), map.n_keys());
    p.cell = style.cell > 0 ? style.cell : int(std::clamp<int64_t>(auto_span / longest, min_cell, max_cell));
    p.columns = style.max_columns;
    for (const auto& s : map.query_tokens) p.queries.push_back(label_text(s, style.max_label_chars));
    for (const auto& s : map.key_tokens) p.keys.push_back(label_text(s, style.max_label_chars));
    const auto side = [](const std::string& name, const char* role) {
        return name == "tokens" ? std::string(role) : name + " tokens (" + role + ")";
    };
    p.subtitle = "rows: " + side(map.query_side, "queries") + "  -  columns: " + side(map.key_side, "keys") +
                 "  -  each row sums to 1";
    return p;
}

}  // namespace

Image render_layer_heatmap(const AttentionMap& map, int64_t layer, const HeatmapStyle& style, HeatmapLayout* layout) {
    Page p = page_for(map, layer, style, 300, 3, 24);
    p.title = map.title + ", layer " + std::to_string(layer) + " of " + std::to_string(map.n_layers()) + ", " +
              std::to_string(map.n_heads()) + (map.n_heads() == 1 ? " head" : " heads");
    const std::vector<float> w = map.layers[size_t(layer)].to_vector();  // (H, Tq, Tk)
    const size_t per_head = size_t(map.n_queries() * map.n_keys());
    std::vector<Tile> tiles;
    for (int64_t h = 0; h < map.n_heads(); ++h)
        tiles.push_back({"head " + std::to_string(h), std::vector<float>(w.begin() + h * per_head,
                                                                           w.begin() + (h + 1) * per_head)});
    return draw(p, tiles, layout);
}

Image render_mean_heatmap(const AttentionMap& map, int64_t layer, const HeatmapStyle& style, HeatmapLayout* layout) {
    Page p = page_for(map, layer, style, 880, 4, 36);  // one map: cells of 22 px (values written) up to 40 tokens
    p.title = map.title + ", layer " + std::to_string(layer) + " of " + std::to_string(map.n_layers()) +
              ", mean of " + std::to_string(map.n_heads()) + (map.n_heads() == 1 ? " head" : " heads");
    p.columns = 1;
    p.values = p.cell >= 22;
    return draw(p, {{"all heads averaged", map.head_mean(layer).to_vector()}}, layout);
}

}  // namespace attend::viz
