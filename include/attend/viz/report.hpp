// viz/report.hpp — everything `attend viz` writes for one AttentionRecord, in one call:
//
//   <out>/<kind>_layer<L>_heads.png   every head of layer L as a tile (viz/heatmap.hpp)
//   <out>/<kind>_layer<L>_mean.png    layer L averaged over its heads
//   <out>/attention.html              the interactive page (viz/html.hpp), self-contained
//   <out>/attention.json              the raw weights (viz/record.hpp's attention_json)
//
// <kind> is the map's kind ("self", "cross", "encoder_self", "decoder_self"); layers count
// from 0, as the parameter names do (layers.0.self_attn...). Each file is written to a
// temporary name and renamed into place.
//
//   viz::AttentionRecord rec = viz::record_attention(model, src_ids, src_labels, tgt_ids, tgt_labels);
//   viz::ReportFiles files = viz::write_attention_report("out/attention", rec);
//   std::printf("open %s\n", files.html.c_str());
//
// Implemented in src/viz/report.cpp.
#pragma once
#include <string>
#include <vector>

#include "attend/viz/heatmap.hpp"
#include "attend/viz/record.hpp"

namespace attend::viz {

struct ReportOptions {
    bool png = true;    // heatmaps, two per layer and kind
    bool html = true;   // the interactive page
    bool json = false;  // the raw weights
    HeatmapStyle style;
};

struct ReportFiles {
    std::vector<std::string> png;  // in the order written: per kind, per layer, heads then mean
    std::string html, json;        // empty when not written
};

// Creates out_dir when needed. An Error names the file that could not be written.
ReportFiles write_attention_report(const std::string& out_dir, const AttentionRecord& record,
                                   const ReportOptions& options = {});

}  // namespace attend::viz
