// SPDX-License-Identifier: MIT
// Statistics shims: jr_client_stats, per-endpoint figures, the latency
// histogram and its Prometheus text. Every read is a relaxed load of a
// counter only the loop thread writes (src/stats.hpp): any thread, no lock
// but the endpoint list's, nothing posted to the loop (so it works inside
// callbacks and on the loop thread too).
#include "stats.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "cache.hpp"
#include "capi.hpp"

using jr::guarded;

namespace {

// Copies what both sides know of a sized struct (its first field is
// `size_t size`) and records how much that was.
template <typename T>
int fill_sized(T *out, T &full) {
  if (out->size < sizeof(size_t)) return JR_EINVAL;
  size_t n = out->size < sizeof full ? out->size : sizeof full;
  full.size = n;
  std::memcpy(out, &full, n);
  return JR_OK;
}

int check_client(jr_client *client) {
  if (client == nullptr) return JR_EINVAL;
  if (client->impl->forked()) return JR_EFORKED;
  return JR_OK;
}

jr_stats collect(const jr::Client &c) {
  const jr::Stats &s = c.stats();
  jr_stats out{};
  out.size = sizeof out;
  // completed before submitted: a request is counted as submitted before
  // it can complete, so in_flight does not go below zero in a race.
  out.completed = s.completed();
  out.submitted = s.submitted.get();
  out.server_errors = s.server_errors.get();
  out.library_errors = s.library_errors.get();
  out.timeouts = s.timeouts.get();
  out.cancels = s.cancels.get();
  out.in_flight = out.submitted > out.completed ? out.submitted - out.completed : 0;
  out.queued = c.queued_now();
  for (size_t i = 0;; i++) {
    const jr::EndpointStats *e = s.endpoint_at(i);
    if (e == nullptr) break;
    out.bytes_written += e->bytes_written.get();
    out.bytes_read += e->bytes_read.get();
    out.connects += e->connects.get();
    out.disconnects += e->disconnects.get();
    out.connect_failures += e->connect_failures.get();
    out.redirects += e->redirects.get();
  }
  // Client-side caching (client_cache_bytes): its counters are written under
  // the cache's lock, on the submitting threads (hits) and the loop thread.
  if (const jr::ClientCache *cache = c.cache()) {
    jr::ClientCache::Counts k = cache->counts();
    out.cache_hits = k.hits;
    out.cache_misses = k.misses;
    out.cache_invalidations = k.invalidations;
  }
  return out;
}

jr_endpoint_stats collect_endpoint(const jr::EndpointStats &e) {
  jr_endpoint_stats out{};
  out.size = sizeof out;
  out.endpoint = e.name.c_str();
  out.connections = e.connections.get();
  out.completed = e.completed.get();
  out.server_errors = e.server_errors.get();
  out.library_errors = e.library_errors.get();
  out.bytes_written = e.bytes_written.get();
  out.bytes_read = e.bytes_read.get();
  out.connects = e.connects.get();
  out.disconnects = e.disconnects.get();
  out.connect_failures = e.connect_failures.get();
  out.redirects = e.redirects.get();
  return out;
}

// Prometheus label values: backslash, double quote and newline escaped.
std::string label(const std::string &v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

void metric_head(std::string &t, const char *name, const char *type, const char *help) {
  t += "# HELP ";
  t += name;
  t += ' ';
  t += help;
  t += "\n# TYPE ";
  t += name;
  t += ' ';
  t += type;
  t += '\n';
}

void sample(std::string &t, const char *name, const std::string &labels, uint64_t v) {
  t += name;
  if (!labels.empty()) t += "{" + labels + "}";
  t += ' ';
  t += std::to_string(v);
  t += '\n';
}

std::string stats_text(const jr::Client &c) {
  const jr::Stats &s = c.stats();
  jr_stats g = collect(c);
  std::vector<jr_endpoint_stats> eps;
  for (size_t i = 0;; i++) {
    const jr::EndpointStats *e = s.endpoint_at(i);
    if (e == nullptr) break;
    eps.push_back(collect_endpoint(*e));
  }
  uint64_t evictions = 0, cache_bytes = 0;
  if (const jr::ClientCache *cache = c.cache()) {
    jr::ClientCache::Counts k = cache->counts();
    evictions = k.evictions;
    cache_bytes = k.bytes;
  }
  std::string t;
  t.reserve(4096);
  struct Plain {
    const char *name, *type, *help;
    uint64_t v;
  };
  const Plain plain[] = {
      {"jr_requests_submitted_total", "counter", "Requests the loop thread has taken in.",
       g.submitted},
      {"jr_requests_timeouts_total", "counter",
       "Requests that timed out (before or after the write, or waiting for a pooled connection).",
       g.timeouts},
      {"jr_requests_cancels_total", "counter", "Requests cancelled (before or after the write).",
       g.cancels},
      {"jr_requests_in_flight", "gauge", "Requests taken in and not completed.", g.in_flight},
      {"jr_requests_queued", "gauge",
       "Requests accepted and not released (max_queued counts them).", g.queued},
      {"jr_cache_hits_total", "counter", "Client-side cache hits (0 without client_cache_bytes).",
       g.cache_hits},
      {"jr_cache_misses_total", "counter",
       "Client-side cache misses of cacheable reads (0 without client_cache_bytes).",
       g.cache_misses},
      {"jr_cache_invalidations_total", "counter",
       "Keys the server invalidated, a flush counting one (0 without client_cache_bytes).",
       g.cache_invalidations},
      {"jr_cache_evictions_total", "counter",
       "Client-side cache entries evicted for room (LRU) or age (client_cache_ttl_ms).", evictions},
      {"jr_cache_bytes", "gauge", "Bytes the client-side cache holds.", cache_bytes},
  };
  for (const Plain &p : plain) {
    metric_head(t, p.name, p.type, p.help);
    sample(t, p.name, "", p.v);
  }
  // Per endpoint; requests that reached no connection under endpoint="".
  struct PerEp {
    const char *name, *type, *help;
    uint64_t jr_endpoint_stats::*field;
    uint64_t total;  // the client's figure (its remainder goes to endpoint="")
    bool remainder;
  };
  const PerEp per[] = {
      {"jr_commands_completed_total", "counter", "Requests completed.",
       &jr_endpoint_stats::completed, g.completed, true},
      {"jr_commands_server_errors_total", "counter", "Requests completed with an error reply.",
       &jr_endpoint_stats::server_errors, g.server_errors, true},
      {"jr_commands_library_errors_total", "counter",
       "Requests completed with a library error (negative status).",
       &jr_endpoint_stats::library_errors, g.library_errors, true},
      {"jr_connections", "gauge", "Connections up now.", &jr_endpoint_stats::connections, 0, false},
      {"jr_bytes_written_total", "counter", "Bytes handed to the sockets.",
       &jr_endpoint_stats::bytes_written, 0, false},
      {"jr_bytes_read_total", "counter", "Bytes read from the sockets.",
       &jr_endpoint_stats::bytes_read, 0, false},
      {"jr_connects_total", "counter", "Connections that finished their handshake.",
       &jr_endpoint_stats::connects, 0, false},
      {"jr_disconnects_total", "counter", "Such connections lost or closed.",
       &jr_endpoint_stats::disconnects, 0, false},
      {"jr_connect_failures_total", "counter", "Failed connect attempts.",
       &jr_endpoint_stats::connect_failures, 0, false},
      {"jr_redirects_total", "counter", "MOVED and ASK replies received.",
       &jr_endpoint_stats::redirects, 0, false},
  };
  for (const PerEp &p : per) {
    metric_head(t, p.name, p.type, p.help);
    uint64_t sum = 0;
    for (const jr_endpoint_stats &e : eps) {
      uint64_t v = e.*(p.field);
      sum += v;
      sample(t, p.name, "endpoint=\"" + label(e.endpoint) + "\"", v);
    }
    if (p.remainder) sample(t, p.name, "endpoint=\"\"", p.total > sum ? p.total - sum : 0);
  }
  // The histogram: one Prometheus bucket per power of two (the internal
  // quarter-octave buckets nest inside them, so the counts are exact).
  const char *h = "jr_request_duration_seconds";
  metric_head(t, h, "histogram", "Request latency from submit to completion.");
  uint64_t cum = 0;
  double sum_s = 0;
  char num[64];
  for (size_t i = 0; i < jr::Latency::kBuckets; i++) {
    uint64_t n = s.latency.count(i);
    cum += n;
    uint64_t up = jr::Latency::upper_ns(i);
    if (i + 1 < jr::Latency::kBuckets) {
      // The bucket's midpoint stands for its latencies in the sum (an estimate).
      uint64_t lo = i == 0 ? 0 : jr::Latency::upper_ns(i - 1);
      sum_s += static_cast<double>(n) * (static_cast<double>(lo) + static_cast<double>(up)) / 2e9;
      if ((up & (up - 1)) != 0) continue;  // not a power of two: inside an octave
      std::snprintf(num, sizeof num, "%.9g", static_cast<double>(up) / 1e9);
      t += std::string(h) + "_bucket{le=\"" + num + "\"} " + std::to_string(cum) + "\n";
    } else {
      uint64_t lo = jr::Latency::upper_ns(i - 1);
      sum_s += static_cast<double>(n) * static_cast<double>(lo) / 1e9;
    }
  }
  t += std::string(h) + "_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
  std::snprintf(num, sizeof num, "%.9g", sum_s);
  t += std::string(h) + "_sum " + num + "\n";
  t += std::string(h) + "_count " + std::to_string(cum) + "\n";
  return t;
}

}  // namespace

extern "C" {

JR_API int jr_client_stats(jr_client *client, jr_stats *out) {
  if (out == nullptr) return JR_EINVAL;
  int rc = check_client(client);
  if (rc != JR_OK) return rc;
  jr_stats full = collect(*client->impl);
  return fill_sized(out, full);
}

JR_API int jr_client_endpoint_stats(jr_client *client, size_t index, jr_endpoint_stats *out) {
  if (out == nullptr) return JR_EINVAL;
  int rc = check_client(client);
  if (rc != JR_OK) return rc;
  if (out->size < sizeof(size_t)) return JR_EINVAL;
  const jr::EndpointStats *e = client->impl->stats().endpoint_at(index);
  if (e == nullptr) return JR_ENOENT;
  jr_endpoint_stats full = collect_endpoint(*e);
  return fill_sized(out, full);
}

JR_API int jr_client_latency(jr_client *client, double percentile, uint64_t *ns_out) {
  if (ns_out == nullptr || std::isnan(percentile) || percentile < 0 || percentile > 100)
    return JR_EINVAL;
  int rc = check_client(client);
  if (rc != JR_OK) return rc;
  const jr::Latency &l = client->impl->stats().latency;
  uint64_t counts[jr::Latency::kBuckets];
  uint64_t total = 0;
  for (size_t i = 0; i < jr::Latency::kBuckets; i++) total += counts[i] = l.count(i);
  if (total == 0) return JR_ENOENT;
  // The rank of the percentile among the requests (1-based, at least 1).
  auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total)));
  if (rank == 0) rank = 1;
  uint64_t cum = 0;
  for (size_t i = 0; i < jr::Latency::kBuckets; i++) {
    cum += counts[i];
    if (cum >= rank) {
      *ns_out = jr::Latency::upper_ns(i);
      return JR_OK;
    }
  }
  *ns_out = UINT64_MAX;
  return JR_OK;
}

JR_API int jr_client_latency_bucket(jr_client *client, size_t index, uint64_t *upper_ns,
                                    uint64_t *count) {
  int rc = check_client(client);
  if (rc != JR_OK) return rc;
  if (index >= jr::Latency::kBuckets) return JR_ENOENT;
  if (upper_ns != nullptr) *upper_ns = jr::Latency::upper_ns(index);
  if (count != nullptr) *count = client->impl->stats().latency.count(index);
  return JR_OK;
}

JR_API int64_t jr_client_stats_text(jr_client *client, char *buf, size_t len) {
  if (buf == nullptr && len > 0) return JR_EINVAL;
  int rc = check_client(client);
  if (rc != JR_OK) return rc;
  std::string text;
  rc = guarded([&] {
    text = stats_text(*client->impl);
    return JR_OK;
  });
  if (rc != JR_OK) return rc;
  if (len > 0) {
    size_t n = text.size() < len - 1 ? text.size() : len - 1;
    std::memcpy(buf, text.data(), n);
    buf[n] = '\0';
  }
  return static_cast<int64_t>(text.size());
}

}  // extern "C"
