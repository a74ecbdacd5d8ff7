// tests/test_text_stream.cpp — stop strings over streamed text (generate/text_stream.hpp) and
// one sequence's decisions (generate/sequence.hpp), shared by attend generate and attend serve.
#include <gtest/gtest.h>

#include "attend/error.hpp"
#include "attend/generate/sequence.hpp"
#include "attend/generate/text_stream.hpp"

namespace attend {
namespace {

std::string feed(StopStringFilter& f, const std::vector<std::string>& pieces) {
    std::string out;
    for (const auto& p : pieces) out += f.push(p);
    return out + f.finish();
}

TEST(StopStrings, MatchAcrossPiecesIsCutAndNotEmitted) {
    StopStringFilter f({"\nUser:"});
    EXPECT_EQ(f.push("Hello"), "Hello");
    EXPECT_EQ(f.push(" there\nUs"), " there");  // "\nUs" could begin the stop string: held
    EXPECT_FALSE(f.stopped());
    EXPECT_EQ(f.push("er: more"), "");
    EXPECT_TRUE(f.stopped());
    EXPECT_EQ(f.push("later"), "");
    EXPECT_EQ(f.finish(), "");
}

TEST(StopStrings, HeldTailIsReleasedWhenItStopsMatching) {
    StopStringFilter f({"abc"});
    EXPECT_EQ(feed(f, {"xa", "b", "d", "ab"}), "xabdab");
    EXPECT_FALSE(f.stopped());
}

TEST(StopStrings, EarliestOfSeveralWins) {
    StopStringFilter f({"world", "lo w"});
    EXPECT_EQ(feed(f, {"hel", "lo world"}), "hel");
    EXPECT_TRUE(f.stopped());
}

TEST(StopStrings, NoStopsPassEverything) {
    StopStringFilter f({"", ""});
    EXPECT_EQ(feed(f, {"a", "", "b"}), "ab");
}

TEST(SequenceDecoder, StopTokenEndsWithoutKeepingIt) {
    SequenceDecoder d({0.f, 0, 1.f}, 0, {2}, 10, 4);
    const float to1[4] = {0, 5, 0, 0}, to2[4] = {0, 0, 5, 0};
    EXPECT_TRUE(d.next(to1).kept);
    const auto s = d.next(to2);
    EXPECT_FALSE(s.kept);
    EXPECT_EQ(s.token, 2);
    EXPECT_TRUE(d.finished());
    EXPECT_EQ(d.finish(), FinishReason::stop_token);
    EXPECT_EQ(d.tokens(), std::vector<int64_t>{1});
}

TEST(SequenceDecoder, MaxTokensAndDrawableLimit) {
    SequenceDecoder d({0.f, 0, 1.f}, 0, {}, 2, 3);
    const float z[4] = {0, 1, 2, 9};  // id 3 is past the drawable 3: never drawn
    EXPECT_EQ(d.next(z).token, 2);
    EXPECT_FALSE(d.finished());
    d.next(z);
    EXPECT_TRUE(d.finished());
    EXPECT_EQ(d.finish(), FinishReason::max_new_tokens);
    EXPECT_THROW(SequenceDecoder({0.f, 0, 1.f}, 0, {}, -1, 3), Error);
}

}  // namespace
}  // namespace attend
