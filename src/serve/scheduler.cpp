// serve/scheduler.cpp — the continuous-batching loop (serve/scheduler.hpp).
#include "serve/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/generate/text_stream.hpp"
#include "attend/parallel.hpp"

namespace attend::serve {

namespace {

constexpr int64_t kGroupRows = 8;  // the skinny kernel's limit (ops/gemv.cpp use_skinny_gemm)

const char* openai_finish(FinishReason r) {
    switch (r) {
        case FinishReason::stop_token:
        case FinishReason::stop_string: return "stop";
        case FinishReason::max_new_tokens:
        case FinishReason::context_full: return "length";
        case FinishReason::cancelled: return "cancelled";
    }
    return "stop";
}

}  // namespace

bool Job::wait_for_change(std::unique_lock<std::mutex>& lock, int timeout_ms) {
    return changed.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done || !events.empty(); });
}

struct Scheduler::Slot {
    std::shared_ptr<Job> job;  // null: free
    std::optional<SequenceDecoder> decoder;
    std::unique_ptr<TextStream> text;
    int64_t next_input = 0;  // the token the next step feeds
};

Scheduler::Scheduler(const ServedModel& model, int64_t parallel, int64_t queue_limit, int threads)
    : model_(model), parallel_(parallel), queue_limit_(queue_limit), group_size_(std::min(parallel, kGroupRows)),
      threads_(threads) {
    ATTEND_CHECK(parallel >= 1, "--parallel must be ≥ 1, got ", parallel);
    if (model.can_generate()) {
        for (int64_t s = 0; s < parallel; s += group_size_)
            groups_.push_back(model.lm.model().make_cache(std::min(group_size_, parallel - s), model.ctx, model.kv_cache));
    }
    for (int64_t s = 0; s < parallel; ++s) slots_.push_back(std::make_unique<Slot>());
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || int64_t(queue_.size()) >= queue_limit_) return false;
        queue_.push_back(job);
    }
    wake_.notify_one();
    return true;
}

void Scheduler::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

Scheduler::Stats Scheduler::stats() const {
    std::lock_guard lock(mutex_);
    return {parallel_, busy_.load(), int64_t(queue_.size()), steps_.load(), served_.load(), cancelled_.load()};
}

void Scheduler::emit(Slot& s, const float* logits, int64_t token, bool kept) {
    if (!kept) return;  // a stop token: nothing to show
    TokenEvent e;
    e.token = token;
    e.text = s.text->push(token);
    if (s.job->logprobs >= 0)  // over the drawable logits
        e.logprob = token_logprobs(logits, model_.lm.vocab_limit(), token, s.job->logprobs, e.top);
    if (s.text->stopped()) s.decoder->finish_with(FinishReason::stop_string);
    {
        std::lock_guard lock(s.job->mutex);
        s.job->events.push_back(std::move(e));
        s.job->completion_tokens = int64_t(s.decoder->tokens().size());
    }
    s.job->changed.notify_all();
}

void Scheduler::release(int64_t slot, const std::string& finish_reason, const std::string& error) {
    Slot& s = *slots_[size_t(slot)];
    if (!groups_.empty()) {
        KVCache& cache = groups_[size_t(slot / group_size_)];
        if (cache.lengths()[size_t(slot % group_size_)] > 0) cache.reset(slot % group_size_);
    }
    {
        std::lock_guard lock(s.job->mutex);
        if (error.empty() && s.text && !s.text->stopped() && finish_reason != "cancelled") s.job->tail = s.text->finish();
        // Counted before `done` is published: a client holding its whole response sees it in
        // /health (counted after the notify, a fast client could read /health first — seen
        // under ASan: 999 of 1000 served).
        ++served_;
        if (finish_reason == "cancelled") ++cancelled_;
        s.job->done = true;
        s.job->finish_reason = finish_reason;
        s.job->error = error;
        if (s.decoder) s.job->completion_tokens = int64_t(s.decoder->tokens().size());
    }
    s.job->changed.notify_all();
    s.job.reset();
    s.decoder.reset();
    s.text.reset();
    --busy_;
}

