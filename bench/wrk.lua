-- wrk script for the azure-asgi benchmarks: POST a JSON body with an api-key header, print one
-- machine-readable result line. With BENCH_MAX_REQUESTS=N the thread stops after N responses
-- and prints BENCH_COUNT_REACHED (wrk still waits out -d: the caller interrupts it then).
--
--   BENCH_BODY=body.json BENCH_KEY=key wrk -t1 -c64 -d5s -s bench/wrk.lua http://127.0.0.1:PORT/path

local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY") or "bench-client-key"
if os.getenv("BENCH_AUTH") == "bearer" then
  -- what OpenAI(base_url=..., api_key=...) sends
  wrk.headers["Authorization"] = "Bearer " .. key
else
  -- what AzureOpenAI(api_key=...) sends
  wrk.headers["api-key"] = key
end

local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
if max_requests > 0 then
  local seen = 0
  function response(status, headers, body)
    seen = seen + 1
    if seen == max_requests then
      io.write("BENCH_COUNT_REACHED\n")
      io.stdout:flush()
      wrk.thread:stop()
    end
  end
end

local PERCENTILES = {1, 5, 10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90, 95, 97.5, 99, 99.5, 99.9}

function done(summary, latency, requests)
  local e = summary.errors
  local parts = {}
  for _, p in ipairs(PERCENTILES) do
    parts[#parts + 1] = string.format('"%s": %d', tostring(p), latency:percentile(p))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"min": %d, "max": %d, "mean": %.1f, "percentiles": {%s}}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, table.concat(parts, ", ")))
end
