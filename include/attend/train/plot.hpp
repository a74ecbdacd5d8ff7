// train/plot.hpp — a small line plot for loss curves, written as PNG.
//
// Axes with tick marks, the value at each end of both axes, axis titles, one coloured
// polyline per series (points with NaN y are skipped) and a legend of the series' labels.
// Drawn on viz::Image (its canvas, font and PNG writer). Implemented in src/train/plot.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attend {

struct Series {
    std::vector<double> x, y;
    uint8_t r = 0, g = 0, b = 0;
    std::string label;  // in the legend; empty: not listed
};

struct PlotLabels {
    std::string x = "step", y = "loss";
};

void write_line_plot_png(const std::string& path, const std::vector<Series>& series, int width = 640,
                         int height = 400, const PlotLabels& labels = {});

}  // namespace attend
