// viz/image.hpp — just enough raster graphics for attention heatmaps: an RGB canvas with
// filled rectangles, anti-aliased lines with opacity, text in a built-in 5×7 bitmap font,
// and PNG files read and written with libpng.
//
//   Image img(320, 200);                                   // white
//   img.fill_rect(10, 10, 50, 20, {68, 1, 84});
//   img.draw_line(0, 0, 319, 199, {255, 0, 0}, 0.5f);       // half-transparent red
//   img.draw_text(10, 40, "the cat", {0, 0, 0});            // (10, 40): top-left of the text
//   img.draw_text(10, 190, "sat", {0, 0, 0}, 1, TextDirection::up);  // reads bottom to top
//   write_png("out/figure.png", img);                       // temporary file, then rename
//
// The font covers printable ASCII (0x20–0x7E) and ␣ (U+2423, a visible space, for tokens that
// are only spaces). Anything else in the UTF-8 text — another code point, a stray byte, a
// control character — is drawn as '?', one per code point (see font_text).
//
// Implemented in src/viz/png.cpp (canvas and PNG) and src/viz/font.cpp (the glyphs).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attend::viz {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
    friend bool operator==(const Rgb&, const Rgb&) = default;
};

enum class TextDirection {
    right,  // left to right, (x, y) is the top-left corner
    up,     // rotated 90° anticlockwise, reading bottom to top: (x, y) is where the first
            // character starts (bottom-left of the text as seen rotated), the text grows to −y
};

// Font metrics at scale 1: glyphs are 5×7 pixels, one character advances 6, a line is 9.
constexpr int kGlyphWidth = 5, kGlyphHeight = 7, kCharAdvance = 6, kLineHeight = 9;

class Image {
public:
    Image() = default;
    Image(int width, int height, Rgb background = {255, 255, 255});

    int width() const { return width_; }
    int height() const { return height_; }
    Rgb at(int x, int y) const;  // an Error outside the image
    const std::vector<uint8_t>& pixels() const { return rgb_; }  // row-major RGB, 3 bytes a pixel
    uint8_t* row(int y) { return &rgb_[size_t(y) * size_t(width_) * 3]; }
    const uint8_t* row(int y) const { return &rgb_[size_t(y) * size_t(width_) * 3]; }

    // Drawing clips to the image: whatever falls outside is dropped.
    void set(int x, int y, Rgb c);
    void blend(int x, int y, Rgb c, float alpha);  // c over the pixel with opacity alpha ∈ [0, 1]
    void fill_rect(int x, int y, int w, int h, Rgb c, float alpha = 1.f);
    void stroke_rect(int x, int y, int w, int h, Rgb c, int thickness = 1);
    // Anti-aliased (Xiaolin Wu): each pixel's coverage scales alpha.
    void draw_line(float x0, float y0, float x1, float y1, Rgb c, float alpha = 1.f);
    void draw_text(int x, int y, std::string_view utf8, Rgb c, int scale = 1,
                   TextDirection direction = TextDirection::right);

private:
    int width_ = 0, height_ = 0;
    std::vector<uint8_t> rgb_;
};

// What draw_text draws for utf8, one byte per glyph: printable ASCII as is, ␣ as kVisibleSpace,
// every other code point (or stray byte of invalid UTF-8) as '?', tab and newline as a space.
constexpr char kVisibleSpace = 0x7F;
std::string font_text(std::string_view utf8);
// Width in pixels of draw_text(utf8) at scale (its length along the text direction).
int text_width(std::string_view utf8, int scale = 1);
// The 7 rows of a glyph, 5 bits each, the high bit on the left; c: printable ASCII or kVisibleSpace.
const uint8_t* glyph_rows(char c);

// PNG, 8-bit RGB. write_png writes a temporary beside `path` (core/atomic_file.hpp) then renames it over `path`, so a reader
// sees the old file or the new one, never half of one; errors name the path.
void write_png(const std::string& path, const Image& image);
// Reads any PNG libpng decodes (grey, palette, 16-bit, alpha — composited on white) as RGB.
Image read_png(const std::string& path);

}  // namespace attend::viz
