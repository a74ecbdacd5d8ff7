// tests/support/errors.hpp — asserting on the messages of attend::Error.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "attend/error.hpp"

namespace attend::testing {

// The message of the attend::Error that `f` throws ("" and a test failure when none).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected an attend::Error";
    return "";
}

}  // namespace attend::testing

#define EXPECT_MENTIONS(message, text) \
    EXPECT_NE((message).find(text), std::string::npos) << "message: " << (message) << "\nlacks: " << (text)
