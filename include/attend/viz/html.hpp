// viz/html.hpp — one self-contained HTML page to explore an AttentionRecord: inline CSS and
// JavaScript, the weights embedded as JSON, no network access, opens from a file:// URL.
//
//   controls     attention kind (self / cross / encoder self / decoder self), layer (a list
//                and ◀ ▶ buttons), head: "all heads" (each in its own colour), "mean of
//                heads" or one head; the coloured head chips pick one head too
//   head view    two columns of tokens, queries left and keys right, joined by lines whose
//                opacity is the weight (as bertviz's head view). Hover a token to preview its
//                lines, click to pin it (click again to release); a key token shows the
//                queries that attend to it. The key side gets bars ∝ the weight.
//   matrix view  the Tq × Tk heatmap (viridis on [0, 1], masked keys grey; with "all heads",
//                one tile per head in its colour), hover for a tooltip with the tokens and the
//                weight, click a cell to pin its query row; the pinned row (or column) is
//                outlined; a checkbox stretches the colours to the largest weight shown (long
//                inputs spread attention thin, and 0–1 then reads as uniformly dark)
//   details      the pinned token's strongest weights, in words
//
// For tests and tools, <body> carries data-kind, data-layer, data-head and data-focus
// attributes naming what is shown; the data sits in <script id="attend-data"
// type="application/json"> (attention_json with 4 decimals, '<' written \u003c).
//
// Implemented in src/viz/html.cpp; the page itself is src/viz/page/attention.{html,css,js},
// embedded at build time (cmake/embed_page.cmake).
#pragma once
#include <string>

#include "attend/viz/record.hpp"

namespace attend::viz {

std::string attention_html(const AttentionRecord& record);

}  // namespace attend::viz
