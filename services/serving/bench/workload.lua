-- wrk script: one OIP V2 infer request per call, one customer each, k=10.
--   wrk ... -s workload.lua <url> -- <path> <mode> <first_user> <hot_users>
-- mode "cached":   users cycle over hot_users ids (all pre-warmed in Redis) -> cache hits
-- mode "uncached": every request a user never asked for before -> cache miss + model + SET
local path, mode, next_user, hot_users
local counter = 0

function init(args)
  path = args[1]
  mode = args[2]
  next_user = tonumber(args[3])
  hot_users = tonumber(args[4])
end

function request()
  local user
  if mode == "cached" then
    user = next_user + (counter % hot_users)
  else
    user = next_user + counter
  end
  counter = counter + 1
  -- The shop's id for customer row `user` (tools/build_recsys_model.py customer_id).
  local customer = string.format("C%09d", user * 3 + 1000)
  local body = '{"inputs":[{"name":"customer_id","shape":[1],"datatype":"BYTES","data":["' ..
               customer .. '"]}],"parameters":{"k":10}}'
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
