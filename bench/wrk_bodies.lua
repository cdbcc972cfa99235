-- wrk script for bench/http_intake.py: POST bodies made of N events each, cycling
-- through a file of events (one JSON object per line).
--   wrk -t1 -c16 -d10s -s wrk_bodies.lua http://127.0.0.1:PORT/ -- EVENTS_FILE N
-- N = 1 posts one JSON object per request (Content-Type application/json); N > 1 posts
-- NDJSON bodies of N lines (application/x-ndjson), consecutive events of the file.
-- Prints one line "WRK_JSON {...}" with the totals for the script to parse.
local bodies = {}
local idx = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  local per = tonumber(args[2] or "1")
  if per > 1 then
    headers["Content-Type"] = "application/x-ndjson"
  end
  local lines = {}
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    lines[#lines + 1] = line
  end
  f:close()
  for i = 1, #lines - per + 1, per do
    bodies[#bodies + 1] = table.concat(lines, "\n", i, i + per - 1) .. (per > 1 and "\n" or "")
  end
end

function request()
  idx = idx % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[idx])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_status":%d,"errors_timeout":%d,"latency_p50_us":%d,"latency_p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
