// tools/attend/tokenize.cpp — `attend tokenize --tokenizer PATH --text TEXT`: the token ids a
// tokenizer gives, space-separated, as Hugging Face's tokenizer.encode(text,
// add_special_tokens=False) would (with --special: add_special_tokens=True).
//
// Without --text the text is --file's contents, or all of stdin, byte for byte (a final
// newline included). --out FILE.bin writes the ids as little-endian uint16 instead (nanoGPT's
// train.bin), the memory-mapped input of `attend train --data FILE.bin --tokenizer PATH`.
//
// --jsonl tokenizes many texts with one load of the tokenizer (Hugging Face's encode_batch):
// the input is JSON Lines, each line a string or an object with a "text" string, and each
// line's ids come out as one JSON array per line, in order.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "attend/train/data.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct TokenizeOptions {
    std::string tokenizer, text, file, out;
    bool special = false, pieces = false, jsonl = false;
};

// ids written after `out`, `separator` between them.
void append_ids(std::string& out, const std::vector<int64_t>& ids, const char* separator) {
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? separator : "") + std::to_string(ids[i]);
}

// The text of line `number` of a JSON Lines input: a JSON string, or an object's "text".
std::string jsonl_text(const std::string& line, const std::string& source, size_t number) {
    const std::string where = source + ":" + std::to_string(number) + ": ";
    nlohmann::json value;
    try {
        value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + "not JSON (" + e.what() + ")");
    }
    if (value.is_object() && value.contains("text")) value = value["text"];
    if (!value.is_string()) throw Error(where + "expected a JSON string or an object with a \"text\" string");
    return value.get<std::string>();
}

// One JSON array of ids per line of `input`; an empty last line (after the final newline) is
// not a text.
void tokenize_jsonl(const Tokenizer& tok, const std::string& input, const std::string& source, bool special) {
    std::string out;
    size_t number = 0;
    for (size_t at = 0; at < input.size();) {
        const size_t end = std::min(input.find('\n', at), input.size());
        const std::vector<int64_t> ids = tok.encode(jsonl_text(input.substr(at, end - at), source, ++number), special);
        out += "[";
        append_ids(out, ids, ",");
        out += "]\n";
        at = end + 1;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
}

void run_tokenize(const TokenizeOptions& o, bool text_given) {
    const std::unique_ptr<Tokenizer> tok = load_tokenizer(o.tokenizer);
    std::string text = o.text;
    if (!o.file.empty()) {
        text = read_text_file(o.file);
    } else if (!text_given) {
        std::ios::sync_with_stdio(false);
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (std::cin.bad()) throw Error("<stdin>: read failed");
    }
    if (o.jsonl) return tokenize_jsonl(*tok, text, o.file.empty() ? "<stdin>" : o.file, o.special);
    const std::vector<int64_t> ids = tok->encode(text, o.special);
    if (!o.out.empty()) {
        if (tok->vocab_size() > 0x10000)
            throw Error(o.out + ": a uint16 token file cannot hold the ids of " + tok->source() + " (" +
                        std::to_string(tok->vocab_size()) + " tokens)");
        write_uint16_tokens(o.out, ids);
        std::fprintf(stderr, "%zu tokens written to %s\n", ids.size(), o.out.c_str());
        return;
    }
    std::string out;
    if (o.pieces) {
        for (int64_t id : ids) out += std::to_string(id) + "\t" + tok->token_text(id) + "\n";
    } else {
        append_ids(out, ids, " ");
        out += "\n";
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void register_tokenize(CLI::App& app) {
    auto o = std::make_shared<TokenizeOptions>();
    CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
    cmd->footer(
        "\nPATH is a tokenizer file (tokenizer.json, vocab.json, encoder.json, vocab.txt, tokenizer.bin,\n"
        "tok512.bin, ...) or a folder holding one. Ids are printed space-separated on one line.\n\n"
        "Examples:\n"
        "  attend tokenize --tokenizer gpt2_fake_hf --text \"Hello world\"      # 15496 995\n"
        "  echo -n \"Hello world\" | attend tokenize --tokenizer vocab.txt --special\n"
        "  attend tokenize --tokenizer gpt2_fake_hf --file input.txt --out tokens.bin\n"
        "  printf '\"Hello world\"\\n{\"text\": \"a\\\\nb\"}\\n' | attend tokenize --tokenizer gpt2_fake_hf --jsonl   # [15496,995], then [64,198,65]");
    cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or folder")->required();
    CLI::Option* text = cmd->add_option("--text", o->text, "Text to tokenize (default: --file, else all of stdin)");
    cmd->add_option("--file", o->file, "Text file to tokenize")->excludes(text);
    CLI::Option* out = cmd->add_option("--out", o->out, "Write the ids to this file as uint16 (for attend train --data FILE.bin)");
    cmd->add_flag("--special", o->special, "Add the model's special tokens (BOS; [CLS] ... [SEP])");
    CLI::Option* pieces = cmd->add_flag("--pieces", o->pieces, "One token per line: id, a tab, and the token's text");
    cmd->add_flag("--jsonl", o->jsonl,
                  "Many texts: --file or stdin is JSON Lines (a string, or an object with \"text\", per line); "
                  "one JSON array of ids per line")
        ->excludes(text)
        ->excludes(out)
        ->excludes(pieces);
    cmd->callback([o, text] { run_tokenize(*o, text->count() > 0); });
}

}  // namespace attend::cli
