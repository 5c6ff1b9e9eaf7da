-- Server-side batches: POST /api/events with the site's ingest key, 100 events a request,
-- ts spread over the last DAYS days (back-fill).
--   wrk -t1 -c8 -d15s --latency -s loadtests/wrk/batch.lua http://127.0.0.1:PORT -- SITE1=KEY1,SITE2=KEY2 200 3
-- `Analytics.LoadTests stack` starts a service with such sites and prints a wrk line with them.
-- Arguments: see common.lua (SITES must carry the ingest keys).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

common.serve(256, common.batch)
