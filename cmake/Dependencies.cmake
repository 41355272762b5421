# Every dependency comes from a Debian 12 package installed by .ci/install-deps.
# Boost is pinned to 1.81 (libboost1.81-dev); the default 1.74 libboost-dev conflicts with it.
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json url program_options)
find_package(OpenSSL 3 REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc)
find_package(pugixml REQUIRED)
find_package(LibXml2 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(SQLite3 REQUIRED)
# rabbitmq-c 0.11 (librabbitmq-dev): shared mode's AMQP client (hub/queue/).
find_package(rabbitmq-c 0.11 REQUIRED CONFIG)
find_package(PostgreSQL REQUIRED)  # libpq (libpq-dev): the shared store
find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp REQUIRED)
add_library(valijson INTERFACE)
target_include_directories(valijson SYSTEM INTERFACE ${VALIJSON_INCLUDE_DIR})

# The build links the compiled Boost libraries; keep Boost from auto-linking or pulling in
# deprecated headers.
add_compile_definitions(BOOST_ALL_NO_LIB BOOST_JSON_NO_LIB)
find_package(Threads REQUIRED)
