// train/plot.cpp — loss curves as PNG: axes with ticks, end values, axis titles, one
// anti-aliased polyline per series and a legend, on viz::Image.
#include "attend/train/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attend/error.hpp"
#include "attend/viz/image.hpp"

namespace attend {

namespace {

std::string tick_label(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, std::fabs(v) >= 1000 ? "%.0f" : "%.3g", v);
    return buf;
}

}  // namespace

void write_line_plot_png(const std::string& path, const std::vector<Series>& series, int width, int height,
                         const PlotLabels& labels) {
    ATTEND_CHECK(width >= 64 && height >= 64, "plot size ", width, "x", height, " is too small (at least 64x64)");
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const Series& s : series)
        for (size_t i = 0; i < s.x.size(); ++i)
            if (std::isfinite(s.y[i]) && std::isfinite(s.x[i])) {
                x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
                y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
            }
    if (!(x0 <= x1)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to draw: empty axes
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) y1 = y0 + 1;

    using viz::Rgb;
    const Rgb black{0, 0, 0}, grey{90, 90, 90};
    viz::Image img(width, height);
    const int left = 50, right = width - 15, top = 15, bottom = height - 30;
    auto px = [&](double x) { return left + float((x - x0) / (x1 - x0) * (right - left)); };
    auto py = [&](double y) { return bottom - float((y - y0) / (y1 - y0) * (bottom - top)); };
    img.draw_line(left, bottom, right, bottom, black);  // x axis
    img.draw_line(left, top, left, bottom, black);      // y axis
    for (int i = 0; i <= 5; ++i) {                       // ticks: small marks outside the plot
        const int tx = left + (right - left) * i / 5, ty = bottom - (bottom - top) * i / 5;
        img.draw_line(tx, bottom, tx, bottom + 4, black);
        img.draw_line(left - 4, ty, left, ty, black);
    }
    img.draw_text(left - 3, bottom + 8, tick_label(x0), black);
    const std::string xmax = tick_label(x1);
    img.draw_text(right - viz::text_width(xmax) + 3, bottom + 8, xmax, black);
    img.draw_text(2, bottom - 3, tick_label(y0), black);
    img.draw_text(2, top - 3, tick_label(y1), black);
    img.draw_text((left + right - viz::text_width(labels.x)) / 2, bottom + 16, labels.x, grey);
    img.draw_text(14, (top + bottom + viz::text_width(labels.y)) / 2, labels.y, grey, 1, viz::TextDirection::up);

    for (const Series& s : series) {
        const Rgb colour{s.r, s.g, s.b};
        bool have = false;
        float lx = 0, ly = 0;
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.y[i])) { have = false; continue; }
            const float x = px(s.x[i]), y = py(s.y[i]);
            if (have) img.draw_line(lx, ly, x, y, colour);
            else img.fill_rect(int(std::lround(x)) - 1, int(std::lround(y)) - 1, 3, 3, colour);  // a lone point shows
            lx = x, ly = y, have = true;
        }
    }

    // Legend, top right: a short line in the series' colour, then its label.
    int row = top + 4;
    for (const Series& s : series) {
        if (s.label.empty()) continue;
        const int x = right - viz::text_width(s.label) - 28;
        img.fill_rect(x - 4, row - 3, viz::text_width(s.label) + 32, viz::kLineHeight + 4, {255, 255, 255});
        img.fill_rect(x, row + 3, 18, 2, {s.r, s.g, s.b});
        img.draw_text(x + 22, row, s.label, black);
        row += viz::kLineHeight + 4;
    }
    viz::write_png(path, img);
}

}  // namespace attend
