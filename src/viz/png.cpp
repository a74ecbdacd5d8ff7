// viz/png.cpp — the RGB canvas (rectangles, anti-aliased lines, bitmap text) and PNG files
// through libpng.
//
// Blending is "c over dst":  dst' = α·c + (1 − α)·dst  per channel, rounded.
// Lines are Xiaolin Wu's: along the major axis, each step lights the two pixels the ideal
// line falls between, with coverage 1 − frac and frac, so a line at any slope looks one pixel
// wide and smooth.
#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "attend/error.hpp"
#include "attend/viz/image.hpp"
#include "core/atomic_file.hpp"

namespace attend::viz {

Image::Image(int width, int height, Rgb background) : width_(width), height_(height) {
    ATTEND_CHECK(width > 0 && height > 0 && int64_t(width) * height <= (int64_t(1) << 28),
                 "an image must be between 1x1 and 2^28 pixels, got ", width, "x", height);
    rgb_.resize(size_t(width) * size_t(height) * 3);
    for (size_t i = 0; i < rgb_.size(); i += 3) rgb_[i] = background.r, rgb_[i + 1] = background.g, rgb_[i + 2] = background.b;
}

Rgb Image::at(int x, int y) const {
    ATTEND_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_, "pixel (", x, ", ", y, ") is outside the ", width_,
                 "x", height_, " image");
    const uint8_t* p = &rgb_[(size_t(y) * width_ + x) * 3];
    return {p[0], p[1], p[2]};
}

void Image::set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    uint8_t* p = &rgb_[(size_t(y) * width_ + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

void Image::blend(int x, int y, Rgb c, float alpha) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_ || !(alpha > 0.f)) return;
    alpha = std::min(alpha, 1.f);
    uint8_t* p = &rgb_[(size_t(y) * width_ + x) * 3];
    const auto mix = [alpha](uint8_t src, uint8_t dst) {
        return uint8_t(std::lround(alpha * float(src) + (1.f - alpha) * float(dst)));
    };
    p[0] = mix(c.r, p[0]), p[1] = mix(c.g, p[1]), p[2] = mix(c.b, p[2]);
}

void Image::fill_rect(int x, int y, int w, int h, Rgb c, float alpha) {
    const int x0 = std::max(x, 0), y0 = std::max(y, 0);
    const int x1 = std::min(int64_t(x) + w, int64_t(width_)), y1 = std::min(int64_t(y) + h, int64_t(height_));
    for (int yy = y0; yy < y1; ++yy)
        for (int xx = x0; xx < x1; ++xx) alpha >= 1.f ? set(xx, yy, c) : blend(xx, yy, c, alpha);
}

void Image::stroke_rect(int x, int y, int w, int h, Rgb c, int thickness) {
    fill_rect(x, y, w, thickness, c);
    fill_rect(x, y + h - thickness, w, thickness, c);
    fill_rect(x, y, thickness, h, c);
    fill_rect(x + w - thickness, y, thickness, h, c);
}

void Image::draw_line(float x0, float y0, float x1, float y1, Rgb c, float alpha) {
    if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
    const bool steep = std::fabs(y1 - y0) > std::fabs(x1 - x0);
    if (steep) std::swap(x0, y0), std::swap(x1, y1);  // walk the major axis as "x"
    if (x0 > x1) std::swap(x0, x1), std::swap(y0, y1);
    const float gradient = x1 == x0 ? 0.f : (y1 - y0) / (x1 - x0);
    const auto plot = [&](int major, int minor, float coverage) {
        steep ? blend(minor, major, c, alpha * coverage) : blend(major, minor, c, alpha * coverage);
    };
    const int first = int(std::lround(x0)), last = int(std::lround(x1));
    for (int x = first; x <= last; ++x) {
        const float y = y0 + gradient * (float(x) - x0);
        const float floor_y = std::floor(y), frac = y - floor_y;
        plot(x, int(floor_y), 1.f - frac);
        plot(x, int(floor_y) + 1, frac);
    }
}

