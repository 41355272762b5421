// Fuzzes the mapping loader: any text must compile to a mapping or be refused with a MappingError
// that names the place; never another exception, a crash or undefined behaviour.
#include "adapters/registry.hpp"
#include "hub/mapping/mapping.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    // Schemas named by the input resolve inside mappings/, like a real mapping's.
    auto m = dh::mapping::Mapping::load_text(yaml, DH_SOURCE_DIR "/mappings/fuzz-agency.yaml", dh::adapters::builtin());
    (void)m.translate("<a/>");
    (void)m.translate("{\"a\":1}");
  } catch (const dh::mapping::MappingError& e) {
    if (std::string(e.what()).find("fuzz-agency.yaml") == std::string::npos) __builtin_trap();
  }
  return 0;
}
