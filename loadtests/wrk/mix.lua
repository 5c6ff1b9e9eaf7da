-- Everything at once: 60 % pixel, 30 % beacon, 10 % batch (100 back-filled events) requests.
--   wrk -t1 -c32 -d15s --latency -s loadtests/wrk/mix.lua http://127.0.0.1:8080 -- demo=KEY,other=KEY 200 3
-- Arguments: see common.lua (SITES must carry the ingest keys).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

-- wrk decides before init() whether the script makes its own requests: request must exist up front.
local next_request

function request()
  return next_request()
end

function init(args)
  local sites, pages, days = common.args(args)
  local pixel, beacon, batch = common.pixel(sites), common.beacon(sites), common.batch(sites, days)
  next_request = common.cycle(2048, function(p)
    local roll = math.random(10)
    if roll <= 6 then return pixel(p) elseif roll <= 9 then return beacon(p) else return batch(p) end
  end, pages)
end
