// viz/html.cpp — the attention explorer page (viz/html.hpp): a template with three holes,
// @TITLE@ (HTML-escaped), @VIRIDIS@ (the colour stops heatmap.cpp uses, so the page and the
// PNGs agree) and @DATA@ (the record as JSON). The page draws everything itself from the
// data: an SVG for the head view, a canvas for the matrix view. The template is written as
// web files, src/viz/page/attention.{html,css,js}, and embedded at build time
// (viz/attention_page.hpp).
#include "attend/viz/html.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attend/viz/heatmap.hpp"
#include "viz/attention_page.hpp"

namespace attend::viz {

namespace {

std::string escape_html(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

// JSON inside <script>: a "</script>" or "<!--" in a token would end or confuse the element;
// \u003c is the same character to JSON.parse and never markup to the HTML parser.
std::string script_safe(const std::string& json) {
    std::string out;
    out.reserve(json.size());
    for (char c : json) c == '<' ? (out += "\\u003c", void()) : (out += c, void());
    return out;
}

std::string viridis_stops() {
    std::string s = "[";
    for (int i = 0; i <= 10; ++i) {
        const Rgb c = viridis(float(i) / 10.f);
        s += (i ? ", [" : "[") + std::to_string(c.r) + ", " + std::to_string(c.g) + ", " + std::to_string(c.b) + "]";
    }
    return s + "]";
}

// The template with each @NAME@ hole filled, in one pass: text that was filled in is never
// searched again, so a title containing "@DATA@" stays a title.
std::string fill(std::string_view tmpl, const std::vector<std::pair<std::string_view, std::string>>& holes) {
    std::string out;
    size_t at = 0;
    while (at < tmpl.size()) {
        const size_t open = tmpl.find('@', at);
        const size_t close = open == std::string_view::npos ? open : tmpl.find('@', open + 1);
        if (close == std::string_view::npos) break;
        const std::string_view name = tmpl.substr(open + 1, close - open - 1);
        const auto hole = std::find_if(holes.begin(), holes.end(), [&](const auto& h) { return h.first == name; });
        out.append(tmpl.substr(at, open - at));
        if (hole != holes.end()) {
            out += hole->second;
            at = close + 1;
        } else {
            out += '@';
            at = open + 1;
        }
    }
    out.append(tmpl.substr(std::min(at, tmpl.size())));
    return out;
}

}  // namespace

std::string attention_html(const AttentionRecord& record) {
    return fill(attention_page_template(), {{"TITLE", escape_html(record.title)},
                            {"VIRIDIS", viridis_stops()},
                            {"DATA", script_safe(attention_json(record, 4))}});
}

}  // namespace attend::viz
