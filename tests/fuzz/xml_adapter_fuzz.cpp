// Fuzzes the xml adapter kind through real mappings: namespaces + XSD (hcm-justice), SOAP + XSD
// (hcm-social-insurance), plain XML batches (hcm-binh-thanh).
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto mappings = dh::fuzz::load_mappings({"hcm-justice", "hcm-social-insurance", "hcm-binh-thanh"});
  dh::fuzz::translate_all(mappings, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
