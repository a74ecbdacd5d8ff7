// viz/attention_page.hpp — the attention page's template, as src/viz/page/attention.html,
// .css and .js make it: the stylesheet and the script inlined into the page, holes still
// open (@TITLE@, @VIRIDIS@, @DATA@; viz/html.cpp fills them). The definition is generated at
// build time by cmake/embed_page.cmake (build/generated/viz/attention_page.cpp), so the web
// files are edited, and linted, as web files.
#pragma once
#include <string_view>

namespace attend::viz {

std::string_view attention_page_template();

}  // namespace attend::viz
