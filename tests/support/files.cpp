#include "support/files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace attend::testing {

TempDir::TempDir() {
    std::string name = "attend_test";
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info())
        name += std::string("_") + info->test_suite_name() + "_" + info->name();
    // Parameterised tests have '/' in their names.
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
    dir_ = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
}

TempDir::~TempDir() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

std::string TempDir::path(const std::string& name) const { return (dir_ / name).string(); }

std::string TempDir::write(const std::string& name, const std::string& bytes) const {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    write_file(p, bytes);
    return p.string();
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    EXPECT_TRUE(out.good()) << "cannot write " << path;
}

std::string shared_data(const std::string& relative) {
    std::string path = ATTEND_SHARED_DATA;  // appended: GCC 12 warns falsely on literal + string&&
    path += '/';
    path += relative;
    EXPECT_TRUE(fs::exists(path)) << "shared test data " << path << " is missing (configure with "
                                  << "-DATTEND_SHARED_DATA=<folder of the artifacts>; now " << ATTEND_SHARED_DATA << ")";
    return path;
}

std::string safetensors_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    const uint64_t n = header.size();  // little-endian u64, as on every machine we build for
    std::memcpy(out.data(), &n, 8);
    return out + header + data;
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string corpus_file(const std::string& dir) {
    std::string text;
    for (int i = 0; i < 300; ++i)
        text += "the cat sat on mat " + std::to_string(i % 17) + ". a dog ran far " + std::to_string(i % 5) + ".\n";
    const std::string path = dir + "/corpus.txt";
    write_file(path, text);
    return path;
}

}  // namespace attend::testing
