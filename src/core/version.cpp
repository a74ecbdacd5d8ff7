#include "attend/version.hpp"
namespace attend {
const char* version() { return ATTEND_VERSION; }
}
