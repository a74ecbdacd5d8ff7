// train/data_source.cpp — a training run's tokenizer, splits and batches (train/data_source.hpp).
#include "train/data_source.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <tuple>

#include "attend/error.hpp"
#include "attend/tokenizers/char_level.hpp"

namespace attend {

namespace fs = std::filesystem;

namespace {

bool is_token_file(const std::string& path) { return fs::path(path).extension() == ".bin"; }

// The text a new character vocabulary is built from: the data file, or both sides of its pairs.
std::string vocabulary_text(const TrainOptions& o) {
    if (o.arch != TrainArch::seq2seq) return read_text_file(o.data);
    std::string all;
    for (const auto& [s, t] : read_pairs(o.data)) all += s + t;
    return all;
}

}  // namespace

Batch DataSource::draw(bool validation, int64_t batch, Generator& gen) const {
    if (arch == TrainArch::seq2seq)
        return seq2seq_batch(validation ? val_pairs : train_pairs, batch, gen, *special.pad, *special.bos,
                             *special.eos, block);
    Batch b = causal_lm_batch(validation ? val_tokens : train_tokens, batch, block, gen);
    if (arch == TrainArch::bert) mask_tokens(b, *special.mask, tokenizer->vocab_size(), gen, 0.15f);
    return b;
}

std::shared_ptr<const Tokenizer> prepare_tokenizer(const TrainOptions& o, bool write) {
    if (o.tokenizer.empty()) {
        ATTEND_CHECK(!is_token_file(o.data), o.data, ": a token file needs --tokenizer (the tokenizer that made it)");
        const std::vector<std::string> specials =
            o.arch == TrainArch::seq2seq ? std::vector<std::string>{"<pad>", "<bos>", "<eos>"}
            : o.arch == TrainArch::bert  ? std::vector<std::string>{"[PAD]", "[MASK]"}
                                         : std::vector<std::string>{};
        auto chars = std::make_shared<CharTokenizer>(CharTokenizer::from_text(vocabulary_text(o), specials));
        if (write) chars->save(o.out + "/tokenizer.json");
        return chars;
    }
    std::shared_ptr<const Tokenizer> loaded = load_tokenizer(o.tokenizer);
    if (write) copy_tokenizer_files(o.tokenizer, o.out);
    return loaded;
}

DataSource load_data(const TrainOptions& o, std::shared_ptr<const Tokenizer> tokenizer) {
    DataSource d;
    d.arch = o.arch;
    d.block = o.block_size;
    d.tokenizer = std::move(tokenizer);
    d.special = SpecialTokens::of(*d.tokenizer);
    const Tokenizer& tok = *d.tokenizer;
    if (o.arch == TrainArch::seq2seq) {
        for (const char* what : {"bos", "eos"})
            need_special(what[0] == 'b' ? d.special.bos : d.special.eos, tok, what, "seq2seq training");
        ATTEND_CHECK(!is_token_file(o.data), o.data, ": seq2seq trains on tab-separated text pairs, not a token file");
        std::vector<Pair> tokenised;
        for (const auto& [s, t] : read_pairs(o.data)) tokenised.push_back({tok.encode(s), tok.encode(t)});
        const size_t n_train = std::max<size_t>(1, size_t(double(tokenised.size()) * 0.9));
        d.train_pairs.assign(tokenised.begin(), tokenised.begin() + long(n_train));
        d.val_pairs.assign(tokenised.begin() + long(n_train), tokenised.end());
        if (d.val_pairs.empty()) d.val_pairs = d.train_pairs;
        std::vector<int64_t> counts(size_t(tok.vocab_size()) + 1);
        for (const Pair& p : d.train_pairs) {
            for (int64_t id : p.target) ++counts[size_t(id)];
            ++counts[size_t(*d.special.eos)];
        }
        d.most_frequent = std::max_element(counts.begin(), counts.end()) - counts.begin();
        return d;
    }
    if (o.arch == TrainArch::bert) need_special(d.special.mask, tok, "[MASK]", "masked-LM (BERT) training");
    const TokenSequence tokens = is_token_file(o.data) ? TokenSequence::map_uint16(o.data, tok.vocab_size())
                                                       : TokenSequence(tok.encode(read_text_file(o.data)));
    std::tie(d.train_tokens, d.val_tokens) = split_tokens(tokens, 0.9);
    std::vector<int64_t> counts(size_t(tok.vocab_size()));
    for (int64_t i = 0; i < d.train_tokens.size(); ++i) ++counts[size_t(d.train_tokens[i])];
    d.most_frequent = std::max_element(counts.begin(), counts.end()) - counts.begin();
    ATTEND_CHECK(d.val_tokens.size() > o.block_size + 1, o.data, " is too short: the validation split (",
                 d.val_tokens.size(), " tokens) must hold more than block_size + 1 = ", o.block_size + 1);
    return d;
}

}  // namespace attend
