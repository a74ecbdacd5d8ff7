// train/plot.cpp — loss curves as PNG: a white canvas, axes with tick marks, a few numbers
// in a 5×7 bitmap font, one polyline per series (Bresenham), written with libpng.
#include "attend/train/plot.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "attend/error.hpp"

namespace attend {

namespace {

struct Canvas {
    int w, h;
    std::vector<uint8_t> rgb;
    Canvas(int w_, int h_) : w(w_), h(h_), rgb(size_t(w_) * h_ * 3, 255) {}
    void set(int x, int y, uint8_t r, uint8_t g, uint8_t b) {
        if (x < 0 || y < 0 || x >= w || y >= h) return;
        uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
        p[0] = r, p[1] = g, p[2] = b;
    }
    void line(int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b) {
        const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
        const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        for (int err = dx + dy;;) {
            set(x0, y0, r, g, b);
            if (x0 == x1 && y0 == y1) break;
            const int e2 = 2 * err;
            if (e2 >= dy) err += dy, x0 += sx;
            if (e2 <= dx) err += dx, y0 += sy;
        }
    }
};

// 5×7 glyphs for digits, '.', '-' and 'e': each row a 5-bit mask, high bit on the left.
const uint8_t* glyph(char c) {
    static const uint8_t digits[10][7] = {
        {14, 17, 19, 21, 25, 17, 14}, {4, 12, 4, 4, 4, 4, 14},    {14, 17, 1, 2, 4, 8, 31},
        {31, 2, 4, 2, 1, 17, 14},     {2, 6, 10, 18, 31, 2, 2},   {31, 16, 30, 1, 1, 17, 14},
        {6, 8, 16, 30, 17, 17, 14},   {31, 1, 2, 4, 8, 8, 8},     {14, 17, 17, 14, 17, 17, 14},
        {14, 17, 17, 15, 1, 2, 12}};
    static const uint8_t dot[7] = {0, 0, 0, 0, 0, 12, 12}, minus[7] = {0, 0, 0, 31, 0, 0, 0},
                         e[7] = {0, 0, 14, 17, 31, 16, 14}, blank[7] = {};
    if (c >= '0' && c <= '9') return digits[c - '0'];
    return c == '.' ? dot : c == '-' ? minus : c == 'e' ? e : blank;
}

void text(Canvas& c, int x, int y, const std::string& s) {  // (x, y): top-left
    for (char ch : s) {
        const uint8_t* rows = glyph(ch);
        for (int r = 0; r < 7; ++r)
            for (int k = 0; k < 5; ++k)
                if (rows[r] & (16 >> k)) c.set(x + k, y + r, 0, 0, 0);
        x += 6;
    }
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, std::fabs(v) >= 1000 ? "%.0f" : "%.3g", v);
    return buf;
}

}  // namespace

void write_line_plot_png(const std::string& path, const std::vector<Series>& series, int width, int height) {
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

    Canvas c(width, height);
    const int left = 50, right = width - 15, top = 15, bottom = height - 30;
    auto px = [&](double x) { return left + int(std::lround((x - x0) / (x1 - x0) * (right - left))); };
    auto py = [&](double y) { return bottom - int(std::lround((y - y0) / (y1 - y0) * (bottom - top))); };
    c.line(left, bottom, right, bottom, 0, 0, 0);  // x axis
    c.line(left, top, left, bottom, 0, 0, 0);      // y axis
    for (int i = 0; i <= 5; ++i) {                  // ticks: small marks outside the plot
        const int tx = left + (right - left) * i / 5, ty = bottom - (bottom - top) * i / 5;
        c.line(tx, bottom, tx, bottom + 4, 0, 0, 0);
        c.line(left - 4, ty, left, ty, 0, 0, 0);
    }
    text(c, left - 3, bottom + 8, number(x0));
    const std::string xmax = number(x1);
    text(c, right - 6 * int(xmax.size()) + 3, bottom + 8, xmax);
    text(c, 2, bottom - 3, number(y0));
    text(c, 2, top - 3, number(y1));
    for (const Series& s : series) {
        bool have = false;
        int lx = 0, ly = 0;
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.y[i])) { have = false; continue; }
            const int x = px(s.x[i]), y = py(s.y[i]);
            if (have) c.line(lx, ly, x, y, s.r, s.g, s.b);
            else c.set(x, y, s.r, s.g, s.b);
            lx = x, ly = y, have = true;
        }
    }

    // Write to a temporary name and rename, so a viewer never sees half a PNG.
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    ATTEND_CHECK(f != nullptr, "cannot create ", tmp, ": ", std::strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        std::fclose(f);
        std::remove(tmp.c_str());
        ATTEND_CHECK(false, "libpng failed writing ", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, uint32_t(width), uint32_t(height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; ++y) png_write_row(png, &c.rgb[size_t(y) * width * 3]);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    const bool ok = std::fclose(f) == 0;
    ATTEND_CHECK(ok && std::rename(tmp.c_str(), path.c_str()) == 0, "cannot write ", path);
}

}  // namespace attend
