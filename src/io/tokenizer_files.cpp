// io/tokenizer_files.cpp — the search io/tokenizer_files.hpp describes.
#include "attend/io/tokenizer_files.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>
#include <vector>

namespace attend {
namespace fs = std::filesystem;

std::optional<std::string> find_tokenizer(const std::string& path, int64_t vocab_size) {
    std::error_code ec;
    const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
    const fs::path base = dir.empty() ? fs::path(".") : dir;
    const auto found = [&](const std::string& name) { return fs::is_regular_file(base / name, ec); };

    // {file, the file it needs beside it}
    std::vector<std::pair<std::string, std::string>> order;
    if (vocab_size > 0) order.push_back({"tok" + std::to_string(vocab_size) + ".bin", ""});
    for (auto c : std::vector<std::pair<std::string, std::string>>{{"tokenizer.json", ""},
                                                                   {"vocab.json", "merges.txt"},
                                                                   {"encoder.json", "vocab.bpe"},
                                                                   {"vocab.txt", ""},
                                                                   {"tokenizer.bin", ""}})
        order.push_back(std::move(c));
    for (const auto& [name, needs] : order)
        if (found(name) && (needs.empty() || found(needs))) return (base / name).string();

    // llama2.c names its trained vocabularies tok<N>.bin (tok512.bin, tok4096.bin): the first by name.
    std::vector<std::string> tok_bins;
    for (const auto& entry : fs::directory_iterator(base, ec)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file(ec) && name.size() > 7 && name.compare(0, 3, "tok") == 0 &&
            name.compare(name.size() - 4, 4, ".bin") == 0 &&
            std::all_of(name.begin() + 3, name.end() - 4, [](unsigned char c) { return std::isdigit(c); }))
            tok_bins.push_back(entry.path().string());
    }
    if (tok_bins.empty()) return std::nullopt;
    return *std::min_element(tok_bins.begin(), tok_bins.end());
}

}  // namespace attend
