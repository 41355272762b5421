#include "hub/common/ids.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace dh {

std::string make_id(std::chrono::system_clock::time_point now) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  std::array<unsigned char, 16> bytes{};
  for (int i = 0; i < 6; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  if (RAND_bytes(bytes.data() + 6, 10) != 1) throw std::runtime_error("no random bytes from OpenSSL");
  // 128 bits as 26 base32 digits, most significant first: two zero bits pad the front.
  auto bit = [&](int n) { return n < 0 ? 0 : (bytes[static_cast<std::size_t>(n / 8)] >> (7 - n % 8)) & 1; };
  std::string out(26, '0');
  for (int k = 0; k < 26; ++k) {
    unsigned v = 0;
    for (int j = 0; j < 5; ++j) v = (v << 1) | static_cast<unsigned>(bit(5 * k + j - 2));
    out[static_cast<std::size_t>(k)] = kAlphabet[v];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

}  // namespace dh
