// core/require.hpp — an Error for a mistake that is the user's, private to src/.
//
// ATTEND_CHECK prefixes the function that noticed; for a flag or a folder the user got wrong
// the message names the flag and the value instead ("--lr: got -1, expected ...").
#pragma once
#include <sstream>

#include "attend/error.hpp"

namespace attend {

// Throws attend::Error(parts...) unless `ok`.
template <class... Parts>
void require(bool ok, const Parts&... parts) {
    if (ok) return;
    std::ostringstream message;
    (message << ... << parts);
    throw Error(message.str());
}

}  // namespace attend
