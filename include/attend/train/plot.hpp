// train/plot.hpp — a tiny line-plot rasteriser for loss curves, written as PNG (libpng).
//
// Axes with tick marks, a digit label at each end of both axes, one coloured polyline per
// series (points with NaN y are skipped). Implemented in src/train/plot.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attend {

struct Series {
    std::vector<double> x, y;
    uint8_t r = 0, g = 0, b = 0;
};

void write_line_plot_png(const std::string& path, const std::vector<Series>& series, int width = 640,
                         int height = 400);

}  // namespace attend
