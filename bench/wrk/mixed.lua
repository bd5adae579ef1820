-- mixed: a flash sale, one request type drawn at random per request:
--   70% GET /events/tech-conference/seats (the seat map of a 1,000-seat event)
--   20% POST /reserve on a seat of tech-conference that is already held (409 reject)
--    8% POST /reserve on a random free seat of the 1,000,000-seat "bench-arena" (201)
--    2% DELETE /holds/{id} of a hold this script made (ids parsed from 201 responses);
--       a seat-map read instead while no hold is known yet
-- Arguments (after --): the ids of the held tech-conference seats.
-- Prints "statuses: CODE=COUNT ... released=N" at the end.
local SEATS_PER_ROW = 1000
local SEATS_TOTAL = 1000000
local HOLD_IDS_MAX = 100000 -- bound on remembered hold ids
local json = { ["Content-Type"] = "application/json" }
local held_seats = {}
local hold_ids = {}
local seatmap_req

local function row_label(i)
   local label, n = "", i + 1
   while n > 0 do
      n = n - 1
      label = string.char(65 + n % 26) .. label
      n = math.floor(n / 26)
   end
   return label
end

-- One buyer per request: tix limits the seats one buyer may hold in an event.
local buyer = 0
local function reserve(event_id, seat_id)
   buyer = buyer + 1
   local body = '{"event_id":"' .. event_id .. '","seat_id":"' .. seat_id ..
      '","user_id":"flash' .. string.format("%d", buyer) .. '"}'
   return wrk.format("POST", "/reserve", json, body)
end

function init(args)
   for i = 1, #args do held_seats[#held_seats + 1] = args[i] end
   if #held_seats == 0 then held_seats[1] = "A1" end
   seatmap_req = wrk.format("GET", "/events/tech-conference/seats")
   math.randomseed(os.time())
   counts = {}
end

function request()
   local dice = math.random(100)
   if dice <= 70 then
      return seatmap_req
   elseif dice <= 90 then
      return reserve("tech-conference", held_seats[math.random(#held_seats)])
   elseif dice <= 98 then
      local index = math.random(0, SEATS_TOTAL - 1)
      local seat = row_label(math.floor(index / SEATS_PER_ROW)) ..
         string.format("%d", index % SEATS_PER_ROW + 1)
      return reserve("bench-arena", seat)
   elseif #hold_ids > 0 then
      local id = table.remove(hold_ids)
      return wrk.format("DELETE", "/holds/" .. id)
   end
   return seatmap_req
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
   if status == 201 and #hold_ids < HOLD_IDS_MAX then
      local id = string.match(body, '^{"id":"(%x+)"')
      if id then hold_ids[#hold_ids + 1] = id end
   elseif status == 200 and #body < 1024 and
      string.find(body, '"status":"released"', 1, true) then
      counts.released = (counts.released or 0) + 1
   end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
   local total = {}
   for _, t in ipairs(threads) do
      for code, n in pairs(t:get("counts") or {}) do total[code] = (total[code] or 0) + n end
   end
   local parts = {}
   for code, n in pairs(total) do
      parts[#parts + 1] = string.format("%s=%d", tostring(code), n)
   end
   table.sort(parts)
   io.write("statuses: ", table.concat(parts, " "), "\n")
end
