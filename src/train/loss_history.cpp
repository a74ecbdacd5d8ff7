// train/loss_history.cpp — loss.csv, loss.png and the checkpoint's "history" (train/loss_history.hpp).
#include "train/loss_history.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "attend/profile.hpp"
#include "attend/train/plot.hpp"
#include "core/atomic_file.hpp"

namespace attend {

void write_history(const std::string& out, const std::vector<HistoryRow>& rows) {
    const PhaseScope phase("checkpoint");  // the run's files: loss.csv and loss.png too
    std::string csv = "step,train_loss,val_loss,lr\n";
    for (const HistoryRow& r : rows) {
        char line[128];
        if (std::isnan(r.val)) std::snprintf(line, sizeof line, "%lld,%.6f,,%.6g\n", (long long)r.step, r.train, r.lr);
        else std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,%.6g\n", (long long)r.step, r.train, r.val, r.lr);
        csv += line;
    }
    write_text_atomically(out + "/loss.csv", csv);
    Series train{{}, {}, 31, 119, 180, "train"}, val{{}, {}, 214, 39, 40, "validation"};
    for (const HistoryRow& r : rows) {
        train.x.push_back(double(r.step)), train.y.push_back(r.train);
        if (!std::isnan(r.val)) val.x.push_back(double(r.step)), val.y.push_back(r.val);
    }
    write_line_plot_png(out + "/loss.png", {train, val});
}

std::string history_json(const std::vector<HistoryRow>& rows) {
    nlohmann::json j = nlohmann::json::array();
    for (const HistoryRow& r : rows)
        j.push_back({r.step, r.train, std::isnan(r.val) ? nlohmann::json() : nlohmann::json(r.val), r.lr});
    return j.dump();
}

}  // namespace attend
