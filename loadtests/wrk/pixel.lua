-- Pixel hits: GET /p.gif?s=SITE&u=URL&r=REFERRER over the given sites and pages.
--   wrk -t1 -c32 -d15s --latency -s loadtests/wrk/pixel.lua http://127.0.0.1:8080 -- demo,other 200
-- Arguments: see common.lua.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

-- wrk decides before init() whether the script makes its own requests: request must exist up front.
local next_request

function request()
  return next_request()
end

function init(args)
  local sites, pages = common.args(args)
  next_request = common.cycle(4096, common.pixel(sites), pages)
end