void Image::draw_text(int x, int y, std::string_view utf8, Rgb c, int scale, TextDirection direction) {
    ATTEND_CHECK(scale >= 1, "text scale must be at least 1, got ", scale);
    const std::string text = font_text(utf8);
    for (size_t k = 0; k < text.size(); ++k) {
        const uint8_t* rows = glyph_rows(text[k]);
        const int advance = int(k) * kCharAdvance * scale;
        for (int gy = 0; gy < kGlyphHeight; ++gy)
            for (int gx = 0; gx < kGlyphWidth; ++gx) {
                if (!(rows[gy] & (0x10 >> gx))) continue;
                // Right: glyph column gx goes to +x, row gy to +y. Up: the whole text turned
                // 90° anticlockwise — column gx goes to −y, row gy to +x.
                // (px, py) is the top-left of the glyph pixel's scale × scale block.
                const int px = direction == TextDirection::right ? x + advance + gx * scale : x + gy * scale;
                const int py = direction == TextDirection::right ? y + gy * scale : y - advance - (gx + 1) * scale + 1;
                fill_rect(px, py, scale, scale, c);
            }
    }
}

// ---- PNG ------------------------------------------------------------------------------------

namespace {

// libpng reports errors by longjmp; these functions keep only trivially destructible locals
// alive across setjmp, as the libpng manual requires of C++ callers. Its messages are kept
// here (not printed to stderr) and end up in our Error.
struct PngMessage {
    char text[200] = "";
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
    if (auto* m = static_cast<PngMessage*>(png_get_error_ptr(png))) std::snprintf(m->text, sizeof m->text, "%s", message);
    png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

bool encode_png(FILE* f, int width, int height, png_bytep const* rows, PngMessage* message) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, const_cast<png_bytepp>(rows));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

// Reads the header into width/height, then (when rows is given) the pixels as 8-bit RGB.
struct PngReader {
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~PngReader() { png_destroy_read_struct(&png, &info, nullptr); }
};

bool read_header(PngReader& r, FILE* f, png_uint_32& width, png_uint_32& height) {
    if (setjmp(png_jmpbuf(r.png))) return false;
    png_init_io(r.png, f);
    png_read_info(r.png, r.info);
    width = png_get_image_width(r.png, r.info);
    height = png_get_image_height(r.png, r.info);
    // Whatever the file holds, hand back 8-bit RGB: expand palettes and low bit depths,
    // strip 16 bits, grey to RGB, alpha composited on white.
    png_set_expand(r.png);
    png_set_strip_16(r.png);
    png_set_gray_to_rgb(r.png);
    png_color_16 white{0, 255, 255, 255, 255};
    png_set_background(r.png, &white, PNG_BACKGROUND_GAMMA_SCREEN, 0, 1.0);
    png_set_interlace_handling(r.png);
    png_read_update_info(r.png, r.info);
    return png_get_rowbytes(r.png, r.info) == size_t(width) * 3;
}

bool read_rows(PngReader& r, png_bytepp rows) {
    if (setjmp(png_jmpbuf(r.png))) return false;
    png_read_image(r.png, rows);
    png_read_end(r.png, nullptr);
    return true;
}

}  // namespace

void write_png(const std::string& path, const Image& image) {
    ATTEND_CHECK(image.width() > 0, "cannot write an empty image to ", path);
    std::vector<png_bytep> rows(size_t(image.height()));
    for (int y = 0; y < image.height(); ++y)
        rows[size_t(y)] = const_cast<png_bytep>(image.row(y));
    PngMessage message;
    write_atomically(path, [&](FILE* f) {
        const bool ok = encode_png(f, image.width(), image.height(), rows.data(), &message);
        ATTEND_CHECK(ok, path, ": libpng could not encode the image: ", message.text);
        return ok;
    });
}

Image read_png(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    ATTEND_CHECK(f != nullptr, path, ": cannot open: ", std::strerror(errno));
    uint8_t signature[8] = {};
    const bool is_png = std::fread(signature, 1, 8, f) == 8 && png_sig_cmp(signature, 0, 8) == 0;
    if (!is_png) std::fclose(f);
    ATTEND_CHECK(is_png, path, ": not a PNG file (bad signature)");
    PngReader r;
    PngMessage message;
    r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &message, on_png_error, on_png_warning);
    r.info = r.png ? png_create_info_struct(r.png) : nullptr;
    png_uint_32 width = 0, height = 0;
    bool ok = r.png && r.info;
    if (ok) png_set_sig_bytes(r.png, 8);
    ok = ok && read_header(r, f, width, height) && width > 0 && height > 0 && uint64_t(width) * height <= (1u << 28);
    Image image;
    if (ok) {
        image = Image(int(width), int(height));
        std::vector<png_bytep> rows(height);
        for (png_uint_32 y = 0; y < height; ++y)
            rows[y] = image.row(int(y));
        ok = read_rows(r, rows.data());
    }
    std::fclose(f);
    ATTEND_CHECK(ok, path, ": cannot decode the PNG (corrupt, truncated or unsupported): ", message.text);
    return image;
}

}  // namespace attend::viz