void Scheduler::admit(const std::shared_ptr<Job>& job, int64_t slot) {
    Slot& s = *slots_[size_t(slot)];
    s.job = job;
    ++busy_;
    try {
        ATTEND_CHECK(model_.can_generate(), model_.id, " cannot generate text (an encoder)");
        const TextModel& lm = model_.lm;
        s.decoder.emplace(job->sampling, job->seed, lm.stop_tokens(), job->max_tokens, lm.vocab_limit());
        s.text = std::make_unique<TextStream>(*lm.tokenizer, job->stop, /*skip_special=*/true);
        s.text->prime(job->prompt);
        if (s.decoder->finished()) return release(slot, "length");
        // The prompt alone, in a cache of the capacity attend::generate gives it, so its keys,
        // values and first logits are the CLI's to the bit.
        const int64_t P = int64_t(job->prompt.size());
        const int64_t capacity = std::min(model_.ctx, P + job->max_tokens);
        KVCache solo = lm.model().make_cache(1, capacity, model_.kv_cache);
        ForwardMode mode;
        mode.attention_path = AttentionPath::fused;
        const std::vector<std::vector<int64_t>> prompts{job->prompt};
        const Tensor logits = lm.model().forward_step(right_padded(prompts), solo, mode, StepLogits::last).contiguous();
        const SequenceDecoder::Step drawn = s.decoder->next(logits.data());
        emit(s, logits.data(), drawn.token, drawn.kept);
        if (s.decoder->finished()) return release(slot, openai_finish(s.decoder->finish()));
        groups_[size_t(slot / group_size_)].load_sequence(slot % group_size_, solo, 0);
        s.next_input = drawn.token;
    } catch (const std::exception& e) {
        release(slot, "error", e.what());
    }
}

void Scheduler::step_group(int64_t g) {
    KVCache& cache = groups_[size_t(g)];
    const int64_t rows = cache.batch(), first = g * group_size_;
    TokenBatch step;
    step.shape = {rows, 1};
    step.ids.assign(size_t(rows), 0);
    step.lengths.assign(size_t(rows), 0);
    bool any = false;
    for (int64_t r = 0; r < rows; ++r) {
        Slot& s = *slots_[size_t(first + r)];
        if (!s.job) continue;
        if (s.job->cancelled) {  // the client hung up: free the slot before computing for it
            release(first + r, "cancelled");
            continue;
        }
        if (cache.lengths()[size_t(r)] + 1 > cache.capacity()) {  // no room for the next token
            s.decoder->finish_with(FinishReason::context_full);
            release(first + r, "length");
            continue;
        }
        step.ids[size_t(r)] = s.next_input;
        step.lengths[size_t(r)] = 1;
        any = true;
    }
    if (!any) return;
    ForwardMode mode;
    mode.attention_path = AttentionPath::fused;
    Tensor logits;
    try {
        logits = model_.lm.model().forward_step(step, cache, mode, StepLogits::last).contiguous();  // (rows, 1, V)
    } catch (const std::exception& e) {
        for (int64_t r = 0; r < rows; ++r)
            if (slots_[size_t(first + r)]->job && step.lengths[size_t(r)]) release(first + r, "error", e.what());
        return;
    }
    ++steps_;
    const int64_t V = model_.lm.loaded.config.vocab_size;
    for (int64_t r = 0; r < rows; ++r) {
        Slot& s = *slots_[size_t(first + r)];
        if (!s.job || !step.lengths[size_t(r)]) continue;
        try {
            const float* z = logits.data() + r * V;
            const SequenceDecoder::Step drawn = s.decoder->next(z);
            emit(s, z, drawn.token, drawn.kept);
            if (s.decoder->finished())
                release(first + r, openai_finish(s.decoder->finish()));
            else
                s.next_input = drawn.token;
        } catch (const std::exception& e) {
            release(first + r, "error", e.what());
        }
    }
}

void Scheduler::loop() {
    NoGradGuard no_grad;
    if (threads_ > 0) set_num_threads(threads_);  // OpenMP's pool size is per thread
    for (;;) {
        std::vector<std::pair<std::shared_ptr<Job>, int64_t>> admitted;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || busy_ > 0 || !queue_.empty(); });
            if (stopping_) break;
            // New requests take the lowest free slots, so active rows stay in few groups.
            for (int64_t slot = 0; slot < parallel_ && !queue_.empty(); ++slot) {
                if (slots_[size_t(slot)]->job) continue;
                if (std::any_of(admitted.begin(), admitted.end(), [&](const auto& a) { return a.second == slot; }))
                    continue;
                admitted.emplace_back(queue_.front(), slot);
                queue_.pop_front();
            }
        }
        std::lock_guard forward(model_.forward_mutex);
        for (auto& [job, slot] : admitted) {
            if (job->cancelled) {
                slots_[size_t(slot)]->job = job;
                ++busy_;
                release(slot, "cancelled");
                continue;
            }
            admit(job, slot);
        }
        for (int64_t g = 0; g < int64_t(groups_.size()); ++g) step_group(g);
    }
    // Shutting down: every running and queued job ends "cancelled".
    for (int64_t slot = 0; slot < parallel_; ++slot)
        if (slots_[size_t(slot)]->job) release(slot, "cancelled");
    std::deque<std::shared_ptr<Job>> left;
    {
        std::lock_guard lock(mutex_);
        left.swap(queue_);
    }
    for (auto& job : left) {
        {
            std::lock_guard lock(job->mutex);
            job->done = true;
            job->finish_reason = "cancelled";
        }
        job->changed.notify_all();
    }
}

}  // namespace attend::serve
