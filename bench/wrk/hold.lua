-- hold: POST /reserve on distinct free seats of the 1,000,000-seat event "bench-arena"
-- (1,000 rows A, B, ..., Z, AA, ... of 1,000 seats each), walked in order so that every
-- request takes a new seat: 201, durable.
-- Arguments (after --): index of the first seat (0-based; default 0), so that the warm-up and
-- the measurement walk different seats; the event's id (default bench-arena; another event
-- made the same way). No response() callback (a cheap client): bench/run.sh checks that no
-- answer was a non-2xx through wrk's own count.
local SEATS_PER_ROW = 1000
local SEATS_TOTAL = 1000000
local headers = { ["Content-Type"] = "application/json" }
local next_index = 0
local body_head = '{"event_id":"bench-arena","seat_id":"'

-- Row label of row i (0-based): bijective base 26, as bench/run.sh names the rows.
local function row_label(i)
   local label, n = "", i + 1
   while n > 0 do
      n = n - 1
      label = string.char(65 + n % 26) .. label
      n = math.floor(n / 26)
   end
   return label
end

function init(args)
   next_index = tonumber(args[1] or "0") or 0
   body_head = '{"event_id":"' .. (args[2] or "bench-arena") .. '","seat_id":"'
end

function request()
   local index = next_index % SEATS_TOTAL
   next_index = next_index + 1
   local seat = row_label(math.floor(index / SEATS_PER_ROW)) ..
      string.format("%d", index % SEATS_PER_ROW + 1)
   -- one buyer per seat: tix limits the seats one buyer may hold in an event
   local body = body_head .. seat .. '","user_id":"buyer' ..
      string.format("%d", index) .. '"}'
   return wrk.format("POST", "/reserve", headers, body)
end
