// viz/heatmap.hpp — attention maps as pictures: rows are queries (the token that looks),
// columns are keys (the tokens it looks at), each cell coloured by the weight.
//
//   render_layer_heatmap   one layer, its heads as tiles in a grid ("head 0", "head 1", ...)
//   render_mean_heatmap    one layer, the weights averaged over its heads, larger, with the
//                          value written in each cell when the cells are big enough
//
// Every tile carries the query tokens on its left and the key tokens below it, rotated to
// read bottom to top (as matplotlib's rotation=90 tick labels); when cells are smaller than a
// line of text only every n-th label is written. Colour is viridis on the fixed range [0, 1]
// (dark purple 0, yellow 1) — not stretched per tile, so tiles compare with each other; a
// colour bar at the right says so. Keys a causal mask hides from a query are light grey,
// distinct from a weight of 0.
//
// Implemented in src/viz/heatmap.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "attend/viz/image.hpp"
#include "attend/viz/record.hpp"

namespace attend::viz {

// matplotlib's viridis (CC0, van der Walt & Smith), t clamped to [0, 1].
Rgb viridis(float t);
constexpr Rgb kMaskedColour{232, 232, 232};

struct HeatmapStyle {
    int cell = 0;              // pixels per weight; 0: from the sequence length
    int max_label_chars = 14;  // longer token labels are cut, ending in ".."
    int max_columns = 4;       // head tiles per row of the grid
};

// Where things were drawn, so a caller (or a test) can find weight (q, k) of tile t: its
// cell_size × cell_size block starts at (origin[t].x + k·cell, origin[t].y + q·cell).
struct HeatmapLayout {
    struct Point {
        int x = 0, y = 0;
    };
    int cell = 0;
    int64_t n_queries = 0, n_keys = 0;
    std::vector<Point> origin;  // per tile: top-left of its matrix

    int cell_x(size_t tile, int64_t key) const { return origin[tile].x + int(key) * cell; }
    int cell_y(size_t tile, int64_t query) const { return origin[tile].y + int(query) * cell; }
};

Image render_layer_heatmap(const AttentionMap& map, int64_t layer, const HeatmapStyle& style = {},
                           HeatmapLayout* layout = nullptr);
Image render_mean_heatmap(const AttentionMap& map, int64_t layer, const HeatmapStyle& style = {},
                          HeatmapLayout* layout = nullptr);

}  // namespace attend::viz
