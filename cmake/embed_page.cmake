# cmake/embed_page.cmake — turn a web page kept as real files (NAME.html, NAME.css, NAME.js in
# PAGE_DIR) into one C++ source that returns the page as a template (src/viz/html.cpp fills
# its @NAME@ holes). Run at build time with `cmake -P`, so a web developer edits and lints
# ordinary files and the library still carries the page inside itself (no files to install).
#
#   cmake -DPAGE_DIR=src/viz/page -DNAME=attention -DFUNCTION=attention_page_template
#         -DOUT=build/generated/viz/attention_page.cpp -P cmake/embed_page.cmake
#
# What it does to the files, and nothing else:
#   <link rel="stylesheet" href="NAME.css">  becomes  <style>\n + NAME.css + </style>
#   <script src="NAME.js"></script>          becomes  <script>\n + NAME.js + </script>
#   /*@HOLE@*/null in NAME.js                becomes  @HOLE@   (the JS file stays valid JS)
# Each tag must appear exactly once. The bytes are written as a char array (string(HEX)), so
# no character in the page can end a string literal early, and no xxd is needed.
cmake_minimum_required(VERSION 3.25)

foreach(var PAGE_DIR NAME FUNCTION OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_page.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${PAGE_DIR}/${NAME}.html" html)
file(READ "${PAGE_DIR}/${NAME}.css" css)
file(READ "${PAGE_DIR}/${NAME}.js" js)

# A JS hole is spelled /*@HOLE@*/null so that NAME.js parses on its own.
string(REGEX REPLACE "/\\*(@[A-Z_]+@)\\*/null" "\\1" js "${js}")

function(inline_once tag replacement)
  string(FIND "${html}" "${tag}" first)
  string(FIND "${html}" "${tag}" last REVERSE)
  if(first EQUAL -1 OR NOT first EQUAL last)
    message(FATAL_ERROR "${PAGE_DIR}/${NAME}.html: needs exactly one ${tag}")
  endif()
  string(REPLACE "${tag}" "${replacement}" html "${html}")
  set(html "${html}" PARENT_SCOPE)
endfunction()
inline_once("<link rel=\"stylesheet\" href=\"${NAME}.css\">" "<style>\n${css}</style>")
inline_once("<script src=\"${NAME}.js\"></script>" "<script>\n${js}</script>")

string(LENGTH "${html}" size)
string(HEX "${html}" hex)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# 32 bytes a line keeps the generated file readable in an editor (CMake's regex has no {n}).
string(REPEAT "'[^']*'," 32 line)
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")

set(source "// Generated from ${NAME}.html, ${NAME}.css and ${NAME}.js (cmake/embed_page.cmake): edit those.
#include <cstddef>
#include <string_view>

namespace attend::viz {

namespace {
constexpr char kPage[${size}] = {
    ${bytes}
};
}  // namespace

std::string_view ${FUNCTION}() { return {kPage, sizeof kPage}; }

}  // namespace attend::viz
")
# Rewritten only when the page changed, so an unchanged page recompiles nothing.
file(WRITE "${OUT}.tmp" "${source}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
