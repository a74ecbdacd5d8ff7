// core/error.cpp — the readers' one error helper (attend/error.hpp), out of line: its throw
// is cold, and inlined into a reader's every check it only grows the code.
#include "attend/error.hpp"

namespace attend {

void bad_file(const std::string& where, const std::string& what) { throw Error(where + ": " + what); }

}  // namespace attend
