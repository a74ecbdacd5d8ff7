// train/data.cpp — tokens, batches and masking for the three kinds of training.
#include "attend/train/data.hpp"

#include <algorithm>

#include "attend/error.hpp"
#include "attend/read_file.hpp"
#include "core/atomic_file.hpp"
#include "io/mapped_file.hpp"

namespace attend {

// ---- token sequences ----
TokenSequence::TokenSequence(std::vector<int64_t> ids) {
    auto owned = std::make_shared<const std::vector<int64_t>>(std::move(ids));
    ids_ = owned->data();
    size_ = int64_t(owned->size());
    keep_ = std::move(owned);
}

void check_uint16_tokens(const void* bytes, size_t size, int64_t vocab_size, const std::string& path) {
    if (size % 2 != 0)
        throw Error(path + ": a uint16 token file must have an even size, this one has " + std::to_string(size) +
                    " bytes (truncated?)");
    if (size == 0) throw Error(path + ": the token file is empty");
    const auto* p = static_cast<const unsigned char*>(bytes);
    for (size_t i = 0; i < size / 2; ++i) {
        const int64_t id = int64_t(p[2 * i]) | int64_t(p[2 * i + 1]) << 8;  // little-endian
        if (id >= vocab_size)
            throw Error(path + ": token " + std::to_string(i) + " is " + std::to_string(id) +
                        ", outside the tokenizer's vocabulary of " + std::to_string(vocab_size) +
                        " (a token file made with another tokenizer?)");
    }
}

TokenSequence TokenSequence::map_uint16(const std::string& path, int64_t vocab_size) {
    std::shared_ptr<MappedFile> file = map_file(path);
    check_uint16_tokens(file->bytes(), file->size(), vocab_size, path);
    TokenSequence s;
    s.u16_ = reinterpret_cast<const uint16_t*>(file->bytes());
    s.size_ = int64_t(file->size() / 2);
    s.keep_ = std::move(file);
    return s;
}

TokenSequence TokenSequence::slice(int64_t begin, int64_t end) const {
    ATTEND_CHECK(0 <= begin && begin <= end && end <= size_, "slice [", begin, ", ", end, ") of a sequence of ", size_);
    TokenSequence s = *this;
    s.offset_ = offset_ + begin;
    s.size_ = end - begin;
    return s;
}

void write_uint16_tokens(const std::string& path, const std::vector<int64_t>& ids) {
    std::vector<uint16_t> packed(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        ATTEND_CHECK(ids[i] >= 0 && ids[i] <= 0xFFFF, path, ": token ", i, " is ", ids[i],
                     ", which a uint16 token file cannot hold");
        packed[i] = uint16_t(ids[i]);  // little-endian on every machine attend builds for (x86-64, arm64)
    }
    write_atomically(path, [&](std::FILE* f) { return std::fwrite(packed.data(), 2, packed.size(), f) == packed.size(); });
}

std::string read_text_file(const std::string& path) {
    return read_file(path, "text file");
}

SpecialTokens SpecialTokens::of(const Tokenizer& t) {
    const auto first = [&](std::optional<int64_t> declared, std::initializer_list<const char*> names) {
        if (declared) return declared;
        for (const char* name : names)
            if (auto id = t.token_id(name)) return id;
        return std::optional<int64_t>();
    };
    SpecialTokens s;
    s.bos = first(t.bos_id(), {"<bos>", "<s>", "[CLS]", "<|endoftext|>"});
    s.eos = first(t.eos_id(), {"<eos>", "</s>", "[SEP]", "<|endoftext|>"});
    s.pad = first(t.pad_id(), {"<pad>", "[PAD]"});
    if (!s.pad) s.pad = s.eos;
    s.mask = first(std::nullopt, {"[MASK]", "<mask>"});
    return s;
}

int64_t need_special(const std::optional<int64_t>& id, const Tokenizer& tokenizer, const std::string& what,
                     const std::string& purpose) {
    ATTEND_CHECK(id.has_value(), tokenizer.source().empty() ? std::string("the tokenizer") : tokenizer.source(),
                 ": has no ", what, " token, which ", purpose, " needs");
    return *id;
}

std::pair<TokenSequence, TokenSequence> split_tokens(const TokenSequence& tokens, double train_fraction) {
    const int64_t n = int64_t(double(tokens.size()) * train_fraction);
    return {tokens.slice(0, n), tokens.slice(n, tokens.size())};
}

int64_t Batch::n_targets() const {
    return std::count_if(targets.begin(), targets.end(), [](int64_t t) { return t != kIgnore; });
}

// A uniform integer in [0, n) (n ≤ 2³²: the modulo bias is below 2⁻³²).
static int64_t below(Generator& gen, int64_t n) { return int64_t(gen.next_u64() % uint64_t(n)); }

// ---- causal LM: x = tokens[i, i+T), y = tokens[i+1, i+T+1] ----
Batch causal_lm_batch(const TokenSequence& tokens, int64_t batch, int64_t block, Generator& gen) {
    ATTEND_CHECK(int64_t(tokens.size()) > block + 1, "need more than block_size + 1 = ", block + 1,
                 " tokens to draw a block, found ", tokens.size());
    Batch b;
    b.input.shape = {batch, block};
    b.input.ids.resize(size_t(batch * block));
    b.targets.resize(size_t(batch * block));
    for (int64_t i = 0; i < batch; ++i) {
        const int64_t start = below(gen, int64_t(tokens.size()) - block);  // nanoGPT: randint(len - block)
        for (int64_t t = 0; t < block; ++t) {
            b.input.ids[size_t(i * block + t)] = tokens[start + t];
            b.targets[size_t(i * block + t)] = tokens[start + t + 1];
        }
    }
    return b;
}

// ---- BERT masking: 15% chosen; 80% [MASK], 10% random, 10% kept ----
void mask_tokens(Batch& batch, int64_t mask_id, int64_t vocab_size, Generator& gen, float probability,
                 const std::vector<int64_t>& never_mask) {
    TokenBatch& in = batch.input;
    const int64_t B = in.batch(), T = in.length();
    batch.targets.assign(size_t(B * T), kIgnore);
    for (int64_t b = 0; b < B; ++b) {
        const int64_t len = in.lengths.empty() ? T : in.lengths[size_t(b)];
        for (int64_t t = 0; t < len; ++t) {
            int64_t& id = in.ids[size_t(b * T + t)];
            // Three draws per position whatever happens, so the stream advances by a fixed amount.
            const float chosen = gen.uniform(), how = gen.uniform();
            const int64_t random_id = below(gen, vocab_size);
            if (std::find(never_mask.begin(), never_mask.end(), id) != never_mask.end()) continue;
            if (chosen >= probability) continue;
            batch.targets[size_t(b * T + t)] = id;
            if (how < 0.8f) id = mask_id;
            else if (how < 0.9f) id = random_id;
        }
    }
}

// ---- seq2seq pairs ----
std::vector<std::pair<std::string, std::string>> read_pairs(const std::string& path) {
    return parse_pairs(read_text_file(path), path);
}

std::vector<std::pair<std::string, std::string>> parse_pairs(std::string_view text, const std::string& path) {
    std::vector<std::pair<std::string, std::string>> pairs;
    int64_t number = 0;
    for (size_t at = 0; at < text.size();) {
        const size_t end = std::min(text.find('\n', at), text.size());
        std::string_view line = text.substr(at, end - at);
        at = end + 1;
        ++number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        const size_t tab = line.find('\t');
        const std::string where = path + " line " + std::to_string(number) + ": ";
        if (tab == std::string_view::npos) throw Error(where + "expected \"source<TAB>target\", found no tab");
        if (tab == 0 || tab + 1 == line.size())
            throw Error(where + "expected \"source<TAB>target\", found an empty " + (tab == 0 ? "source" : "target"));
        pairs.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    }
    if (pairs.empty()) throw Error(path + " holds no pairs");
    return pairs;
}

static Batch pack_pairs(const std::vector<const Pair*>& chosen, int64_t pad, int64_t bos, int64_t eos,
                        int64_t max_length) {
    const int64_t B = int64_t(chosen.size());
    int64_t S = 1, T = 1;
    for (const Pair* p : chosen) {
        S = std::max(S, std::min(int64_t(p->source.size()), max_length));
        T = std::max(T, std::min(int64_t(p->target.size()) + 1, max_length));
    }
    Batch b;
    b.source.shape = {B, S};
    b.source.ids.assign(size_t(B * S), pad);
    b.input.shape = {B, T};
    b.input.ids.assign(size_t(B * T), pad);
    b.targets.assign(size_t(B * T), kIgnore);
    for (int64_t i = 0; i < B; ++i) {
        const Pair& p = *chosen[size_t(i)];
        const int64_t s_len = std::max<int64_t>(1, std::min(int64_t(p.source.size()), S));
        for (int64_t s = 0; s < std::min(int64_t(p.source.size()), S); ++s) b.source.ids[size_t(i * S + s)] = p.source[size_t(s)];
        b.source.lengths.push_back(s_len);
        // Teacher forcing: the decoder reads [bos] y0 y1 ... and predicts y0 y1 ... [eos].
        const int64_t t_len = std::min(int64_t(p.target.size()) + 1, T);
        for (int64_t t = 0; t < t_len; ++t) {
            b.input.ids[size_t(i * T + t)] = t == 0 ? bos : p.target[size_t(t - 1)];
            b.targets[size_t(i * T + t)] = t < int64_t(p.target.size()) ? p.target[size_t(t)] : eos;
        }
        b.input.lengths.push_back(t_len);
    }
    return b;
}

Batch seq2seq_batch(const std::vector<Pair>& pairs, int64_t batch, Generator& gen, int64_t pad, int64_t bos,
                    int64_t eos, int64_t max_length) {
    ATTEND_CHECK(!pairs.empty(), "no pairs to draw a batch from");
    std::vector<const Pair*> chosen;
    for (int64_t i = 0; i < batch; ++i) chosen.push_back(&pairs[size_t(below(gen, int64_t(pairs.size())))]);
    return pack_pairs(chosen, pad, bos, eos, max_length);
}

Batch seq2seq_batch_range(const std::vector<Pair>& pairs, size_t first, size_t count, int64_t pad, int64_t bos,
                          int64_t eos, int64_t max_length) {
    std::vector<const Pair*> chosen;
    for (size_t i = first; i < std::min(pairs.size(), first + count); ++i) chosen.push_back(&pairs[i]);
    ATTEND_CHECK(!chosen.empty(), "no pairs in [", first, ", ", first + count, ")");
    return pack_pairs(chosen, pad, bos, eos, max_length);
}

}  // namespace attend
