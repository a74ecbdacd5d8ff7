// viz/report.cpp — one record written out as PNGs, the HTML page and JSON (viz/report.hpp).
#include "attend/viz/report.hpp"

#include <filesystem>

#include "attend/error.hpp"
#include "attend/viz/html.hpp"
#include "core/atomic_file.hpp"

namespace attend::viz {

namespace fs = std::filesystem;

ReportFiles write_attention_report(const std::string& out_dir, const AttentionRecord& record,
                                   const ReportOptions& options) {
    ATTEND_CHECK(!record.maps.empty(), "the attention record holds no maps: nothing to write to ", out_dir);
    ATTEND_CHECK(options.png || options.html || options.json, "no output format chosen for ", out_dir);
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    ATTEND_CHECK(!ec && fs::is_directory(out_dir), out_dir, ": cannot create the folder: ", ec.message());

    ReportFiles files;
    const fs::path dir(out_dir);
    if (options.png)
        for (const AttentionMap& map : record.maps)
            for (int64_t l = 0; l < map.n_layers(); ++l) {
                const std::string stem = map.kind + "_layer" + std::to_string(l);
                files.png.push_back((dir / (stem + "_heads.png")).string());
                write_png(files.png.back(), render_layer_heatmap(map, l, options.style));
                files.png.push_back((dir / (stem + "_mean.png")).string());
                write_png(files.png.back(), render_mean_heatmap(map, l, options.style));
            }
    if (options.html) {
        files.html = (dir / "attention.html").string();
        write_text_atomically(files.html, attention_html(record));
    }
    if (options.json) {
        files.json = (dir / "attention.json").string();
        write_text_atomically(files.json, attention_json(record));
    }
    return files;
}

}  // namespace attend::viz
