// Fuzzes the json adapter kind through real mappings: JSON Schema (hcm-immigration), nested
// arrays, batches and `$` pointers (hcm-ward-lgsp).
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto mappings = dh::fuzz::load_mappings({"hcm-immigration", "hcm-ward-lgsp"});
  dh::fuzz::translate_all(mappings, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
