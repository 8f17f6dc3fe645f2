-- wrk script: POST a list of (path, JSON body) requests round-robin, print the run's figures as one JSON line.
-- BENCH_MANIFEST names a file of lines "<path>\t<body file>"; each thread starts at a different offset.
-- Non-2xx responses are counted here (wrk itself only counts status >= 400).
local manifest = os.getenv("BENCH_MANIFEST")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  requests = {}
  local headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json"}
  for line in io.lines(manifest) do
    local path, file = line:match("^([^\t]+)\t(.+)$")
    local f = assert(io.open(file, "rb"), "body file not readable")
    local body = f:read("*a")
    f:close()
    table.insert(requests, wrk.format("POST", path, headers, body))
  end
  index = (tonumber(offset) or 0) * 7 % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non = 0
  for _, t in ipairs(threads) do
    non = non + (t:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes, non,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
