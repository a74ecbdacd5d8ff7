// The kernel sets and their cap (attend/cpu_features.hpp): the names ATTEND_MAX_ISA takes, a
// cap that lowers what cpu_features() admits and never raises it, the levels a test runs
// under (support/each_isa.hpp), and a bad value failing the command line in one line.
#include <gtest/gtest.h>

#include <algorithm>

#include "attend/cpu_features.hpp"
#include "attend/error.hpp"
#include "support/cli.hpp"

namespace attend {
namespace {

TEST(CpuFeatures, NamesRoundTripAndABadOneSaysWhatIsAccepted) {
    for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) EXPECT_EQ(parse_isa(name_of(isa)), isa);
    try {
        parse_isa("avx512f");
        FAIL() << "avx512f was accepted";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "ATTEND_MAX_ISA=avx512f is not one of avx512, avx2, generic");
    }
    EXPECT_THROW(parse_isa(""), Error);
    EXPECT_THROW(parse_isa("AVX2"), Error);
}

TEST(CpuFeatures, TheCapLowersWhatTheKernelsMayUseAndNeverRaisesIt) {
    const Isa saved = max_isa();
    set_max_isa(Isa::avx512);
    const CpuFeatures host = cpu_features();
    // The host's own: AVX-512 extensions only with AVX-512, the best level from the features.
    EXPECT_TRUE(host.avx512 || (!host.avx512_vnni && !host.avx512_bf16));
    EXPECT_EQ(cpu_best_isa(), host.avx512 ? Isa::avx512 : host.avx2_fma ? Isa::avx2 : Isa::generic);

    EXPECT_EQ(set_max_isa(Isa::avx2), Isa::avx512);
    const CpuFeatures avx2 = cpu_features();
    EXPECT_EQ(avx2.avx2_fma, host.avx2_fma);
    EXPECT_FALSE(avx2.avx512 || avx2.avx512_vnni || avx2.avx512_bf16);
    EXPECT_EQ(kernel_isa(), std::min(Isa::avx2, cpu_best_isa()));

    EXPECT_EQ(set_max_isa(Isa::generic), Isa::avx2);
    const CpuFeatures generic = cpu_features();
    EXPECT_FALSE(generic.avx2_fma || generic.avx512 || generic.avx512_vnni || generic.avx512_bf16);
    EXPECT_EQ(kernel_isa(), Isa::generic);

    set_max_isa(Isa::avx512);  // back up: exactly the host's again
    EXPECT_EQ(cpu_features(), host);
    EXPECT_EQ(kernel_isa(), cpu_best_isa());
    set_max_isa(saved);
}

TEST(CpuFeatures, EveryLevelUpToTheBestBestFirst) {
    const std::vector<Isa> isas = cpu_isas();
    ASSERT_FALSE(isas.empty());
    EXPECT_EQ(isas.front(), cpu_best_isa());
    EXPECT_EQ(isas.back(), Isa::generic);
    for (size_t i = 1; i < isas.size(); ++i) EXPECT_EQ(int(isas[i]), int(isas[i - 1]) - 1);
}

TEST(CpuFeatures, ABadSettingFailsTheCommandLineInOneLine) {
    const testing::CliRun r = testing::run_cli("--version", {}, {{"ATTEND_MAX_ISA", "sse9"}});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.output, "attend: error: ATTEND_MAX_ISA=sse9 is not one of avx512, avx2, generic\n");
    for (Isa isa : cpu_isas()) {  // each good one runs
        const testing::CliRun ok = testing::run_cli("--version", {}, {{"ATTEND_MAX_ISA", name_of(isa)}});
        EXPECT_EQ(ok.status, 0) << name_of(isa) << ": " << ok.output;
    }
}

}  // namespace
}  // namespace attend
