// core/profile.cpp — the buckets behind ProfileScope and the table `--profile` prints
// (see attend/profile.hpp).
#include "attend/profile.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>

#include "core/parallel_loop.hpp"

namespace attend::profile {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Bucket {
    int64_t calls = 0, self_ns = 0, inclusive_ns = 0;
};

// Buckets live in maps (stable addresses: an open frame keeps a pointer to its bucket) and are
// zeroed, never erased, by reset(). The mutex is only taken while profiling is on.
struct Registry {
    std::mutex mutex;
    std::map<std::string, Bucket, std::less<>> buckets[2];  // indexed by Kind
    int64_t start_ns = 0, stop_ns = 0;
};

Registry& registry() {
    static Registry r;
    return r;
}

struct Frame {
    Bucket* bucket;
    int64_t start_ns, child_ns;
    bool absorb;
};

// One stack per kind and thread: ops nest in ops, phases in phases, independently.
thread_local std::vector<Frame> t_stacks[2];

}  // namespace

namespace detail {

std::atomic<bool> g_enabled{false};

bool begin(std::string_view name, Kind kind, bool absorb) {
    if (omp_get_level() > 0 && team_size() == 0) return false;  // a worker's share of a kernel: see the header
    std::vector<Frame>& stack = t_stacks[int(kind)];
    if (!stack.empty() && stack.back().absorb) return false;  // charged to the enclosing scope
    Registry& r = registry();
    Bucket* bucket;
    {
        std::lock_guard lock(r.mutex);
        auto& buckets = r.buckets[int(kind)];
        auto it = buckets.find(name);
        if (it == buckets.end()) it = buckets.emplace(std::string(name), Bucket{}).first;
        bucket = &it->second;
    }
    stack.push_back({bucket, now_ns(), 0, absorb});
    return true;
}

void end(Kind kind) {
    std::vector<Frame>& stack = t_stacks[int(kind)];
    const Frame f = stack.back();
    stack.pop_back();
    const int64_t elapsed = now_ns() - f.start_ns;
    {
        std::lock_guard lock(registry().mutex);
        f.bucket->calls += 1;
        f.bucket->inclusive_ns += elapsed;
        f.bucket->self_ns += std::max<int64_t>(0, elapsed - f.child_ns);
    }
    if (!stack.empty()) stack.back().child_ns += elapsed;
}

}  // namespace detail

void enable(bool on) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    const bool was = detail::g_enabled.exchange(on);
    if (on && !was) r.start_ns = now_ns();
    if (!on && was) r.stop_ns = now_ns();
}

void reset() {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (auto& buckets : r.buckets)
        for (auto& [name, b] : buckets) b = Bucket{};
    r.start_ns = r.stop_ns = now_ns();
}

double wall_ms() {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    const int64_t end = enabled() ? now_ns() : r.stop_ns;
    return double(std::max<int64_t>(0, end - r.start_ns)) * 1e-6;
}

static Entry entry(const std::string& name, Kind kind, const Bucket& b) {
    return {name, kind, b.calls, double(b.self_ns) * 1e-6, double(b.inclusive_ns) * 1e-6};
}

std::vector<Entry> snapshot() {
    Registry& r = registry();
    std::vector<Entry> out;
    {
        std::lock_guard lock(r.mutex);
        for (Kind kind : {Kind::phase, Kind::op})
            for (const auto& [name, b] : r.buckets[int(kind)])
                if (b.calls > 0) out.push_back(entry(name, kind, b));
    }
    std::stable_sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.self_ms > b.self_ms; });
    return out;
}

Entry find(std::string_view name, Kind kind) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    const auto& buckets = r.buckets[int(kind)];
    const auto it = buckets.find(name);
    return it == buckets.end() ? Entry{std::string(name), kind} : entry(it->first, kind, it->second);
}

std::string report() {
    const double wall = wall_ms();
    const auto share = [&](double ms) { return wall > 0 ? 100.0 * ms / wall : 0.0; };
    const std::vector<Entry> all = snapshot();
    std::string out;
    char line[160];
    const auto add = [&](int n) { out.append(line, size_t(std::min<int>(n, int(sizeof line) - 1))); };

    add(std::snprintf(line, sizeof line, "profile: %.1f ms wall\n", wall));
    add(std::snprintf(line, sizeof line, "  %-24s %10s %7s\n", "phase", "ms", "share"));
    double phases = 0;
    for (const Entry& e : all)
        if (e.kind == Kind::phase) {
            phases += e.self_ms;
            add(std::snprintf(line, sizeof line, "  %-24s %10.1f %6.1f%%\n", e.name.c_str(), e.self_ms, share(e.self_ms)));
        }
    add(std::snprintf(line, sizeof line, "  %-24s %10.1f %6.1f%%\n", "(outside phases)", std::max(0.0, wall - phases),
                      share(std::max(0.0, wall - phases))));

    // Op time is self time (see attend/profile.hpp), so the column adds up to the ops' total.
    add(std::snprintf(line, sizeof line, "  %-24s %8s %10s %7s %10s\n", "op (self time)", "calls", "ms", "share",
                      "mean us"));
    double ops = 0;
    for (const Entry& e : all)
        if (e.kind == Kind::op) {
            ops += e.self_ms;
            add(std::snprintf(line, sizeof line, "  %-24s %8lld %10.1f %6.1f%% %10.1f\n", e.name.c_str(),
                              (long long)e.calls, e.self_ms, share(e.self_ms),
                              e.calls > 0 ? 1000.0 * e.self_ms / double(e.calls) : 0.0));
        }
    add(std::snprintf(line, sizeof line, "  %-24s %8s %10.1f %6.1f%%\n", "(all ops)", "", ops, share(ops)));
    return out;
}

}  // namespace attend::profile
