-- Everything at once: 60 % pixel, 30 % beacon, 10 % batch (100 back-filled events) requests.
--   wrk -t1 -c32 -d15s --latency -s loadtests/wrk/mix.lua http://127.0.0.1:8080 -- demo=KEY,other=KEY 200 3
-- Arguments: see common.lua (SITES must carry the ingest keys).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

common.serve(2048, function(sites, days)
  local pixel, beacon, batch = common.pixel(sites), common.beacon(sites), common.batch(sites, days)
  return function(p)
    local roll = math.random(10)
    if roll <= 6 then return pixel(p) elseif roll <= 9 then return beacon(p) else return batch(p) end
  end
end)
