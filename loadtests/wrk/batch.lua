-- Server-side batches: POST /api/events with the site's ingest key, 100 events a request,
-- ts spread over the last DAYS days (back-fill).
--   wrk -t1 -c8 -d15s --latency -s loadtests/wrk/batch.lua http://127.0.0.1:8080 -- demo=KEY,other=KEY 200 3
-- Arguments: see common.lua (SITES must carry the ingest keys).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

common.serve(256, common.batch)
