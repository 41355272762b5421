#include "hub/common/ids.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace dh {

namespace {

__extension__ using U128 = unsigned __int128;  // GCC and Clang

// Random bytes from OpenSSL's CSPRNG, fetched a few kilobytes at a time per thread: one
// RAND_bytes call per id cost the workers more than translating a field (a lock and a DRBG
// round each, load benchmark). The hub never forks after start, so no two processes share a buffer.
class RandomPool {
 public:
  void take(unsigned char* out, std::size_t n) {
    if (used_ + n > buf_.size()) {
      if (RAND_bytes(buf_.data(), static_cast<int>(buf_.size())) != 1)
        throw std::runtime_error("no random bytes from OpenSSL");
      used_ = 0;
    }
    std::memcpy(out, buf_.data() + used_, n);
    std::memset(buf_.data() + used_, 0, n);  // each byte is handed out once
    used_ += n;
  }

 private:
  std::array<unsigned char, 4000> buf_{};
  std::size_t used_ = buf_.size();
};

}  // namespace

std::string make_id(std::chrono::system_clock::time_point now) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  thread_local RandomPool pool;
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  std::array<unsigned char, 10> random{};
  pool.take(random.data(), random.size());
  // 128 bits (48 of time, 80 random) as 26 base32 digits, most significant first; the first
  // digit holds the top 3 bits (two zero bits pad the front).
  U128 v = static_cast<U128>(ms & 0xFFFFFFFFFFFFULL) << 80;
  for (std::size_t i = 0; i < random.size(); ++i) v |= static_cast<U128>(random[i]) << (72 - 8 * i);
  std::string out(26, '0');
  for (int k = 25; k >= 0; --k) {
    out[static_cast<std::size_t>(k)] = kAlphabet[static_cast<unsigned>(v & 31)];
    v >>= 5;
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
