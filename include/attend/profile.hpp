// profile.hpp — where the time goes: wall time and call counts per op kind and per phase,
// behind `attend generate --profile` and `attend train --profile`.
//
//   profile::enable(true);                 // process-wide switch, off by default
//   { ProfileScope op("linear"); ... }     // an op: at the top of each public op
//   { PhaseScope phase("decode"); ... }    // a phase: load, prefill, decode, backward, ...
//   std::fputs(profile::report().c_str(), stderr);
//
// Op time is SELF time: an op called inside another op (linear inside attention, matmul
// inside the reference attention path) is charged to the inner op and subtracted from the
// outer one, so the op table adds up to at most the wall time and nothing is counted twice.
// A scope opened with `absorb` (each "<op> backward" on the tape) instead keeps the ops it
// calls as its own: a backward is written with forward ops, and the table should say whose
// gradient is costly, not which forward ops compose it. Phases are timed the same way on
// their own stack (self time among phases); ops never subtract from phases.
//
// Cost when off: one relaxed atomic load and a branch per scope. Scopes record on the thread
// that opens them, and not at all inside an OpenMP parallel region: ops are called from the
// main thread and thread internally, so a scope opened by a worker would only count that
// thread's share of a kernel. The one exception is the leader of a decoding step's team (the
// calling thread, inside the step's region: attend/parallel.hpp, rule 4), which records.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attend {

namespace profile {

enum class Kind { op, phase };

namespace detail {
extern std::atomic<bool> g_enabled;
bool begin(std::string_view name, Kind kind, bool absorb);  // false: nothing recorded, no end()
void end(Kind kind);
}  // namespace detail

// Turning profiling on also starts the wall clock that report() compares against.
void enable(bool on);
inline bool enabled() { return detail::g_enabled.load(std::memory_order_relaxed); }
// Zeroes every bucket and restarts the wall clock (open scopes still close safely).
void reset();

struct Entry {
    std::string name;
    Kind kind = Kind::op;
    int64_t calls = 0;
    double self_ms = 0;       // minus nested scopes of the same kind (see above)
    double inclusive_ms = 0;  // everything between opening and closing the scope
};
// Every bucket with at least one call, by self time, largest first.
std::vector<Entry> snapshot();
// Wall time since enable() or reset(), in milliseconds.
double wall_ms();
// The bucket `name` of `kind` (calls 0 when never recorded).
Entry find(std::string_view name, Kind kind);

// The table `--profile` prints: phases (self ms, share of the wall time), then ops (calls,
// self ms, share of the wall time, mean µs per call), each sorted by time.
std::string report();

}  // namespace profile

// Times one op call into the bucket `name` (see above). Not copyable; lives on the stack.
class ProfileScope {
public:
    explicit ProfileScope(std::string_view name, profile::Kind kind = profile::Kind::op, bool absorb = false)
        : kind_(kind) {
        if (profile::enabled()) active_ = profile::detail::begin(name, kind, absorb);
    }
    ~ProfileScope() {
        if (active_) profile::detail::end(kind_);
    }
    ProfileScope(const ProfileScope&) = delete;
    ProfileScope& operator=(const ProfileScope&) = delete;

private:
    profile::Kind kind_;
    bool active_ = false;
};

// Times one phase of a run (load, prefill, decode, forward, backward, optimizer, ...).
class PhaseScope : public ProfileScope {
public:
    explicit PhaseScope(std::string_view name) : ProfileScope(name, profile::Kind::phase) {}
};

}  // namespace attend
