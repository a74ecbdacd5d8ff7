#pragma once
namespace attend {
const char* version();  // "MAJOR.MINOR.PATCH"
}
