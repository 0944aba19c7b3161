-- make bench: wrk script. BENCH_CONNECT="addr:port[,addr:port...]" connects thread i to
-- the i-th address (round robin) while the URL's host stays the Host header and the TLS
-- name; done() prints one line "BENCH_RESULT {json}" with exact percentiles in µs.
local targets = {}
local next_target = 1

function setup(thread)
  local spec = os.getenv("BENCH_CONNECT") or ""
  if spec == "" then
    return
  end
  if #targets == 0 then
    for item in string.gmatch(spec, "[^,]+") do
      local host, port = string.match(item, "^(.*):(%d+)$")
      local addrs = wrk.lookup(host, port)
      if addrs == nil or #addrs == 0 then
        error("BENCH_CONNECT: cannot resolve " .. item)
      end
      targets[#targets + 1] = addrs[1]
    end
  end
  thread.addr = targets[next_target]
  next_target = next_target % #targets + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
      e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
      latency.min, latency.max, latency.mean, latency.stdev,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)),
  }
  io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
