// SPDX-License-Identifier: MIT
// The C++ twin of consumer.c: the same checks through include/jr/jr.hpp
// (C++20), built by scripts/check-consumers against an installed libjr.
// usage: consumer-cpp LABEL; exits non-zero on any failure.
#include <cstdlib>
#include <iostream>
#include <jr/jr.hpp>
#include <string>

int main(int argc, char **argv) {
  const std::string label = argc > 1 ? argv[1] : "consumer-cpp";
  if (jr_version() != JR_VERSION_HEX) {
    std::cerr << label << ": header is libjr " << JR_VERSION_STRING << " but the library is "
              << jr::version_string() << "\n";
    return 1;
  }
  const char *env = std::getenv("REDIS_URL");
  const std::string url = env != nullptr && *env != '\0' ? env : "redis://127.0.0.1:6379";
  const std::string key = "jr-consumer:" + label;
  try {
    jr::Client client(jr::Options().url(url));
    client.call({"SET", key, JR_VERSION_STRING});
    const jr::Reply got = client.call({"GET", key});
    if (!got.is_string() || got.view() != JR_VERSION_STRING) {
      std::cerr << label << ": GET " << key << " returned " << got.str() << ", not "
                << JR_VERSION_STRING << "\n";
      return 1;
    }
    std::cout << label << ": libjr " << jr::version_string() << ", GET " << key << " -> "
              << got.view() << "\n";
    client.call({"DEL", key});
  } catch (const jr::Error &e) {
    std::cerr << label << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
