-- pipeline.lua - wrk script for bench/bench.sh: each write carries
-- BENCH_PIPELINE (default 16) GET requests back to back. wrk counts
-- responses, not writes, so its Requests/sec is per request.

local depth = tonumber(os.getenv("BENCH_PIPELINE") or "16")
local batch

init = function(args)
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil, "/")
    end
    batch = table.concat(r)
end

request = function()
    return batch
end
