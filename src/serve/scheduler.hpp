// serve/scheduler.hpp — continuous batching: one thread runs decode steps over the active
// sequences; requests join at the next step and leave when done.
//
//   submit(job)   queued (or refused when the queue is full: the route answers 503)
//   the loop      admit: a queued job takes a free slot; its prompt is prefilled alone, in a
//                 cache sized as attend::generate sizes it (min(ctx, prompt + max_tokens)),
//                 and its first token drawn; its keys and values then move into the slot's row
//                 of a group cache (KVCache::load_sequence)
//                 step: every group of ≤ 8 slots with an active row runs one forward_step
//                 (Tq = 1; idle rows n_new = 0); each active row draws its next token
//                 (SequenceDecoder, TextStream — the objects `attend generate` uses) and
//                 hands the text to its job; finished or cancelled rows are freed at once
//
// Why groups of ≤ 8 rows: a decode step's matrix products for ≤ 8 rows run on the skinny
// kernel (ops/gemv.cpp), which computes every row on its own; past 8 rows they go to oneDNN,
// whose per-row results may depend on the batch. With the attention's per-row key splitting
// (attention/fused.cpp, forward_rows), a sequence's logits are then bit-identical to the ones
// attend::generate computes for it alone, so batching never changes a response.
//
// Implemented in src/serve/scheduler.cpp.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "attend/generate/sampler.hpp"
#include "attend/generate/sequence.hpp"
#include "serve/served_model.hpp"

namespace attend::serve {

// What one step of a job produced: the kept token, its text (possibly empty: held back for a
// stop string or an unfinished character) and, when asked, its log-probabilities.
struct TokenEvent {
    int64_t token = -1;
    std::string text;
    double logprob = 0;
    std::vector<TokenLogprob> top;  // the top-N of the model's distribution (generate/sampler.hpp)
};

struct Job {
    // ---- the request (set before submit) ----
    std::vector<int64_t> prompt;
    SamplingOptions sampling;
    uint64_t seed = 0;
    int64_t max_tokens = 16;
    std::vector<std::string> stop;
    int64_t logprobs = -1;  // top-N per token; -1: none

    // ---- the result, filled by the scheduler thread (read under mutex) ----
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<TokenEvent> events;  // not yet taken by the route
    std::string tail;               // text released at the end (held-back bytes)
    bool done = false;
    std::string finish_reason;      // "stop" | "length" | "cancelled"
    std::string error;              // non-empty: the job failed (message)
    int64_t completion_tokens = 0;

    // Set by the route when the client hangs up; the scheduler frees the slot at its next step.
    std::atomic<bool> cancelled{false};

    // Wait until an event is there or the job is done (or timeout); the route polls it.
    bool wait_for_change(std::unique_lock<std::mutex>& lock, int timeout_ms);
};

class Scheduler {
public:
    // threads > 0: the OpenMP pool size of the scheduler thread's passes (0: the default).
    Scheduler(const ServedModel& model, int64_t parallel, int64_t queue_limit, int threads = 0);
    ~Scheduler();  // stop()

    // False when the queue is full (or the scheduler is stopping): answer 503.
    bool submit(const std::shared_ptr<Job>& job);
    // Cancel everything queued and running (their jobs end "cancelled") and join the thread.
    void stop();

    struct Stats {
        int64_t slots = 0, busy = 0, queued = 0;
        uint64_t steps = 0, served = 0, cancelled = 0;
    };
    Stats stats() const;

private:
    struct Slot;
    void loop();
    void admit(const std::shared_ptr<Job>& job, int64_t slot);
    void step_group(int64_t group);
    void release(int64_t slot, const std::string& finish_reason, const std::string& error = "");
    void emit(Slot& s, const float* logits, int64_t token, bool kept);

    const ServedModel& model_;
    const int64_t parallel_, queue_limit_, group_size_;
    const int threads_;
    std::vector<KVCache> groups_;  // slot s is row s % group_size_ of groups_[s / group_size_]
    std::vector<std::unique_ptr<Slot>> slots_;

    mutable std::mutex mutex_;  // queue_, stopping_, counters
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool stopping_ = false;
    std::atomic<int64_t> busy_{0};
    std::atomic<uint64_t> steps_{0}, served_{0}, cancelled_{0};
    std::thread thread_;
};

}  // namespace attend::serve
