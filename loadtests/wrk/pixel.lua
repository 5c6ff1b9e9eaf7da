-- Pixel hits: GET /p.gif?s=SITE&u=URL&r=REFERRER over the given sites and pages.
--   wrk -t1 -c32 -d15s --latency -s loadtests/wrk/pixel.lua http://127.0.0.1:PORT -- SITE1,SITE2 200
-- `Analytics.LoadTests stack` starts a service with such sites and prints a wrk line with them.
-- Arguments: see common.lua.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

common.serve(4096, common.pixel)
