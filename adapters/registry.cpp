#include "adapters/registry.hpp"

#include "adapters/json/json_adapter.hpp"
#include "adapters/xml/xml_adapter.hpp"

namespace dh::adapters {

const mapping::AdapterRegistry& builtin() {
  static const mapping::AdapterRegistry registry = [] {
    mapping::AdapterRegistry r;
    r.add(make_xml_adapter());   // adapters/xml: XML, SOAP 1.1/1.2, XSD
    r.add(make_json_adapter());  // adapters/json: JSON, JSON Schema
    return r;
  }();
  return registry;
}

}  // namespace dh::adapters
