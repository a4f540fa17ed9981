// sf/sha256.hpp — SHA-256 of a file (sf-engine's plugin load check: the bytes dlopen()ed must be
// the bytes the control plane tested and registered).
//
// Design: OpenSSL's libcrypto (EVP) when the build found it (SF_HAVE_OPENSSL), else the small
// FIPS 180-4 implementation in src/sha256.cpp (a dozen lines of round function: the engine has no
// other dependency and must build where libssl-dev is absent, e.g. a minimal wheel build
// image). Both are always compiled and tested against each other and the FIPS test vectors.
// Worst case: O(file size), start-up/control path only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sf {

/// Lower-case hex SHA-256 of `len` bytes (the built-in implementation).
[[nodiscard]] std::string sha256_hex_builtin(const void* data, std::size_t len);
/// Lower-case hex SHA-256 of `len` bytes (libcrypto when available, else the built-in one).
[[nodiscard]] std::string sha256_hex(const void* data, std::size_t len);
/// SHA-256 of a whole file; false with a message naming the file when it cannot be read.
[[nodiscard]] bool sha256_file(const std::string& path, std::string& hex, std::string& error);
/// True when sha256_hex() uses OpenSSL's libcrypto.
[[nodiscard]] bool sha256_uses_openssl() noexcept;

}  // namespace sf
