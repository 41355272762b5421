// The `xml` adapter kind: pugixml parsing and compiled XPath 1.0 with namespace matching by URI,
// SOAP 1.1/1.2 envelopes, optional XSD validation with libxml2. Refuses DTDs (so no external
// entities and no entity expansion), undeclared entities, non-UTF-8 encodings and deep nesting.
#pragma once

#include "hub/mapping/format.hpp"

namespace dh::adapters {

std::unique_ptr<mapping::AdapterKind> make_xml_adapter();

}  // namespace dh::adapters
