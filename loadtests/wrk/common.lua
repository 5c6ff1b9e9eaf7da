-- Shared by the wrk scripts (loaded with dofile from the same folder).
-- Arguments after "--": SITES [PAGES] [DAYS]
--   SITES  comma-separated site ids, each optionally "id=INGESTKEY" (batch and mix need the keys);
--          each site must have the domain {id}.example, as the sites the harness creates do (a site
--          without it answers every hit with 400)
--   PAGES  pages per site (default 200): https://{id}.example/articles/0 … N-1
--   DAYS   how many days back batch events' ts go (default 3)
-- Requests are made once in init() and then cycled, so wrk spends its time on the network, not in Lua.

local M = {}

M.agent = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"

M.referrers = {
  "",
  "https://www.google.com/search?q=news",
  "https://news.ycombinator.com/item?id=1",
  "https://t.co/x1y2z3",
  "https://duckduckgo.com/",
}

function M.urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function M.jsonstring(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function M.args(args)
  local sites = {}
  for entry in string.gmatch(args[1] or "demo", "[^,]+") do
    local id, key = string.match(entry, "^([^=]+)=(.+)$")
    table.insert(sites, { id = id or entry, key = key })
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  return sites, tonumber(args[2] or "200"), tonumber(args[3] or "3")
end

-- Popular pages are popular: the square of a uniform number leans to the first pages.
function M.page(pages)
  local u = math.random()
  return math.floor(u * u * pages)
end

function M.url(site, pages)
  return "https://" .. site.id .. ".example/articles/" .. M.page(pages)
end

function M.pixel(sites)
  return function(pages)
    local site = sites[math.random(#sites)]
    local path = "/p.gif?s=" .. site.id .. "&u=" .. M.urlencode(M.url(site, pages))
    local referrer = M.referrers[math.random(#M.referrers)]
    if referrer ~= "" then path = path .. "&r=" .. M.urlencode(referrer) end
    return wrk.format("GET", path, { ["User-Agent"] = M.agent })
  end
end

function M.beacon(sites)
  return function(pages)
    local site = sites[math.random(#sites)]
    local body = '{"site":' .. M.jsonstring(site.id) .. ',"url":' .. M.jsonstring(M.url(site, pages))
      .. ',"referrer":' .. M.jsonstring(M.referrers[math.random(#M.referrers)]) .. '}'
    return wrk.format("POST", "/api/event", { ["User-Agent"] = M.agent, ["Content-Type"] = "application/json" }, body)
  end
end

-- 100 events with ts spread over the last DAYS days, for one site (its ingest key authorises the batch).
function M.batch(sites, days)
  local keyed = {}
  for _, site in ipairs(sites) do
    if site.key then table.insert(keyed, site) end
  end
  if #keyed == 0 then error("batch needs SITES as id=INGESTKEY") end
  return function(pages)
    local site = keyed[math.random(#keyed)]
    local now = os.time()
    local events = {}
    for i = 1, 100 do
      local ts = os.date("!%Y-%m-%dT%H:%M:%SZ", now - math.random(1, days * 86400))
      events[i] = '{"url":' .. M.jsonstring(M.url(site, pages)) .. ',"referrer":' .. M.jsonstring(M.referrers[math.random(#M.referrers)])
        .. ',"ts":"' .. ts .. '","ip":"10.' .. math.random(0, 255) .. '.' .. math.random(0, 255) .. '.' .. math.random(1, 254)
        .. '","userAgent":' .. M.jsonstring(M.agent) .. '}'
    end
    return wrk.format("POST", "/api/events", {
      ["User-Agent"] = M.agent, ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. site.key,
    }, "[" .. table.concat(events, ",") .. "]")
  end
end

-- Makes COUNT requests with make(pages) and returns wrk's request() that cycles through them.
function M.cycle(count, make, pages)
  local requests = {}
  for i = 1, count do requests[i] = make(pages) end
  local n = 0
  return function()
    n = n % #requests + 1
    return requests[n]
  end
end

-- Defines wrk's request() and init(args) for a script: init() builds COUNT requests with the
-- maker that make_for(sites, days) returns and request() cycles through them. wrk decides
-- before init() whether the script makes its own requests, so request must exist up front.
function M.serve(count, make_for)
  local next_request
  function request()
    return next_request()
  end
  function init(args)
    local sites, pages, days = M.args(args)
    next_request = M.cycle(count, make_for(sites, days), pages)
  end
end

return M
