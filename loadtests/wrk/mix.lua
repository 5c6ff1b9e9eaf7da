-- Everything at once: 60 % pixel, 30 % beacon, 10 % batch (100 back-filled events) requests.
--   wrk -t1 -c32 -d15s --latency -s loadtests/wrk/mix.lua http://127.0.0.1:PORT -- SITE1=KEY1,SITE2=KEY2 200 3
-- `Analytics.LoadTests stack` starts a service with such sites and prints a wrk line with them.
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
